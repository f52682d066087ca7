"""Corpus journeys that use task plugins, run end to end with a local plugin config, secrets and mocks written
here. Skipped when ../shared/corpus is absent."""

from __future__ import annotations

import json
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


COOKIE_MOCKS = """mocks:
  - match: {method: POST, url: "https://api.example.com/login"}
    respond:
      status: 200
      headers:
        Set-Cookie: ["session=sess-value-1; Path=/; Secure; HttpOnly", "theme=dark; Path=/",
                     "tracker=t1; Domain=ads.example.org"]
      body: {}
  - match: {method: GET, url: "https://api.example.com/profile"}
    respond: {status: 200, body: {name: Ada}}
"""


def test_http_cookie_jar_sends_the_login_cookies_and_returns_the_session(corpus_dir: Path,
                                                                         plugin_cli: PluginCli) -> None:
    spec = corpus_dir / "examples/technical/http-cookie-jar/http-cookie-jar.journey.yaml"
    mocks = plugin_cli.folder / "mocks.yaml"
    mocks.write_text(COOKIE_MOCKS)
    plugin_cli.configure({})
    outcome = plugin_cli.json("run", str(spec), "--mocks", str(mocks))
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"]["body"] == {"name": "Ada"}
    # returnToClient `filtered` on names [session]: only the session cookie, its value masked in output
    assert outcome["setCookie"] == ["session=***; Domain=api.example.com; Path=/; Secure; HttpOnly"]
    history = plugin_cli.json("history", outcome["journeyId"])
    calls = {e["state"]: e["data"]["http"] for e in history if "http" in e["data"]}
    assert calls["login"]["cookies"] == {"stored": ["session", "theme"], "discarded": ["tracker"]}
    assert calls["getProfile"]["cookies"] == {"attached": ["session", "theme"]}
    assert calls["getProfile"]["headers"]["Cookie"] == "***"
    assert "sess-value-1" not in json.dumps(history)
