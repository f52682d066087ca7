"""What never reaches history, the store or a message in clear: credentials in URLs, sensitive headers and JSON
fields. One documented list of name fragments (README "Redaction") decides what is sensitive."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
# Matched against a header, query-parameter or JSON field name, lower-cased with `-`, `_` and `.` removed.
SENSITIVE_FRAGMENTS = (
    "auth",  # authorization, proxy-authorization, x-auth-token, www-authenticate (not author, authorName)
    "cookie",  # cookie, set-cookie
    "token",  # access_token, refresh_token, id_token, x-session-token
    "secret", "passw", "pwd", "credential", "apikey", "accesskey", "privatekey", "session", "signature", "jwt",
    "bearer",
)
_NOISE = re.compile(r"[-_.]")
_PATTERN = re.compile("|".join(fragment if fragment != "auth" else "auth(?!or(?!iz))"
                               for fragment in SENSITIVE_FRAGMENTS))
_USERINFO = re.compile(r"(?<=://)[^/?#@\s]*@")


def sensitive(name: str) -> bool:
    normalized = _NOISE.sub("", name.lower())
    return bool(_PATTERN.search(normalized)) or normalized == "key"


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: (MASK if sensitive(name) else value) for name, value in headers.items()}


def redact_json(value: Any) -> Any:
    """A copy with the values of sensitive object fields masked, at any depth."""
    if isinstance(value, dict):
        return {key: (MASK if sensitive(str(key)) else redact_json(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    return value


def redact_url(url: str) -> str:
    """The URL with its userinfo (`user:password@`) and the values of sensitive query parameters masked."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    masked = _USERINFO.sub(f"{MASK}@", url)
    try:
        parts = urlsplit(masked)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return masked
    if not any(sensitive(name) for name, _ in pairs):
        return masked
    query = urlencode([(name, MASK if sensitive(name) else value) for name, value in pairs], safe="*")
    return urlunsplit(parts._replace(query=query))


def redact_text(text: str, url: str) -> str:
    """A message (an exception's text) with every spelling of `url` in it replaced by its redacted form."""
    for spelling in sorted({url, url.split("?", 1)[0]}, key=len, reverse=True):  # the whole URL first
        text = text.replace(spelling, redact_url(spelling))
    return _USERINFO.sub(f"{MASK}@", text)
