"""Outbound HTTP auth (dsl.md 19): the `auth.policyRef` of an httpCall:v1 task, resolved against
spec.policies.httpClientAuth with secrets from the local secrets file. bearerStatic adds a token; oauth2
ClientCredentials fetches a token from the token endpoint (through the same HTTP client, so mocks can answer it),
caches it per effective request until shortly before it expires, and on a 401 discards it, fetches a fresh one
once and retries the call once; mtlsClient sends the call with a client certificate."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jctl.secrets import SecretError, Secrets
from jctl.tasks.http import HttpCall, HttpClient, HttpOutcome, execute, set_header

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

EXPIRY_SKEW = timedelta(seconds=30)
DEFAULT_LIFETIME = timedelta(minutes=5)  # a token response without expires_in


class AuthError(Exception):
    """The policy cannot be applied (unknown policy, missing secret, token endpoint failure)."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class TokenCache:
    """Access tokens per effective token request, shared by every instance a runner drives (in memory only:
    tokens are never written to the store)."""

    tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    fetches: int = 0


@dataclass
class OutboundAuth:
    spec: dict[str, Any]
    secrets: Secrets
    now: Callable[[], datetime]
    cache: TokenCache
    mtls_client: Callable[[dict[str, Any]], HttpClient] | None = None  # a client presenting a certificate

    def execute(self, task: dict[str, Any], call: HttpCall, client: HttpClient) -> HttpOutcome:
        """Send `call` with the task's policy applied (plain when the task has no `auth.policyRef`)."""
        policy_id = (task.get("auth") or {}).get("policyRef") if isinstance(task.get("auth"), dict) else None
        if not policy_id:
            return execute(call, client)
        policy = self._policy(str(policy_id))
        kind = policy.get("kind")
        try:
            if kind == "bearerStatic":
                set_header(call.headers, "Authorization", "Bearer " + self.secrets.resolve(policy.get("tokenRef")))
                return self._noted(execute(call, client), policy_id, kind)
            if kind == "oauth2ClientCredentials":
                return self._oauth2(str(policy_id), policy, call, client)
            if kind == "mtlsClient":
                if self.mtls_client is None:
                    return self._noted(execute(call, client), policy_id, kind, mocked=True)
                return self._noted(execute(call, self.mtls_client(self._certificate(policy))), policy_id, kind)
        except SecretError as exc:
            raise AuthError("SECRET_NOT_FOUND", f"auth policy {policy_id}: {exc}") from None
        raise AuthError("INVALID_SPEC", f"auth policy {policy_id} has unknown kind {kind!r}")

    def _policy(self, policy_id: str) -> dict[str, Any]:
        definitions = (((self.spec.get("policies") or {}).get("httpClientAuth") or {}).get("definitions") or {})
        policy = definitions.get(policy_id)
        if not isinstance(policy, dict):
            raise AuthError("INVALID_SPEC", f"auth.policyRef {policy_id!r} is not in "
                            f"spec.policies.httpClientAuth.definitions")
        return policy

    def _certificate(self, policy: dict[str, Any]) -> dict[str, Any]:
        """The client certificate: the secret's value is a PEM file holding certificate and key (or a
        `cert|key` pair of paths); trust anchors are PEM files relative to the working directory."""
        ref = policy.get("clientCertRef")
        cert, _, key = self.secrets.resolve(ref).partition("|")
        anchors = [str(a.get("pemRef")) for a in policy.get("trustAnchors") or [] if isinstance(a, dict)]
        return {"ref": ref, "cert": cert, "key": key or None, "trustAnchors": anchors}

    def _oauth2(self, policy_id: str, policy: dict[str, Any], call: HttpCall, client: HttpClient) -> HttpOutcome:
        key = json.dumps([policy_id, policy.get("tokenEndpoint"), (policy.get("auth") or {}).get("method"),
                          policy.get("form")], sort_keys=True, default=str)
        original = dict(call.headers)
        set_header(call.headers, "Authorization", "Bearer " + self._token(key, policy, client))
        outcome = execute(call, client)
        if outcome.result.get("status") != 401:
            return self._noted(outcome, policy_id, "oauth2ClientCredentials")
        self.cache.tokens.pop(key, None)  # one refresh and one retry, never more (dsl.md 19.1)
        call.headers = original
        set_header(call.headers, "Authorization", "Bearer " + self._token(key, policy, client))
        retried = execute(call, client)
        return self._noted(retried, policy_id, "oauth2ClientCredentials", refreshedAfter401=True,
                           first={"status": 401})

    def _token(self, key: str, policy: dict[str, Any], client: HttpClient) -> str:
        cached = self.cache.tokens.get(key)
        if cached is not None and self.now() + EXPIRY_SKEW < cached[1]:
            return cached[0]
        token, lifetime = self._fetch(policy, client)
        self.cache.tokens[key] = (token, self.now() + lifetime)
        self.cache.fetches += 1
        return token

    def _fetch(self, policy: dict[str, Any], client: HttpClient) -> tuple[str, timedelta]:
        from urllib.parse import urlencode

        auth = policy.get("auth") or {}
        method = auth.get("method", "clientSecretPost")
        form = {str(k): str(v) for k, v in (policy.get("form") or {}).items()}
        form["grant_type"] = "client_credentials"
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if method == "clientSecretBasic":
            pair = f"{auth.get('clientId')}:{self.secrets.resolve(auth.get('clientSecretRef'))}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif method == "clientSecretPost":
            form.update(client_id=str(auth.get("clientId")),
                        client_secret=self.secrets.resolve(auth.get("clientSecretRef")))
        else:  # tlsClientAuth: the certificate authenticates the client
            form["client_id"] = str(auth.get("clientId"))
            if self.mtls_client is not None:
                client = self.mtls_client(self._certificate({"clientCertRef": auth.get("clientCertRef")}))
        request = HttpCall("POST", str(policy.get("tokenEndpoint")), headers, urlencode(form).encode(), 10_000)
        result = execute(request, client).result
        body = result.get("body")
        if result.get("status") != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            shown = result.get("status") or (result.get("error") or {}).get("type")
            raise AuthError("OUTBOUND_AUTH_FAILED", self.secrets.scrub(
                f"token endpoint {policy.get('tokenEndpoint')} answered {shown} without an access_token"))
        expires = body.get("expires_in")
        lifetime = timedelta(seconds=expires) if isinstance(expires, int) and expires > 0 else DEFAULT_LIFETIME
        return body["access_token"], lifetime

    def _noted(self, outcome: HttpOutcome, policy_id: Any, kind: Any, **extra: Any) -> HttpOutcome:
        """The call's history record names the policy, and shows no secret value even when the server echoed one
        back under a name redaction does not know."""
        outcome.record = self.secrets.scrubbed({**outcome.record, "auth": {"policy": policy_id, "kind": kind, **extra}})
        return outcome


