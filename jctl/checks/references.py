"""Names that must resolve inside the same file: mapperRef to spec.mappers, policy ids to spec.policies,
subjourney refs to spec.subjourneys."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from jctl.checks import SpecFile, check
from jctl.checks.traverse import iter_http_tasks, spec_body, walk
from jctl.diagnostics import DocPath, Finding
from jctl.spec.model import iter_states


def _names(holder: Any) -> list[str]:
    return [str(key) for key in holder] if isinstance(holder, dict) else []


def _hint(name: str, known: list[str], where: str) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    if known:
        return f"define it under {where}, or use one of: " + ", ".join(f"`{k}`" for k in known[:8])
    return f"define it under {where}"


@check("unknown-mapper", "error", "A mapperRef names no entry of spec.mappers.")
def unknown_mapper(spec: SpecFile) -> Iterator[Finding]:
    known = _names(spec_body(spec).get("mappers"))
    # an errorMapping may also name a spec.errors normaliser explicitly (dsl.md 5.7)
    errors = spec_body(spec).get("errors")
    normalisers = _names(errors.get("normalisers")) if isinstance(errors, dict) else []
    for path, node in walk(spec_body(spec), ("spec",)):
        if not isinstance(node, dict):
            continue
        name = node.get("mapperRef")
        allowed = known + normalisers if path and path[-1] == "errorMapping" else known
        if isinstance(name, str) and name not in allowed:
            yield Finding(
                path + ("mapperRef",),
                f"mapperRef `{name}` is not defined in spec.mappers",
                _hint(name, known, "spec.mappers"),
            )


def _policy_ids(spec: SpecFile, family: str) -> list[str]:
    policies = spec_body(spec).get("policies")
    group = policies.get(family) if isinstance(policies, dict) else None
    return _names(group.get("definitions")) if isinstance(group, dict) else []


def _policy_refs(spec: SpecFile) -> Iterator[tuple[DocPath, Any, str]]:
    """(path, referenced id, policy family) for every place that names a policy."""
    body = spec_body(spec)
    policies = body.get("policies")
    for family in ("httpResilience", "httpClientAuth"):
        group = policies.get(family) if isinstance(policies, dict) else None
        if isinstance(group, dict) and "default" in group:
            yield ("spec", "policies", family, "default"), group["default"], family
    defaults = body.get("defaults")
    tasks = defaults.get("tasks") if isinstance(defaults, dict) else None
    if isinstance(tasks, dict) and "resiliencePolicyRef" in tasks:
        yield ("spec", "defaults", "tasks", "resiliencePolicyRef"), tasks["resiliencePolicyRef"], "httpResilience"
    for ref, task in iter_http_tasks(spec):
        if "resiliencePolicyRef" in task:
            yield ref.path + ("task", "resiliencePolicyRef"), task["resiliencePolicyRef"], "httpResilience"
        auth = task.get("auth")
        if isinstance(auth, dict) and "policyRef" in auth:
            yield ref.path + ("task", "auth", "policyRef"), auth["policyRef"], "httpClientAuth"


@check("unknown-policy", "warning", "A policy reference names no definition in spec.policies.")
def unknown_policy(spec: SpecFile) -> Iterator[Finding]:
    for path, name, family in _policy_refs(spec):
        known = _policy_ids(spec, family)
        if isinstance(name, str) and name not in known:
            where = f"spec.policies.{family}.definitions"
            yield Finding(
                path,
                f"policy `{name}` is not defined in {where}; it only works if the platform provides it",
                _hint(name, known, where),
            )


def _subjourney_refs(spec: SpecFile) -> list[tuple[DocPath, Any]]:
    refs: list[tuple[DocPath, Any]] = []
    for ref in iter_states(spec.data):
        body = ref.state.get("subjourney")
        if ref.type == "subjourney" and isinstance(body, dict) and "ref" in body:
            refs.append((ref.path + ("subjourney", "ref"), body["ref"]))
    access = spec_body(spec).get("access")
    read = access.get("read") if isinstance(access, dict) else None
    if isinstance(read, dict) and "guardRef" in read:
        refs.append((("spec", "access", "read", "guardRef"), read["guardRef"]))
    return refs


@check("unused-subjourney", "warning", "A subjourney that no subjourney state or read guard uses.")
def unused_subjourney(spec: SpecFile) -> Iterator[Finding]:
    used = {name for _, name in _subjourney_refs(spec) if isinstance(name, str)}
    for name in _names(spec_body(spec).get("subjourneys")):
        if name not in used:
            yield Finding(
                ("spec", "subjourneys", name),
                f"subjourney `{name}` is never called",
                "call it from a `type: subjourney` state (`subjourney.ref`), or remove it",
                at="key",
            )


@check("unknown-subjourney", "error", "A subjourney state or read guard names no entry of spec.subjourneys.")
def unknown_subjourney(spec: SpecFile) -> Iterator[Finding]:
    known = _names(spec_body(spec).get("subjourneys"))
    for path, name in _subjourney_refs(spec):
        if isinstance(name, str) and name not in known:
            yield Finding(
                path,
                f"subjourney `{name}` is not defined in spec.subjourneys",
                _hint(name, known, "spec.subjourneys"),
            )


PLATFORM_CONFIG = re.compile(r"\bplatform\.config\.([A-Za-z_][A-Za-z0-9_]*)")


@check("undeclared-platform-config", "warning", "An expression reads a platform.config key spec.platform.config lacks.")
def undeclared_platform_config(spec: SpecFile) -> Iterator[Finding]:
    platform = spec_body(spec).get("platform")
    declared = _names(platform.get("config")) if isinstance(platform, dict) else []
    for path, node in walk(spec_body(spec), ("spec",)):
        if not isinstance(node, dict) or not isinstance(node.get("expr"), str):
            continue
        for name in dict.fromkeys(PLATFORM_CONFIG.findall(node["expr"])):
            if name not in declared:
                yield Finding(
                    path + ("expr",),
                    f"`platform.config.{name}` is not declared in spec.platform.config, so the platform never "
                    "binds it",
                    f"declare it under spec.platform.config.{name} with a `type` (and `required`)"
                    if not declared else _hint(name, declared, "spec.platform.config"),
                )
