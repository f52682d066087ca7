"""The inbound request of the command that drives an instance (`--header K=V`, `--client-cert FILE` on run and
signal, or the HTTP request `jctl serve` answers): what inbound auth plugins read. Never stored, so credentials stay
out of the store."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InboundRequest:
    """The caller's request as the local runner knows it: headers (names matched case-insensitively), query
    parameters and the client certificate chain (PEM)."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    client_cert: bytes | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def cookie(self, name: str) -> str | None:
        from http.cookies import SimpleCookie

        jar: SimpleCookie = SimpleCookie()
        jar.load(self.header("Cookie") or "")
        return jar[name].value if name in jar else None
