"""The per-run cookie jar of spec.cookies (dsl.md 22): filled from httpCall responses' Set-Cookie headers,
attached as a `Cookie` header to later calls, and turned into Set-Cookie lines for the client on success.

The jar is plain JSON kept in the instance cursor (`cookieJar`), so it commits with every transition and
survives restarts on every driver; time is always the caller's (simulated) clock. Set-Cookie lines are split by
the standard library's Netscape/RFC 6265 parser (http.cookiejar.parse_ns_headers, which also reads Expires
dates); the RFC 6265 storage and retrieval rules it has no clock-injectable form of (default path, domain-match,
path-match, expiry, ordering) and dsl.md's domain allow-list are written here."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

CURSOR_KEY = "cookieJar"  # the jar while the run goes on
RETURNED_KEY = "setCookie"  # the Set-Cookie lines for the client, kept once the run succeeded
DELETION_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"
MAX_COOKIE_BYTES = 4096  # name + value; RFC 6265 6.1's minimum a user agent keeps, and what browsers keep
MAX_COOKIES = 300  # RFC 6265 6.1 asks for at least 3000 per user agent; one run needs far fewer, the cursor stays small


@dataclass
class StoredCookie:
    name: str
    value: str
    domain: str
    path: str
    host_only: bool
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None
    expires: int | None = None  # epoch seconds on the simulated clock; None: lives as long as the run
    order: int = 0  # creation order (RFC 6265 5.4: among equal path lengths, older cookies first)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.domain, self.path, self.name

    def live(self, moment: float) -> bool:
        """Not expired at `moment` (epoch seconds on the simulated clock)."""
        return self.expires is None or self.expires > moment


@dataclass
class Deletion:
    """A downstream deletion of a cookie, kept so a client can be told to delete it too."""

    name: str
    domain: str
    path: str


@dataclass
class Ingested:
    """What one response did to the jar, by cookie name (values never: history shows this)."""

    stored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)

    def record(self) -> dict[str, list[str]]:
        return {key: names for key, names in asdict(self).items() if names}


def jar_config(spec: dict[str, Any]) -> dict[str, Any] | None:
    """spec.cookies.jar when the spec has a jar (an empty or null block still enables it: dsl.md 22.1)."""
    cookies = spec.get("cookies")
    if not isinstance(cookies, dict) or "jar" not in cookies:
        return None
    jar = cookies.get("jar")
    return jar if isinstance(jar, dict) else {}


def host_allowed(host: str, patterns: list[str]) -> bool:
    """dsl.md 22.1: `api.example.com` matches only that host; `.example.com` matches hosts below example.com
    but not example.com itself."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().strip("[]")  # an IPv6 literal is written [::1]; a URL's hostname has no brackets
        if pattern.startswith("."):
            if host.endswith(pattern) and host != pattern[1:]:
                return True
        elif host == pattern:
            return True
    return False


def domain_match(host: str, domain: str) -> bool:
    """RFC 6265 5.1.3: the host is the domain, or a name below it (never below an IP address)."""
    if host == domain:
        return True
    return host.endswith("." + domain) and not _is_ip(host)