def mtls_client_factory(max_body: int | None = None) -> Callable[[dict[str, Any]], HttpClient]:
    """Real clients presenting a certificate, one per certificate and trust anchors, bounded by the http-body
    limit like every other client, closed with the process. A certificate or anchor that cannot be loaded is an
    AuthError naming the file, never its content."""
    from jctl.tasks.http import LazyClient

    clients: dict[str, HttpClient] = {}

    def make(certificate: dict[str, Any]) -> HttpClient:
        key = json.dumps(certificate, sort_keys=True)
        if key not in clients:
            context = _tls_context(certificate)
            clients[key] = LazyClient(lambda: _transport(context), max_body)
        return clients[key]

    return make


def _transport(context: ssl.SSLContext) -> Any:
    import httpx

    return httpx.HTTPTransport(verify=context)


def _tls_context(certificate: dict[str, Any]) -> ssl.SSLContext:
    """Server verification against the trust anchors (else the certifi roots httpx uses), and the client
    certificate and key to present."""
    import ssl

    anchors: list[str] = certificate["trustAnchors"]
    try:
        if anchors:
            context = ssl.create_default_context(cafile=anchors[0])
            for extra in anchors[1:]:
                context.load_verify_locations(cafile=extra)
        else:
            import certifi

            context = ssl.create_default_context(cafile=certifi.where())
    except (OSError, ssl.SSLError) as exc:
        raise AuthError("OUTBOUND_AUTH_FAILED", f"mtlsClient trust anchors {', '.join(anchors)} cannot be "
                        f"loaded: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        context.load_cert_chain(certificate["cert"], certificate["key"])
    except (OSError, ssl.SSLError) as exc:
        raise AuthError("OUTBOUND_AUTH_FAILED", f"the client certificate of {certificate['ref']} cannot be "
                        f"loaded: {getattr(exc, 'strerror', None) or exc} (its secret is a PEM file with certificate "
                        f"and key, or `cert.pem|key.pem`)") from None
    return context
