"""Corpus journeys that use task plugins, run end to end with a local plugin config, secrets and mocks written
here. Skipped when ../shared/corpus is absent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import run_jctl

WEBHOOK_SECRET = "whsec-local-test-value"


def jctl(tmp_path: Path, *args: str, code: int = 0) -> Any:
    result = run_jctl(*args, cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db"),
                                                "JCTL_PLUGIN_CONFIG": str(tmp_path / "plugins.yaml"),
                                                "JCTL_SECRETS": str(tmp_path / "secrets.yaml")})
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_payment_callback_checks_the_webhook_secret(corpus_dir: Path, tmp_path: Path) -> None:
    spec = corpus_dir / "examples/technical/payment-callback/payment-callback.journey.yaml"
    (tmp_path / "mocks.yaml").write_text("mocks:\n  - match: {operationRef: payments.authorizePayment}\n"
                                         "    respond: {status: 200, body: {status: PENDING}}\n")
    (tmp_path / "plugins.yaml").write_text("apiKeyValidate:\n  profiles:\n    payments-callback:\n"
                                           "      keys: {provider: 'secret://webhooks/payments'}\n")
    (tmp_path / "secrets.yaml").write_text(f"secret://webhooks/payments: {WEBHOOK_SECRET}\n")
    started = jctl(tmp_path, "run", str(spec), "--input", '{"paymentId": "p1", "amount": 5, "currency": "EUR"}',
                   "--mocks", str(tmp_path / "mocks.yaml"), "--format", "json")
    assert started["currentState"] == "waitForCallback"
    payload = '{"paymentId": "p1", "status": "SUCCESS"}'
    denied = jctl(tmp_path, "signal", started["journeyId"], "--payload", payload, "--header",
                  "X-Webhook-Secret=wrong", "--format", "json")
    assert denied["phase"] == "RUNNING" and denied["currentState"] == "waitForCallback"
    accepted = jctl(tmp_path, "signal", started["journeyId"], "--payload", payload, "--header",
                    f"X-Webhook-Secret={WEBHOOK_SECRET}", "--format", "json")
    assert accepted["phase"] == "SUCCEEDED" and accepted["output"]["status"] == "SUCCESS"
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("jctl.db*"))
    assert WEBHOOK_SECRET.encode() not in stored