def path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4."""
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


def default_path(request_path: str) -> str:
    """RFC 6265 5.1.4: the request path up to (not including) its last `/`, or `/`."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[:request_path.rindex("/")]


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class CookieJar:
    """The cookies of one run keyed by (domain, path, name), last writer wins; `patterns` is jar.domains."""

    def __init__(self, patterns: list[str], cookies: list[StoredCookie] | None = None,
                 deleted: list[Deletion] | None = None, next_order: int = 0):
        self.patterns = patterns
        self.cookies = {cookie.key: cookie for cookie in cookies or []}
        self.deleted = {(d.domain, d.path, d.name): d for d in deleted or []}
        self.next_order = next_order

    @classmethod
    def of(cls, spec: dict[str, Any], cursor: dict[str, Any]) -> CookieJar | None:
        """The run's jar from the cursor (empty at the start), or None when the spec has no jar."""
        config = jar_config(spec)
        if config is None:
            return None
        patterns = [str(d["pattern"]) for d in config.get("domains") or [] if isinstance(d, dict) and d.get("pattern")]
        state = cursor.get(CURSOR_KEY)
        if not isinstance(state, dict):
            return cls(patterns)
        return cls(patterns, [StoredCookie(**c) for c in state.get("cookies") or []],
                   [Deletion(**d) for d in state.get("deleted") or []], int(state.get("nextOrder") or 0))

    def state(self) -> dict[str, Any]:
        """The JSON the cursor keeps."""
        return {"cookies": [asdict(c) for c in self.cookies.values()],
                "deleted": [asdict(d) for d in self.deleted.values()], "nextOrder": self.next_order}

    # -- filling (dsl.md 22.2) ------------------------------------------------------------------------------
    def ingest(self, url: str, set_cookie_lines: list[str], now: datetime) -> Ingested:
        # the parser CookieJar.make_cookies uses for Set-Cookie; stable since Python 2, absent from the stubs
        from http.cookiejar import parse_ns_headers  # type: ignore[attr-defined]

        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        done = Ingested()
        for line in set_cookie_lines:
            parsed = parse_ns_headers([line])
            if not parsed or not parsed[0] or parsed[0][0][1] is None or not parsed[0][0][0]:
                continue  # no `name=value` pair: RFC 6265 5.2 ignores the line
            (name, value), attributes = parsed[0][0], _attributes(parsed[0][1:])
            cookie = self._cookie(name, value, attributes, host, parts.path, now)
            if cookie is None or not host_allowed(cookie.domain, self.patterns) or _too_big(cookie):
                done.discarded.append(name)
            elif not cookie.live(now.timestamp()):  # an expiry already past deletes (RFC 6265 5.3 step 11)
                self.cookies.pop(cookie.key, None)
                self.deleted[cookie.key] = Deletion(cookie.name, cookie.domain, cookie.path)
                done.deleted.append(name)
            else:
                previous = self.cookies.get(cookie.key)
                cookie.order = previous.order if previous is not None else self._take_order()
                self.cookies[cookie.key] = cookie
                self.deleted.pop(cookie.key, None)
                done.stored.append(name)
        self._evict(now)
        return done

    def _evict(self, now: datetime) -> None:
        """Expired cookies leave the jar; past MAX_COOKIES the oldest go first (RFC 6265 5.3, 6.1)."""
        moment = now.timestamp()
        live = [c for c in self.cookies.values() if c.live(moment)]
        live.sort(key=lambda c: c.order)
        self.cookies = {c.key: c for c in live[-MAX_COOKIES:]}

    def _cookie(self, name: str, value: str, attributes: dict[str, Any], host: str, request_path: str,
                now: datetime) -> StoredCookie | None:
        domain = str(attributes.get("domain") or "").lower().lstrip(".").rstrip(".")
        if domain and not domain_match(host, domain):
            return None  # RFC 6265 5.3 step 6: a host may not set cookies for another domain
        path = attributes.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            path = default_path(request_path or "/")
        same_site = attributes.get("samesite")
        return StoredCookie(name, value, domain or host, path, host_only=not domain,
                            secure="secure" in attributes, http_only="httponly" in attributes,
                            same_site=str(same_site) if same_site else None, expires=_expires(attributes, now))

    def _take_order(self) -> int:
        self.next_order += 1
        return self.next_order

    # -- attaching (dsl.md 22.3) ----------------------------------------------------------------------------
    def cookie_header(self, url: str, now: datetime) -> tuple[str | None, list[str]]:
        """The `Cookie` header for a request to `url` (None when no cookie matches) and the names it carries."""
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path or "/"
        if not host_allowed(host, self.patterns):
            return None, []
        moment = now.timestamp()
        chosen = [c for c in self.cookies.values()
                  if (c.host_only and host == c.domain or not c.host_only and domain_match(host, c.domain))
                  and path_match(path, c.path) and (not c.secure or parts.scheme == "https")
                  and c.live(moment)]
        chosen.sort(key=lambda c: (-len(c.path), c.order))
        if not chosen:
            return None, []
        return "; ".join(f"{c.name}={c.value}" for c in chosen), [c.name for c in chosen]

    # -- returning (dsl.md 22.4) ----------------------------------------------------------------------------
    def set_cookie_lines(self, return_config: dict[str, Any], now: datetime) -> list[str]:
        """Set-Cookie lines for the client per returnToClient.mode; deletions become expired lines."""
        mode = return_config.get("mode")
        if mode not in ("allFromAllowedDomains", "filtered"):
            return []
        selected = _name_filter(return_config) if mode == "filtered" else (lambda name: True)
        moment = now.timestamp()
        lines = [_set_cookie(c) for c in sorted(self.cookies.values(), key=lambda c: c.order)
                 if selected(c.name) and host_allowed(c.domain, self.patterns)
                 and c.live(moment)]
        lines += [f"{d.name}=; Domain={d.domain}; Path={d.path}; Max-Age=0; Expires={DELETION_EXPIRES}"
                  for d in self.deleted.values() if selected(d.name) and host_allowed(d.domain, self.patterns)]
        return lines


def _too_big(cookie: StoredCookie) -> bool:
    return len(cookie.name.encode()) + len(cookie.value.encode()) > MAX_COOKIE_BYTES


def _attributes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Attribute name (lower case) -> value; the last of a repeated attribute wins (RFC 6265 5.3)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key.lower() != "version":  # parse_ns_headers adds it; Set-Cookie has no such attribute
            found[key.lower()] = value
    return found


def _expires(attributes: dict[str, Any], now: datetime) -> int | None:
    """Max-Age wins over Expires (RFC 6265 5.3 step 3); both against the simulated clock."""
    max_age = attributes.get("max-age")
    if isinstance(max_age, str) and re.fullmatch(r"-?\d+", max_age.strip()):
        return int(now.timestamp()) + int(max_age)
    expires = attributes.get("expires")
    return int(expires) if isinstance(expires, float) else None


def _name_filter(return_config: dict[str, Any]) -> Any:
    include = return_config.get("include") or {}
    names = {str(n) for n in include.get("names") or []}
    patterns = []
    for pattern in include.get("namePatterns") or []:
        try:
            patterns.append(re.compile(str(pattern)))
        except re.error:
            continue  # `jctl validate` refuses it (invalid-regex); a spec that skipped validation selects less
    # Java's Matcher.find semantics: a pattern selects a name it matches anywhere (anchors say otherwise)
    return lambda name: name in names or any(p.search(name) for p in patterns)


def _set_cookie(cookie: StoredCookie) -> str:
    from email.utils import formatdate

    parts = [f"{cookie.name}={cookie.value}", f"Domain={cookie.domain}", f"Path={cookie.path}"]
    if cookie.expires is not None:
        parts.append(f"Expires={formatdate(cookie.expires, usegmt=True)}")
    if cookie.secure:
        parts.append("Secure")
    if cookie.http_only:
        parts.append("HttpOnly")
    if cookie.same_site:
        parts.append(f"SameSite={cookie.same_site}")
    return "; ".join(parts)


def masked_line(line: str) -> str:
    """A Set-Cookie line with its value shown as *** (for output that is not the cookie's delivery)."""
    from jctl.redact import MASK

    name, _, rest = line.partition("=")
    value, sep, attributes = rest.partition(";")
    return f"{name}={MASK if value else ''}{sep}{attributes}"
