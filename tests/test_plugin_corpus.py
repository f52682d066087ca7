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


def test_http_cookie_jar_sends_the_login_cookies_and_returns_the_session(corpus_dir: Path, tmp_path: Path) -> None:
    spec = corpus_dir / "examples/technical/http-cookie-jar/http-cookie-jar.journey.yaml"
    (tmp_path / "mocks.yaml").write_text(COOKIE_MOCKS)
    for empty in ("plugins.yaml", "secrets.yaml"):
        (tmp_path / empty).write_text("{}\n")
    outcome = jctl(tmp_path, "run", str(spec), "--mocks", str(tmp_path / "mocks.yaml"), "--format", "json")
    assert outcome["phase"] == "SUCCEEDED" and outcome["output"]["body"] == {"name": "Ada"}
    # returnToClient `filtered` on names [session]: only the session cookie, its value masked in output
    assert outcome["setCookie"] == ["session=***; Domain=api.example.com; Path=/; Secure; HttpOnly"]
    history = jctl(tmp_path, "history", outcome["journeyId"], "--format", "json")
    calls = {e["state"]: e["data"]["http"] for e in history if "http" in e["data"]}
    assert calls["login"]["cookies"] == {"stored": ["session", "theme"], "discarded": ["tracker"]}
    assert calls["getProfile"]["cookies"] == {"attached": ["session", "theme"]}
    assert calls["getProfile"]["headers"]["Cookie"] == "***"
    assert "sess-value-1" not in json.dumps(history)
