"""Cookie-jar rules (dsl.md 22) across fields the JSON Schema checks one at a time: a task's `cookies` block needs
a jar, returnToClient's `include` goes with `mode: filtered`, and a jar domain pattern must be able to match a host."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jctl.checks import SpecFile, check
from jctl.checks.traverse import iter_http_tasks, spec_body
from jctl.diagnostics import Finding

HOST_PATTERN = re.compile(r"\.?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\]")


def _cookies(spec: SpecFile) -> dict[str, Any]:
    cookies = spec_body(spec).get("cookies")
    return cookies if isinstance(cookies, dict) else {}


@check("cookie-task-without-jar", "warning", "An HTTP task sets `cookies` but the spec has no spec.cookies.jar.")
def cookie_task_without_jar(spec: SpecFile) -> Iterator[Finding]:
    if "jar" in _cookies(spec):
        return
    for ref, task in iter_http_tasks(spec):
        if "cookies" in task:
            yield Finding(ref.path + ("task", "cookies"),
                          f"`cookies` of task state `{ref.state_id}` has no effect: the spec has no cookie jar",
                          "add `spec.cookies.jar` with the allowed `domains`, or remove the task's `cookies`",
                          at="key")


@check("cookie-include-mode", "warning", "returnToClient's `include` and `mode` disagree (include is for filtered).")
def cookie_include_mode(spec: SpecFile) -> Iterator[Finding]:
    returned = _cookies(spec).get("returnToClient")
    if not isinstance(returned, dict) or not isinstance(returned.get("mode"), str):
        return
    include = returned.get("include")
    where = ("spec", "cookies", "returnToClient")
    if returned["mode"] != "filtered" and include is not None:
        yield Finding(where + ("include",), f"`include` is ignored with mode `{returned['mode']}`",
                      "use `mode: filtered` to select cookies by name, or remove `include`", at="key")
    elif returned["mode"] == "filtered" and not _selects_any(include):
        yield Finding(where + ("mode",), "mode `filtered` without `include.names` or `include.namePatterns` "
                      "returns no cookie", "list the cookie names to return, or use `mode: none`")


def _selects_any(include: Any) -> bool:
    return isinstance(include, dict) and bool(include.get("names") or include.get("namePatterns"))


@check("cookie-domain-pattern", "warning", "A jar domain pattern can never match a host (scheme, port, path, *).")
def cookie_domain_pattern(spec: SpecFile) -> Iterator[Finding]:
    jar = _cookies(spec).get("jar")
    domains = jar.get("domains") if isinstance(jar, dict) else None
    for index, entry in enumerate(domains if isinstance(domains, list) else []):
        pattern = entry.get("pattern") if isinstance(entry, dict) else None
        if isinstance(pattern, str) and pattern and not HOST_PATTERN.fullmatch(pattern):
            yield Finding(("spec", "cookies", "jar", "domains", index, "pattern"),
                          f"domain pattern `{pattern}` never matches a host",
                          "write a bare host (`api.example.com`) or a leading dot for its subdomains "
                          "(`.example.com`); no scheme, port, path or `*`")
