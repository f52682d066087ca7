"""jwtValidate:v1 (dsl.md 18.6) with PyJWT: signature against a JWKS file, a PEM public key file or an HMAC
secretRef from the profile; expiry and not-before on the simulated clock (with the profile's leeway); audience,
issuer, required scopes and claims. Failures become Problem Details in context; the token never does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from jctl.secrets import SecretError
from jctl.tasks.inbound import config_path, problem, profile, read_source, write_view
from jctl.tasks.plugins import Issue, PluginError, TaskCall, TaskOutcome

SAFE_HEADER_FIELDS = ("alg", "kid", "typ", "cty")
DEFAULT_ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]


class JwtFailure(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class JwtValidate:
    kind = "jwtValidate:v1"

    def check(self, task: dict[str, Any], spec_path: Path | None) -> Iterator[Issue]:
        return iter(())  # profile/source/authVar shape is in the JSON Schema; keys and scopes live in the profile

    def run(self, call: TaskCall) -> TaskOutcome:
        settings = profile(call, "jwtValidate", "JWT")
        token = read_source(call, settings, "JWT")
        try:
            if token is None:
                raise JwtFailure("JWT_TOKEN_MISSING", "no token at the configured source")
            header, claims = self._validate(call, settings, token)
        except JwtFailure as failure:
            view: dict[str, Any] = {"problem": problem("jwt", failure.code, "JWT validation failed", failure.detail)}
            return self._done(call, view, failure.code)
        return self._done(call, {"header": header, "claims": claims}, "ok")

    def _validate(self, call: TaskCall, settings: dict[str, Any], token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.exceptions.DecodeError:
            raise JwtFailure("JWT_TOKEN_MALFORMED", "the token is not a JWT") from None
        algorithms = settings.get("algorithms") or DEFAULT_ALGORITHMS
        audience = settings.get("audience")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key(call, settings, header), algorithms=algorithms, audience=audience,
                issuer=settings.get("issuer"),
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_aud": audience is not None, "require": list(settings.get("requiredClaims") or [])})
        except jwt.exceptions.InvalidSignatureError:
            raise JwtFailure("JWT_SIG_INVALID", "the signature does not verify") from None
        except jwt.exceptions.InvalidAudienceError:
            raise JwtFailure("JWT_AUDIENCE_MISMATCH", f"aud does not match {audience}") from None
        except jwt.exceptions.InvalidIssuerError:
            raise JwtFailure("JWT_ISSUER_MISMATCH", f"iss does not match {settings.get('issuer')}") from None
        except jwt.exceptions.MissingRequiredClaimError as exc:
            raise JwtFailure("JWT_CLAIMS_INVALID", f"required claim {exc.claim} is missing") from None
        except jwt.exceptions.InvalidAlgorithmError:
            raise JwtFailure("JWT_SIG_INVALID", f"alg {header.get('alg')} is not allowed") from None
        except jwt.exceptions.PyJWTError as exc:
            raise JwtFailure("JWT_TOKEN_MALFORMED", f"the token cannot be decoded: {type(exc).__name__}") from None
        self._check_times(claims, call.now(), int(settings.get("leewaySec", 0)))
        self._check_scopes(claims, list(settings.get("requiredScopes") or []))
        return {k: header[k] for k in SAFE_HEADER_FIELDS if k in header}, claims

    @staticmethod
    def _key(call: TaskCall, settings: dict[str, Any], header: dict[str, Any]) -> Any:
        import jwt

        try:
            if settings.get("jwksFile"):
                keys = jwt.PyJWKSet.from_dict(json.loads(config_path(call, settings["jwksFile"]).read_text()))
                kid = header.get("kid")
                found = [k for k in keys.keys if k.key_id == kid] if kid else list(keys.keys)
                if not found:
                    raise JwtFailure("JWT_KID_NOT_FOUND", f"kid {kid!r} is not in the key set")
                return found[0]
            if settings.get("publicKeyFile"):
                return config_path(call, settings["publicKeyFile"]).read_bytes()
            if settings.get("secretRef"):
                return call.secrets.resolve(settings["secretRef"]).encode()
        except (OSError, ValueError, SecretError, jwt.exceptions.PyJWKSetError) as exc:
            raise PluginError("JWT_CONFIG_KEYS_UNUSABLE", f"jwtValidate key material: {exc}") from None
        raise PluginError("JWT_CONFIG_KEYS_UNUSABLE", "the jwtValidate profile names no keys (jwksFile, "
                          "publicKeyFile or secretRef)")

    @staticmethod
    def _check_times(claims: dict[str, Any], now: datetime, leeway: int) -> None:
        moment = now.timestamp()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if isinstance(exp, (int, float)) and moment > exp + leeway:
            raise JwtFailure("JWT_EXPIRED", "the token has expired")
        if isinstance(nbf, (int, float)) and moment < nbf - leeway:
            raise JwtFailure("JWT_NOT_YET_VALID", "the token is not valid yet")

    @staticmethod
    def _check_scopes(claims: dict[str, Any], required: list[str]) -> None:
        granted = claims.get("scope", claims.get("scp", ""))
        scopes = set(granted.split() if isinstance(granted, str) else granted or [])
        missing = [scope for scope in required if scope not in scopes]
        if missing:
            raise JwtFailure("JWT_CLAIMS_INVALID", f"missing scope(s): {', '.join(missing)}")

    @staticmethod
    def _done(call: TaskCall, view: dict[str, Any], outcome: str) -> TaskOutcome:
        return TaskOutcome(write_view(call.context, call.task, "jwt", view),
                           record={"auth": {"mechanism": "jwt", "outcome": outcome}})


PLUGIN = JwtValidate()
