"""mtlsClient outbound auth (dsl.md 19) end to end: certificates generated here (a CA, the server's, a client's,
and a stranger's), a real HTTPS server that requires a client certificate, and journeys whose httpCall:v1 presents
the certificate the local secrets file names."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from conftest import run_jctl, write_journey
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class Issued(NamedTuple):
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def issue(cn: str, issuer: Issued | None, *, usage: Any = None, sans: list[x509.GeneralName] = ()) -> Issued:
    """A certificate for `cn`, self-signed as a CA when `issuer` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.cert.subject if issuer else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start)
               .not_valid_after(start + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True))
    if issuer is None:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.key.public_key()), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return Issued(key, builder.sign(issuer.key if issuer else key, hashes.SHA256()))


def write_pem(path: Path, issued: Issued, *, with_key: bool = True) -> Path:
    text = issued.cert.public_bytes(serialization.Encoding.PEM)
    if with_key:
        text += issued.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
    path.write_bytes(text)
    return path


class Pki(NamedTuple):
    ca: Path
    client: Issued
    client_pem: Path  # certificate and key in one file
    client_cert: Path  # the same, as two files
    client_key: Path
    stranger_pem: Path  # signed by a CA the server does not trust
    server_context: ssl.SSLContext


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca, rogue = issue("Test Root", None), issue("Rogue Root", None)
    server = issue("localhost", ca, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                   sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client = issue("orders-client", ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    stranger = issue("orders-client", rogue, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    ca_path = write_pem(folder / "ca.pem", ca, with_key=False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(write_pem(folder / "server.pem", server))
    context.load_verify_locations(cafile=ca_path)
    context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no handshake
    key_path = folder / "client.key"
    key_path.write_bytes(client.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return Pki(ca_path, client, write_pem(folder / "client.pem", client),
               write_pem(folder / "client-cert.pem", client, with_key=False), key_path,
               write_pem(folder / "stranger.pem", stranger), context)


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[tuple[HTTPServer, list[str]]]:
    """An HTTPS server that answers with the subject of the client certificate it verified."""
    server = HTTPServer(ssl_context=pki.server_context)
    presented: list[str] = []

    def orders(request: Request) -> Response:
        pem = request.environ.get("SSL_CLIENT_CERT")
        subject = x509.load_pem_x509_certificate(pem.encode()).subject.rfc4514_string() if pem else ""
        presented.append(subject)
        return Response(json.dumps({"orders": [1, 2]}), content_type="application/json")

    server.expect_request("/orders").respond_with_handler(orders)
    server.start()
    yield server, presented
    server.clear()
    if server.is_running():
        server.stop()


def jctl(tmp_path: Path, *args: str, code: int = 0) -> Any:
    result = run_jctl(*args, cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db")})
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == code, result.stdout + result.stderr
    return result


def journey(tmp_path: Path, url: str, anchors: list[str], cert_ref: str = "secret://certs/orders") -> Path:
    policy = {"kind": "mtlsClient", "clientCertRef": cert_ref, "trustAnchors": [{"pemRef": a} for a in anchors]}
    return write_journey(tmp_path, {
        "call": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": url,
                                          "auth": {"policyRef": "backend"}, "resultVar": "orders"}, "next": "done"},
        "done": {"type": "succeed"}}, "call", policies={"httpClientAuth": {"definitions": {"backend": policy}}})


def run(tmp_path: Path, spec: Path, secret: str, code: int = 0) -> dict[str, Any]:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(json.dumps({"secret://certs/orders": secret}))
    result = jctl(tmp_path, "run", str(spec), "--secrets", str(secrets), "--format", "json", code=code)
    assert secret not in result.stdout + result.stderr  # the secret (a path) is never shown
    envelope: dict[str, Any] = json.loads(result.stdout)
    return envelope


@pytest.mark.parametrize("layout", ["one file", "cert|key"])
def test_the_call_presents_the_client_certificate(tmp_path: Path, pki: Pki, tls_server: Any, layout: str) -> None:
    server, presented = tls_server
    secret = str(pki.client_pem) if layout == "one file" else f"{pki.client_cert}|{pki.client_key}"
    outcome = run(tmp_path, journey(tmp_path, server.url_for("/orders"), [str(pki.ca)]), secret)
    assert outcome["phase"] == "SUCCEEDED", outcome
    assert outcome["output"]["orders"]["status"] == 200 and outcome["output"]["orders"]["body"] == {"orders": [1, 2]}
    assert presented == ["CN=orders-client"]  # the server verified this certificate against its CA
    events = json.loads(jctl(tmp_path, "history", outcome["journeyId"], "--format", "json").stdout)
    [record] = [e["data"]["http"] for e in events if "http" in e["data"]]
    assert record["auth"] == {"policy": "backend", "kind": "mtlsClient"}
    assert str(pki.client_key) not in json.dumps(events)


def test_a_certificate_the_server_does_not_trust_fails_the_handshake(tmp_path: Path, pki: Pki,
                                                                      tls_server: Any) -> None:
    server, presented = tls_server
    outcome = run(tmp_path, journey(tmp_path, server.url_for("/orders"), [str(pki.ca)]), str(pki.stranger_pem))
    assert outcome["phase"] == "SUCCEEDED"  # the journey sees the failed call in its result and decides
    result = outcome["output"]["orders"]
    assert result["ok"] is False and result["error"]["type"] == "NETWORK" and "status" not in result
    assert presented == []


def test_without_a_client_certificate_the_server_refuses(tmp_path: Path, pki: Pki, tls_server: Any) -> None:
    server, presented = tls_server
    spec = write_journey(tmp_path, {
        "call": {"type": "task", "task": {"kind": "httpCall:v1", "method": "GET", "url": server.url_for("/orders"),
                                          "resultVar": "orders"}, "next": "done"},
        "done": {"type": "succeed"}}, "call")
    outcome = json.loads(jctl(tmp_path, "run", str(spec), "--format", "json").stdout)
    assert outcome["output"]["orders"]["error"]["type"] == "NETWORK" and presented == []


def test_a_server_outside_the_trust_anchors_is_not_called(tmp_path: Path, pki: Pki, tls_server: Any) -> None:
    server, presented = tls_server
    rogue_anchor = write_pem(tmp_path / "rogue.pem", issue("Other Root", None), with_key=False)
    outcome = run(tmp_path, journey(tmp_path, server.url_for("/orders"), [str(rogue_anchor)]), str(pki.client_pem))
    error = outcome["output"]["orders"]["error"]
    assert error["type"] == "NETWORK" and "CERTIFICATE_VERIFY_FAILED" in error["message"] and presented == []


def test_a_missing_or_unreadable_certificate_fails_the_task_with_its_code(tmp_path: Path, pki: Pki,
                                                                           tls_server: Any) -> None:
    server, presented = tls_server
    spec = journey(tmp_path, server.url_for("/orders"), [str(pki.ca)])
    missing = run(tmp_path, spec, str(tmp_path / "absent.pem"), code=1)
    assert missing["error"]["code"] == "OUTBOUND_AUTH_FAILED"
    assert "secret://certs/orders" in missing["error"]["reason"]
    no_key = run(tmp_path, spec, str(pki.client_cert), code=1)  # a certificate without its key
    assert no_key["error"]["code"] == "OUTBOUND_AUTH_FAILED"
    unknown = run(tmp_path, journey(tmp_path, server.url_for("/orders"), [str(pki.ca)], "secret://certs/nope"),
                  str(pki.client_pem), code=1)
    assert unknown["error"]["code"] == "SECRET_NOT_FOUND" and "secret://certs/nope" in unknown["error"]["reason"]
    assert presented == []


def test_the_http_body_limit_holds_for_certificate_clients_too(tmp_path: Path, pki: Pki, tls_server: Any) -> None:
    server, _ = tls_server
    server.expect_request("/big").respond_with_data("x" * 5000, content_type="text/plain")
    (tmp_path / "secrets.yaml").write_text(json.dumps({"secret://certs/orders": str(pki.client_pem)}))
    spec = journey(tmp_path, server.url_for("/big"), [str(pki.ca)])
    result = run_jctl("run", str(spec), "--secrets", str(tmp_path / "secrets.yaml"), "--format", "json",
                      cwd=tmp_path, env={"JCTL_DB": str(tmp_path / "jctl.db"), "JCTL_LIMIT_HTTP_BODY": "1KB"})
    error = json.loads(result.stdout)["output"]["orders"]["error"]
    assert error["type"] == "RESPONSE_TOO_LARGE", error
