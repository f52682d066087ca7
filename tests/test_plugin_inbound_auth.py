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
from conftest import PluginCli, jsonata, write_journey

API_KEY = "k3y-partner-a-1234"


def auth_journey(folder: Path, task: dict[str, Any]) -> Path:
    return write_journey(folder, {"check": {"type": "task", "task": task, "next": "done"},
                                  "done": {"type": "succeed"}}, "check")


def run(cli: PluginCli, spec: Path, *args: str) -> Any:
    return cli.json("run", str(spec), *args)


# -- jwtValidate:v1 ------------------------------------------------------------------------------------------------

def jwt_workspace(folder: Path) -> tuple[PluginCli, Path, Any]:
    cli, key = PluginCli(folder), rsa_key()
    jwks_file(folder / "jwks.json", key, "k1")
    cli.configure({"jwtValidate": {"profiles": {"default": {
        "jwksFile": "jwks.json", "issuer": "https://issuer.test", "audience": "orders", "algorithms": ["RS256"],
        "requiredScopes": ["orders:read"],
        "source": {"location": "header", "name": "Authorization", "scheme": "Bearer"}}}}})
    spec = auth_journey(folder, {"kind": "jwtValidate:v1"})
    cli("clock", "set", "2030-01-01T00:00:00Z")
    return cli, spec, key


@pytest.fixture(scope="module")
def jwt_shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[PluginCli, Path, Any]:
    """One key, configuration and store for the tests that never move its clock."""
    return jwt_workspace(tmp_path_factory.mktemp("jwt"))


@pytest.fixture
def jwt_setup(tmp_path: Path) -> tuple[PluginCli, Path, Any]:
    return jwt_workspace(tmp_path)


def claims(**extra: Any) -> dict[str, Any]:
    base = {"sub": "u1", "iss": "https://issuer.test", "aud": "orders", "scope": "orders:read profile",
            "exp": 1893456000 + 3600, "nbf": 1893456000 - 60}  # 2030-01-01T00:00Z +1h / -1min
    return {**base, **extra}


def test_jwt_valid_token_projects_header_and_claims(jwt_shared: tuple[PluginCli, Path, Any]) -> None:
    cli, spec, key = jwt_shared
    raw = token(key, claims())
    out = run(cli, spec, "--header", f"Authorization=Bearer {raw}")["output"]
    assert out["auth"]["jwt"]["claims"]["sub"] == "u1" and "problem" not in out["auth"]["jwt"]
    assert out["auth"]["jwt"]["header"] == {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    cli.assert_never_stored(raw)


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
def test_jwt_failures_are_problems_in_context(jwt_shared: tuple[PluginCli, Path, Any], make: Any,
                                              code: str) -> None:
    cli, spec, key = jwt_shared
    raw = make(key)
    envelope = run(cli, spec, *(["--header", f"Authorization=Bearer {raw}"] if raw else []))
    assert envelope["phase"] == "SUCCEEDED"  # a business failure does not fail the run
    jwt_view = envelope["output"]["auth"]["jwt"]
    assert set(jwt_view) == {"problem"} and jwt_view["problem"]["code"] == code
    assert jwt_view["problem"]["type"].startswith("https://journeyforge.dev/problem/plugins/jwt/")


def test_jwt_expiry_follows_the_simulated_clock(jwt_setup: tuple[PluginCli, Path, Any]) -> None:
    cli, spec, key = jwt_setup  # a store of its own: it moves the clock
    header = f"Authorization=Bearer {token(key, claims())}"
    assert "claims" in run(cli, spec, "--header", header)["output"]["auth"]["jwt"]
    cli("clock", "advance", "PT2H")
    assert run(cli, spec, "--header", header)["output"]["auth"]["jwt"]["problem"]["code"] == "JWT_EXPIRED"


def test_jwt_missing_profile_is_a_configuration_failure(tmp_path: Path,
                                                         jwt_shared: tuple[PluginCli, Path, Any]) -> None:
    cli, _, _ = jwt_shared
    spec = auth_journey(tmp_path, {"kind": "jwtValidate:v1", "profile": "nope"})
    envelope = cli.json("run", str(spec), code=1)
    assert envelope["error"]["code"] == "JWT_CONFIG_PROFILE_MISSING"


# -- apiKeyValidate:v1 ---------------------------------------------------------------------------------------------

def test_api_key_on_run_and_signal(plugin_cli: PluginCli) -> None:
    cli = plugin_cli
    cli.configure({"apiKeyValidate": {"profiles": {"default": {
        "source": {"location": "header", "name": "X-Api-Key"}, "keys": {"partner-a": "secret://apikeys/a"}}}}},
              {"secret://apikeys/a": API_KEY})
    spec = write_journey(cli.folder, {
        "wait": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                 "next": "check"},
        "check": {"type": "task", "task": {"kind": "apiKeyValidate:v1", "authVar": "caller"}, "next": "route"},
        "route": {"type": "choice", "choices": [
            {"when": {"predicate": jsonata("$exists(caller.apiKey.keyId)")}, "next": "done"}], "default": "wait"},
        "done": {"type": "succeed"}}, "wait")
    started = run(cli, spec)
    wrong = cli.json("signal", started["journeyId"], "--payload", "{}", "--header", "X-Api-Key=wrong-key")
    assert wrong["phase"] == "RUNNING"  # routed back to the wait
    missing = cli.json("signal", started["journeyId"], "--payload", "{}")
    assert missing["phase"] == "RUNNING"
    ok = cli.json("signal", started["journeyId"], "--payload", "{}", "--header", f"x-api-key={API_KEY}")
    assert ok["phase"] == "SUCCEEDED" and ok["output"]["caller"]["apiKey"] == {"keyId": "partner-a"}
    history = cli("history", started["journeyId"], "--format", "json").stdout
    outcomes = [e["data"]["auth"]["outcome"] for e in json.loads(history) if "auth" in e.get("data", {})]
    assert outcomes == ["APIKEY_INVALID", "APIKEY_MISSING", "ok"]
    assert API_KEY not in history
    cli.assert_never_stored(API_KEY)


