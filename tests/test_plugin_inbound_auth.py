"""Inbound auth plugins end to end (dsl.md 18): jwtValidate:v1, apiKeyValidate:v1 and mtlsValidate:v1 read the
request given by `--header` / `--client-cert` on run and signal, with real keys and certificates generated here;
failures are Problem Details in context (the run goes on); credentials never reach context, history or store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from auth_material import certificate, jwks_file, pem, rsa_key, token
from conftest import jsonata, run_jctl, write_journey

API_KEY = "k3y-partner-a-1234"


def jctl(tmp_path: Path, *args: str, code: int = 0) -> Any:
    result = run_jctl(*args, cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db"),
                                                "JCTL_PLUGIN_CONFIG": str(tmp_path / "plugins.yaml"),
                                                "JCTL_SECRETS": str(tmp_path / "secrets.yaml")})
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    return result


def auth_journey(tmp_path: Path, task: dict[str, Any]) -> Path:
    return write_journey(tmp_path, {"check": {"type": "task", "task": task, "next": "done"},
                                    "done": {"type": "succeed"}}, "check")


def configure(tmp_path: Path, plugins: dict[str, Any], secrets: dict[str, str] | None = None) -> None:
    (tmp_path / "plugins.yaml").write_text(yaml.safe_dump(plugins))
    (tmp_path / "secrets.yaml").write_text(yaml.safe_dump(secrets or {}))


def run(tmp_path: Path, spec: Path, *args: str) -> Any:
    return json.loads(jctl(tmp_path, "run", str(spec), "--format", "json", *args).stdout)


def no_credential_stored(tmp_path: Path, *secrets: str) -> None:
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("jctl.db*"))
    for secret in secrets:
        assert secret.encode() not in stored


# -- jwtValidate:v1 ------------------------------------------------------------------------------------------------

@pytest.fixture
def jwt_setup(tmp_path: Path) -> tuple[Path, Any]:
    key = rsa_key()
    jwks_file(tmp_path / "jwks.json", key, "k1")
    configure(tmp_path, {"jwtValidate": {"profiles": {"default": {
        "jwksFile": "jwks.json", "issuer": "https://issuer.test", "audience": "orders", "algorithms": ["RS256"],
        "requiredScopes": ["orders:read"],
        "source": {"location": "header", "name": "Authorization", "scheme": "Bearer"}}}}})
    spec = auth_journey(tmp_path, {"kind": "jwtValidate:v1"})
    jctl(tmp_path, "clock", "set", "2030-01-01T00:00:00Z")
    return spec, key


def claims(**extra: Any) -> dict[str, Any]:
    base = {"sub": "u1", "iss": "https://issuer.test", "aud": "orders", "scope": "orders:read profile",
            "exp": 1893456000 + 3600, "nbf": 1893456000 - 60}  # 2030-01-01T00:00Z +1h / -1min
    return {**base, **extra}


def test_jwt_valid_token_projects_header_and_claims(tmp_path: Path, jwt_setup: tuple[Path, Any]) -> None:
    spec, key = jwt_setup
    raw = token(key, claims())
    out = run(tmp_path, spec, "--header", f"Authorization=Bearer {raw}")["output"]
    assert out["auth"]["jwt"]["claims"]["sub"] == "u1" and "problem" not in out["auth"]["jwt"]
    assert out["auth"]["jwt"]["header"] == {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    no_credential_stored(tmp_path, raw)


@pytest.mark.parametrize(("make", "code"), [
    (lambda key: None, "JWT_TOKEN_MISSING"),
    (lambda key: "not.a.jwt", "JWT_TOKEN_MALFORMED"),
    (lambda key: token(rsa_key(), claims()), "JWT_SIG_INVALID"),
    (lambda key: token(key, claims(), kid="other"), "JWT_KID_NOT_FOUND"),
    (lambda key: token(key, claims(exp=1893456000 - 1)), "JWT_EXPIRED"),
    (lambda key: token(key, claims(nbf=1893456000 + 600)), "JWT_NOT_YET_VALID"),
    (lambda key: token(key, claims(aud="billing")), "JWT_AUDIENCE_MISMATCH"),
    (lambda key: token(key, claims(iss="https://evil.test")), "JWT_ISSUER_MISMATCH"),
    (lambda key: token(key, claims(scope="profile")), "JWT_CLAIMS_INVALID"),
])
def test_jwt_failures_are_problems_in_context(tmp_path: Path, jwt_setup: tuple[Path, Any], make: Any,
                                              code: str) -> None:
    spec, key = jwt_setup
    raw = make(key)
    envelope = run(tmp_path, spec, *(["--header", f"Authorization=Bearer {raw}"] if raw else []))
    assert envelope["phase"] == "SUCCEEDED"  # a business failure does not fail the run
    jwt_view = envelope["output"]["auth"]["jwt"]
    assert set(jwt_view) == {"problem"} and jwt_view["problem"]["code"] == code
    assert jwt_view["problem"]["type"].startswith("https://journeyforge.dev/problem/plugins/jwt/")


def test_jwt_expiry_follows_the_simulated_clock(tmp_path: Path, jwt_setup: tuple[Path, Any]) -> None:
    spec, key = jwt_setup
    header = f"Authorization=Bearer {token(key, claims())}"
    assert "claims" in run(tmp_path, spec, "--header", header)["output"]["auth"]["jwt"]
    jctl(tmp_path, "clock", "advance", "PT2H")
    assert run(tmp_path, spec, "--header", header)["output"]["auth"]["jwt"]["problem"]["code"] == "JWT_EXPIRED"


def test_jwt_missing_profile_is_a_configuration_failure(tmp_path: Path, jwt_setup: tuple[Path, Any]) -> None:
    spec = auth_journey(tmp_path, {"kind": "jwtValidate:v1", "profile": "nope"})
    envelope = json.loads(jctl(tmp_path, "run", str(spec), "--format", "json", code=1).stdout)
    assert envelope["error"]["code"] == "JWT_CONFIG_PROFILE_MISSING"


# -- apiKeyValidate:v1 ---------------------------------------------------------------------------------------------

def test_api_key_on_run_and_signal(tmp_path: Path) -> None:
    configure(tmp_path, {"apiKeyValidate": {"profiles": {"default": {
        "source": {"location": "header", "name": "X-Api-Key"}, "keys": {"partner-a": "secret://apikeys/a"}}}}},
              {"secret://apikeys/a": API_KEY})
    spec = write_journey(tmp_path, {
        "wait": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                 "next": "check"},
        "check": {"type": "task", "task": {"kind": "apiKeyValidate:v1", "authVar": "caller"}, "next": "route"},
        "route": {"type": "choice", "choices": [
            {"when": {"predicate": jsonata("$exists(caller.apiKey.keyId)")}, "next": "done"}], "default": "wait"},
        "done": {"type": "succeed"}}, "wait")
    started = run(tmp_path, spec)
    wrong = json.loads(jctl(tmp_path, "signal", started["journeyId"], "--payload", "{}", "--header",
                            "X-Api-Key=wrong-key", "--format", "json").stdout)
    assert wrong["phase"] == "RUNNING"  # routed back to the wait
    missing = json.loads(jctl(tmp_path, "signal", started["journeyId"], "--payload", "{}", "--format", "json").stdout)
    assert missing["phase"] == "RUNNING"
    ok = json.loads(jctl(tmp_path, "signal", started["journeyId"], "--payload", "{}", "--header",
                         f"x-api-key={API_KEY}", "--format", "json").stdout)
    assert ok["phase"] == "SUCCEEDED" and ok["output"]["caller"]["apiKey"] == {"keyId": "partner-a"}
    history = jctl(tmp_path, "history", started["journeyId"], "--format", "json").stdout
    outcomes = [e["data"]["auth"]["outcome"] for e in json.loads(history) if "auth" in e.get("data", {})]
    assert outcomes == ["APIKEY_INVALID", "APIKEY_MISSING", "ok"]
    assert API_KEY not in history
    no_credential_stored(tmp_path, API_KEY)


def test_bad_header_flag_is_a_usage_error(tmp_path: Path) -> None:
    configure(tmp_path, {})
    spec = auth_journey(tmp_path, {"kind": "apiKeyValidate:v1"})
    result = jctl(tmp_path, "run", str(spec), "--header", "no-equals-sign", code=2)
    assert "NAME=VALUE" in result.stderr


# -- mtlsValidate:v1 -----------------------------------------------------------------------------------------------

@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    ca_key, ca = certificate("Test Root", None, None, ca=True)
    _, leaf = certificate("client-a", ca_key, "Test Root", ca=False, sans=["client-a.test"])
    rogue_key, rogue_ca = certificate("Rogue Root", None, None, ca=True)
    _, rogue = certificate("client-a", rogue_key, "Rogue Root", ca=False, sans=["client-a.test"])
    (tmp_path / "root.pem").write_bytes(pem(ca))
    (tmp_path / "client.pem").write_bytes(pem(leaf))
    (tmp_path / "rogue.pem").write_bytes(pem(rogue))
    configure(tmp_path, {"mtlsValidate": {"profiles": {"default": {"trustAnchorFiles": ["root.pem"]}}}})
    return {"leaf": leaf}


@pytest.mark.parametrize(("task", "cert", "expected"), [
    ({}, "client.pem", "ok"),
    ({"allowSans": [{"dns": "client-a.test"}]}, "client.pem", "ok"),
    ({"allowSans": [{"dns": "other.test"}]}, "client.pem", "MTLS_SAN_DENIED"),
    ({"allowSubjects": ["CN=client-b,O=Example"]}, "client.pem", "MTLS_SUBJECT_DENIED"),
    ({"allowSerials": ["01"]}, "client.pem", "MTLS_SERIAL_DENIED"),
    ({"allowAnyFromTrusted": False}, "client.pem", "MTLS_SUBJECT_DENIED"),
    ({}, "rogue.pem", "MTLS_CERT_UNTRUSTED"),
    ({}, None, "MTLS_CERT_MISSING"),
    ({}, "plugins.yaml", "MTLS_CERT_UNPARSEABLE"),
])
def test_mtls_chain_and_filters(tmp_path: Path, pki: dict[str, Any], task: dict[str, Any], cert: str | None,
                                expected: str) -> None:
    spec = auth_journey(tmp_path, {"kind": "mtlsValidate:v1", **task})
    envelope = run(tmp_path, spec, *(["--client-cert", str(tmp_path / cert)] if cert else []))
    view = envelope["output"]["auth"]["mtls"]
    if expected == "ok":
        assert view["subjectDn"] == "CN=client-a,O=Example" and "problem" not in view
        assert view["issuerDn"] == "CN=Test Root,O=Example" and len(view["fingerprintSha256"]) == 64
    else:
        assert set(view) == {"problem"} and view["problem"]["code"] == expected
