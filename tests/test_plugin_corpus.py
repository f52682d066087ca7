"""Corpus journeys that use task plugins, run end to end with a local plugin config, secrets and mocks written
here. Skipped when ../shared/corpus is absent."""

from __future__ import annotations

from pathlib import Path

from conftest import PluginCli

WEBHOOK_SECRET = "whsec-local-test-value"


def test_payment_callback_checks_the_webhook_secret(corpus_dir: Path, plugin_cli: PluginCli) -> None:
    spec = corpus_dir / "examples/technical/payment-callback/payment-callback.journey.yaml"
    mocks = plugin_cli.folder / "mocks.yaml"
    mocks.write_text("mocks:\n  - match: {operationRef: payments.authorizePayment}\n"
                     "    respond: {status: 200, body: {status: PENDING}}\n")
    plugin_cli.configure({"apiKeyValidate": {"profiles": {"payments-callback": {
        "keys": {"provider": "secret://webhooks/payments"}}}}}, {"secret://webhooks/payments": WEBHOOK_SECRET})
    started = plugin_cli.json("run", str(spec), "--input", '{"paymentId": "p1", "amount": 5, "currency": "EUR"}',
                              "--mocks", str(mocks))
    assert started["currentState"] == "waitForCallback"
    payload = '{"paymentId": "p1", "status": "SUCCESS"}'
    denied = plugin_cli.json("signal", started["journeyId"], "--payload", payload, "--header",
                             "X-Webhook-Secret=wrong")
    assert denied["phase"] == "RUNNING" and denied["currentState"] == "waitForCallback"
    accepted = plugin_cli.json("signal", started["journeyId"], "--payload", payload, "--header",
                               f"X-Webhook-Secret={WEBHOOK_SECRET}")
    assert accepted["phase"] == "SUCCEEDED" and accepted["output"]["status"] == "SUCCESS"
    plugin_cli.assert_never_stored(WEBHOOK_SECRET)