def test_bad_header_flag_is_a_usage_error(plugin_cli: PluginCli) -> None:
    plugin_cli.configure({})
    spec = auth_journey(plugin_cli.folder, {"kind": "apiKeyValidate:v1"})
    result = plugin_cli("run", str(spec), "--header", "no-equals-sign", code=2)
    assert "NAME=VALUE" in result.stderr


# -- mtlsValidate:v1 -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PluginCli:
    """A trusted root with its client certificate and a rogue one of the same name, made once for the module."""
    cli = PluginCli(tmp_path_factory.mktemp("pki"))
    ca_key, ca = certificate("Test Root", None, None, ca=True)
    _, leaf = certificate("client-a", ca_key, "Test Root", ca=False, sans=["client-a.test"])
    rogue_key, rogue_ca = certificate("Rogue Root", None, None, ca=True)
    _, rogue = certificate("client-a", rogue_key, "Rogue Root", ca=False, sans=["client-a.test"])
    (cli.folder / "root.pem").write_bytes(pem(ca))
    (cli.folder / "client.pem").write_bytes(pem(leaf))
    (cli.folder / "rogue.pem").write_bytes(pem(rogue))
    cli.configure({"mtlsValidate": {"profiles": {"default": {"trustAnchorFiles": ["root.pem"]}}}})
    return cli


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
def test_mtls_chain_and_filters(tmp_path: Path, pki: PluginCli, task: dict[str, Any], cert: str | None,
                                expected: str) -> None:
    spec = auth_journey(tmp_path, {"kind": "mtlsValidate:v1", **task})  # the spec apart, the store shared
    envelope = run(pki, spec, *(["--client-cert", str(pki.folder / cert)] if cert else []))
    view = envelope["output"]["auth"]["mtls"]
    if expected == "ok":
        assert view["subjectDn"] == "CN=client-a,O=Example" and "problem" not in view
        assert view["issuerDn"] == "CN=Test Root,O=Example" and len(view["fingerprintSha256"]) == 64
    else:
        assert set(view) == {"problem"} and view["problem"]["code"] == expected
