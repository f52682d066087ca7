"""The cookie jar of spec.cookies (dsl.md 22): the jar's RFC 6265 rules on their own, then journeys run through the
CLI against a real HTTP service that sets cookies, and through `jctl serve`, which returns them as Set-Cookie."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import jsonata, run_jctl, write_journey

from jctl.engine.cookies import CookieJar, default_path, domain_match, host_allowed, path_match

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = {"cookies": {"jar": {"domains": [{"pattern": "api.example.com"}, {"pattern": ".example.com"}]}}}


def jar(state: dict[str, Any] | None = None) -> CookieJar:
    found = CookieJar.of(SPEC, {"cookieJar": state} if state else {})
    assert found is not None
    return found


# -- the jar on its own -------------------------------------------------------------------------------------------


def test_domain_patterns_are_exact_hosts_or_strict_subdomains():
    patterns = ["api.example.com", ".example.com"]
    assert host_allowed("api.example.com", patterns) and host_allowed("a.b.example.com", patterns)
    assert not host_allowed("example.com", patterns) and not host_allowed("badexample.com", patterns)
    assert not host_allowed("api.example.com", []) and host_allowed("API.Example.com.", ["api.example.com"])
    assert host_allowed("::1", ["[::1]"]) and host_allowed("127.0.0.1", ["127.0.0.1"])


def test_rfc6265_domain_and_path_matching():
    assert domain_match("a.example.com", "example.com") and not domain_match("example.com", "a.example.com")
    assert not domain_match("1.2.3.4", "3.4")
    assert path_match("/api/x", "/api") and path_match("/api/", "/api/") and path_match("/api", "/api")
    assert not path_match("/apis", "/api") and not path_match("/", "/api")
    assert default_path("/a/b/c") == "/a/b" and default_path("/a") == "/" and default_path("") == "/"


def test_set_cookie_lines_fill_the_jar_with_rfc6265_defaults_and_the_allow_list():
    cookies = jar()
    done = cookies.ingest("https://api.example.com/auth/login", [
        "sid=s1; HttpOnly", "pref=p1; Path=/shop; Max-Age=60", "wide=w1; Domain=.example.com",
        "other=o1; Domain=evil.com", "broken", "csrf=c1; Secure; SameSite=Strict"], NOW)
    assert done.stored == ["sid", "pref", "csrf"] and done.discarded == ["wide", "other"]
    stored = {c.name: c for c in cookies.cookies.values()}
    assert (stored["sid"].domain, stored["sid"].path, stored["sid"].host_only) == ("api.example.com", "/auth", True)
    assert stored["pref"].expires == int((NOW + timedelta(seconds=60)).timestamp())
    # example.com itself is not allowed by `.example.com`: a cookie scoped to it is discarded (dsl.md 22.2)
    assert "wide" not in stored


def test_cookies_go_to_matching_hosts_and_paths_until_they_expire():
    cookies = jar()
    cookies.ingest("https://api.example.com/auth/login", ["sid=s1; Path=/", "pref=p1; Path=/shop; Max-Age=60",
                                                          "csrf=c1; Secure; Path=/"], NOW)
    cookies.ingest("https://a.b.example.com/", ["deep=d1; Domain=b.example.com; Path=/"], NOW)
    assert cookies.cookie_header("https://api.example.com/shop/cart", NOW) == ("pref=p1; sid=s1; csrf=c1",
                                                                              ["pref", "sid", "csrf"])
    assert cookies.cookie_header("http://api.example.com/shop", NOW)[0] == "pref=p1; sid=s1"  # Secure: https only
    later = NOW + timedelta(seconds=61)
    assert cookies.cookie_header("https://api.example.com/shop", later)[0] == "sid=s1; csrf=c1"
    assert cookies.cookie_header("https://x.b.example.com/", NOW)[0] == "deep=d1"  # a Domain cookie: subdomains too
    assert cookies.cookie_header("https://www.example.com/", NOW) == (None, [])  # host-only sid stays on api
    assert cookies.cookie_header("https://api.other.com/", NOW) == (None, [])


def test_last_writer_wins_and_deletions_are_remembered_for_the_client():
    cookies = jar()
    cookies.ingest("https://api.example.com/", ["sid=s1", "keep=k1"], NOW)
    cookies.ingest("https://api.example.com/", ["sid=s2"], NOW)
    assert cookies.cookie_header("https://api.example.com/", NOW)[0] == "sid=s2; keep=k1"  # creation order kept
    done = cookies.ingest("https://api.example.com/", ["keep=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"], NOW)
    assert done.deleted == ["keep"]
    restored = jar(json.loads(json.dumps(cookies.state())))  # the cursor keeps JSON
    assert restored.cookie_header("https://api.example.com/", NOW)[0] == "sid=s2"
    lines = restored.set_cookie_lines({"mode": "allFromAllowedDomains"}, NOW)
    assert lines == ["sid=s2; Domain=api.example.com; Path=/",
                     "keep=; Domain=api.example.com; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]


def test_return_to_client_modes_select_by_name_and_java_style_pattern():
    cookies = jar()
    cookies.ingest("https://api.example.com/", ["session=s; Max-Age=3600; HttpOnly", "x-app-theme=dark",
                                                "tracking=t", "x-app-old=; Max-Age=0"], NOW)
    assert cookies.set_cookie_lines({"mode": "none"}, NOW) == []
    filtered = cookies.set_cookie_lines({"mode": "filtered", "include": {"names": ["session"],
                                                                         "namePatterns": ["^x-app-"]}}, NOW)
    assert [line.split("=")[0] for line in filtered] == ["session", "x-app-theme", "x-app-old"]
    assert filtered[0] == "session=s; Domain=api.example.com; Path=/; Expires=Thu, 01 Jan 2026 01:00:00 GMT; HttpOnly"
    assert cookies.set_cookie_lines({"mode": "filtered"}, NOW) == []
    assert len(cookies.set_cookie_lines({"mode": "allFromAllowedDomains"}, NOW)) == 4


def test_a_cookie_over_4096_bytes_and_cookies_past_300_are_not_kept():
    cookies = jar()
    lines = ["big=" + "x" * 4094, "edge=" + "x" * 4092]  # 3 + 4094 bytes; edge is exactly 4096
    assert cookies.ingest("https://api.example.com/", lines, NOW).discarded == ["big"]
    cookies.ingest("https://api.example.com/", [f"c{i}=v" for i in range(305)], NOW)
    assert len(cookies.cookies) == 300 and ("api.example.com", "/", "c0") not in cookies.cookies


def test_an_empty_domain_list_keeps_nothing():
    empty = CookieJar.of({"cookies": {"jar": {}}}, {})
    assert empty is not None and empty.ingest("https://a.example.com/", ["a=1"], NOW).discarded == ["a"]
    assert CookieJar.of({}, {}) is None


# -- journeys through the CLI against a real service ---------------------------------------------------------------

SET_COOKIES = {
    "/auth/login": ["session=s1; Path=/", "short=t1; Max-Age=60; Path=/", "scoped=p1; Path=/api",
                    "sec=x1; Secure; Path=/", "foreign=f1; Domain=example.com"],
    "/auth/logout": ["session=; Max-Age=0; Path=/"],
}


@pytest.fixture
def cookie_service() -> Iterator[tuple[Any, list[tuple[str, str | None]]]]:
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    server = HTTPServer(host="127.0.0.1")
    seen: list[tuple[str, str | None]] = []  # (host path, Cookie header) of every request

    def answer(request: Request) -> Response:
        seen.append((f"{request.host.split(':')[0]}{request.path}", request.headers.get("Cookie")))
        response = Response('{"ok": true}', content_type="application/json")
        for line in SET_COOKIES.get(request.path, []):
            response.headers.add("Set-Cookie", line)
        return response

    server.expect_request("/auth/login").respond_with_handler(answer)
    server.expect_request("/auth/logout").respond_with_handler(answer)
    server.expect_request("/api/data").respond_with_handler(answer)
    server.expect_request("/other").respond_with_handler(answer)
    server.start()
    yield server, seen
    server.clear()
    if server.is_running():
        server.stop()


def call(url: str, nxt: str, method: str = "GET", **task: Any) -> dict[str, Any]:
    return {"type": "task", "task": {"kind": "httpCall:v1", "method": method, "url": url, **task}, "next": nxt}


def cookie_journey(tmp_path: Path, base: str, other_host: str, **cookies: Any) -> Path:
    states = {
        "login": call(f"{base}/auth/login", "first", "POST"),
        "first": call(f"{base}/api/data", "pause"),
        "pause": {"type": "wait", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}},
                  "next": "second"},
        "second": call(f"{base}/api/data", "elsewhere"),
        "elsewhere": call(f"{base}/other", "optedOut"),
        "optedOut": call(f"{base}/api/data", "explicit", cookies={"useJar": False}),
        "explicit": call(f"{base}/api/data", "otherHost", headers={"Cookie": "mine=1"}),
        "otherHost": call(f"{other_host}/api/data", "notify"),
        "notify": call(f"{base}/auth/login", "logout", "POST", mode="notify"),
        "logout": call(f"{base}/auth/logout", "last", "POST"),
        "last": call(f"{base}/api/data", "done"),
        "done": {"type": "succeed"},
    }
    return write_journey(tmp_path, states, "login", name="cookies", cookies={
        "jar": {"domains": [{"pattern": "127.0.0.1"}]}, **cookies})


def as_json(result: Any) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_jar_carries_cookies_across_a_signal_by_host_path_and_simulated_expiry(cookie_service, tmp_path: Path):
    server, seen = cookie_service
    port = server.port
    returned = {"mode": "filtered", "include": {"names": ["session"], "namePatterns": ["^scop"]}}
    path = cookie_journey(tmp_path, f"http://127.0.0.1:{port}", f"http://localhost:{port}", returnToClient=returned)
    db = str(tmp_path / "jctl.db")
    started = as_json(run_jctl("run", str(path), "--db", db, "-f", "json"))
    assert started["currentState"] == "pause"
    # a new process for each command: the jar lives in the store; the simulated clock expires `short`
    assert "nothing due" in run_jctl("clock", "advance", "PT2M", "--db", db).stdout
    outcome = as_json(run_jctl("signal", started["journeyId"], "--db", db, "--payload", "{}", "-f", "json"))
    assert outcome["phase"] == "SUCCEEDED", outcome
    assert seen == [
        ("127.0.0.1/auth/login", None),
        ("127.0.0.1/api/data", "scoped=p1; session=s1; short=t1"),  # longest path first; Secure and foreign: never
        ("127.0.0.1/api/data", "scoped=p1; session=s1"),  # short expired on the simulated clock
        ("127.0.0.1/other", "session=s1"),  # scoped is for /api
        ("127.0.0.1/api/data", None),  # useJar: false
        ("127.0.0.1/api/data", "mine=1"),  # an explicit Cookie header wins, unmerged
        ("localhost/api/data", None),  # another host, not in jar.domains
        ("127.0.0.1/auth/login", "session=s1"),  # notify: cookies attached, its Set-Cookie ignored
        ("127.0.0.1/auth/logout", "session=s1"),
        ("127.0.0.1/api/data", "scoped=p1"),  # the logout deleted session
    ]
    deletion = "session=; Domain=127.0.0.1; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    assert outcome["setCookie"] == ["scoped=***; Domain=127.0.0.1; Path=/api", deletion]
    status = as_json(run_jctl("status", started["journeyId"], "--db", db, "-f", "json"))
    assert status["setCookie"] == outcome["setCookie"]
    history = run_jctl("history", started["journeyId"], "--db", db, "-f", "json")
    assert history.returncode == 0 and "p1" not in history.stdout and "s1" not in history.stdout
    records = [e["data"]["http"] for e in json.loads(history.stdout) if "http" in e.get("data", {})]
    assert records[0]["cookies"] == {"stored": ["session", "short", "scoped", "sec"], "discarded": ["foreign"]}
    assert records[1]["headers"]["Cookie"] == "***" and records[1]["cookies"] == {
        "attached": ["scoped", "session", "short"]}
    assert "stored" not in records[7]["cookies"]  # the notify call's Set-Cookie did not reach the jar
    assert records[8]["cookies"]["deleted"] == ["session"]


def test_a_failed_run_and_a_jar_without_return_to_client_return_no_cookies(cookie_service, tmp_path: Path):
    server, seen = cookie_service
    base = f"http://127.0.0.1:{server.port}"
    states = {"login": call(f"{base}/auth/login", "check", "POST", resultVar="login"),
              "check": {"type": "choice", "choices": [{"when": {"predicate": jsonata("login.ok = false")},
                                                       "next": "done"}], "default": "failed"},
              "failed": {"type": "fail", "errorCode": "NOPE", "reason": "login answered"}, "done": {"type": "succeed"}}
    returned = {"mode": "allFromAllowedDomains"}
    failing = write_journey(tmp_path, states, "login", name="failing", cookies={
        "jar": {"domains": [{"pattern": "127.0.0.1"}]}, "returnToClient": returned})
    outcome = json.loads(run_jctl("run", str(failing), "--db", str(tmp_path / "a.db"), "-f", "json").stdout)
    assert outcome["phase"] == "FAILED" and "setCookie" not in outcome
    plain = cookie_journey(tmp_path, base, base)
    db = str(tmp_path / "b.db")
    started = as_json(run_jctl("run", str(plain), "--db", db, "-f", "json"))
    outcome = as_json(run_jctl("signal", started["journeyId"], "--db", db, "--payload", "{}", "-f", "json"))
    assert outcome["phase"] == "SUCCEEDED" and "setCookie" not in outcome


def test_serve_returns_the_selected_cookies_as_set_cookie_headers(cookie_service, tmp_path: Path):
    import httpx
    from serving import running_server

    from jctl.serve.engine import ServeSettings

    server, _ = cookie_service
    base = f"http://127.0.0.1:{server.port}"
    states = {"login": call(f"{base}/auth/login", "done", "POST"), "done": {"type": "succeed"}}
    folder = tmp_path / "specs"
    folder.mkdir()
    write_journey(folder, states, "login", name="login", cookies={
        "jar": {"domains": [{"pattern": "127.0.0.1"}]},
        "returnToClient": {"mode": "filtered", "include": {"names": ["session", "short"]}}})
    settings = ServeSettings(folders=[folder], db=tmp_path / "serve.db")
    with running_server(settings) as api, httpx.Client(base_url=api, timeout=60) as http:
        started = http.post("/api/v1/journeys/login/start", json={})
        result = http.get(f"/api/v1/journeys/{started.json()['journeyId']}/result")
    for response in (started, result):
        assert response.status_code == 200, response.text
        lines = response.headers.get_list("set-cookie")
        assert lines[0] == "session=s1; Domain=127.0.0.1; Path=/"
        assert lines[1].startswith("short=t1; Domain=127.0.0.1; Path=/; Expires=") and len(lines) == 2
        assert response.json()["setCookie"][0] == "session=***; Domain=127.0.0.1; Path=/"


def test_parallel_branches_share_the_run_jar_across_a_paused_branch(tmp_path: Path):
    from jctl.engine.runner import Runner
    from jctl.store import Store

    def get(url: str, nxt: str) -> dict[str, Any]:
        return call(f"https://api.example.com{url}", nxt)

    wait = {"type": "wait", "next": "callA", "wait": {"channel": "manual", "input": {"schema": {"type": "object"}}}}
    branches = [
        {"name": "a", "start": "hold",
         "states": {"hold": wait, "callA": get("/a", "endA"), "endA": {"type": "succeed"}}},
        {"name": "b", "start": "callB", "states": {"callB": get("/b", "endB"), "endB": {"type": "succeed"}}}]
    states = {"login": get("/login", "both"),
              "both": {"type": "parallel", "parallel": {"branches": branches, "join": {"strategy": "allOf"}},
                       "next": "after"},
              "after": get("/after", "done"), "done": {"type": "succeed"}}
    path = write_journey(tmp_path, states, "login", name="branches",
                         cookies={"jar": {"domains": [{"pattern": "api.example.com"}]}})
    mocks = {"mocks": [{"match": {"url": f"https://api.example.com/{name}"},
                        "respond": {"status": 200, "headers": {"Set-Cookie": f"{name}=1; Path=/"}}}
                       for name in ("login", "a", "b")] + [{"match": {"url": "https://api.example.com/after"},
                                                             "respond": {"status": 200}}]}
    runner = Runner(Store.open(tmp_path / "jctl.db"))
    started = runner.start(path, {}, mocks=mocks)
    assert started["activeSteps"] == ["hold"]
    assert runner.signal(started["journeyId"], {}, step="hold")["phase"] == "SUCCEEDED"
    calls = [record for event in runner.store.history(started["journeyId"])
             for record in _records(event.data.get("http"))]
    attached = {record["url"].rsplit("/", 1)[1]: record.get("cookies", {}).get("attached") for record in calls}
    assert attached == {"login": None, "b": ["login"], "a": ["login", "b"], "after": ["login", "b", "a"]}
    assert "cookieJar" not in runner.store.get_instance(started["journeyId"]).cursor  # gone with the run


def _records(http: Any) -> list[dict[str, Any]]:
    return http if isinstance(http, list) else [http] if isinstance(http, dict) else []


def test_a_mock_repeats_a_header_given_a_list_and_refuses_nested_values():
    import httpx

    from jctl.tasks.mocks import MockError, mock_transport, validate_mocks

    rules = validate_mocks([{"match": {"url": "https://api.example.com/*"},
                             "respond": {"headers": {"Set-Cookie": ["a=1", "b=2"], "X-One": "1"}}}])
    with httpx.Client(transport=mock_transport(rules, {})) as client:
        response = client.get("https://api.example.com/login")
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"] and response.headers["x-one"] == "1"
    with pytest.raises(MockError, match="a list of values repeats the header"):
        validate_mocks([{"match": {"url": "*"}, "respond": {"headers": {"Set-Cookie": {"a": "1"}}}}])
