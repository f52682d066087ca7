"""What inbound auth plugins (dsl.md 18) share: reading a credential from the inbound request of the command that
drives the instance (jctl.tasks.request), their profiles from the plugin config file, and the Problem Details they
write under `context.<authVar>`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jctl.tasks.plugins import PluginError, TaskCall

PROBLEM_BASE = "https://journeyforge.dev/problem/plugins"


def profile(call: TaskCall, plugin: str, prefix: str) -> dict[str, Any]:
    """The task's profile (default "default") from the plugin config, or a *_CONFIG_PROFILE_MISSING failure."""
    name = str(call.task.get("profile") or "default")
    profiles = ((call.plugin_config.get(plugin) or {}).get("profiles") or {})
    found = profiles.get(name)
    if not isinstance(found, dict):
        raise PluginError(f"{prefix}_CONFIG_PROFILE_MISSING", f"{plugin} profile {name!r} is not configured; add "
                          f"{plugin}.profiles.{name} to the plugin config file (--plugin-config / JCTL_PLUGIN_CONFIG)")
    return found


def read_source(call: TaskCall, settings: dict[str, Any], prefix: str) -> str | None:
    """The raw credential at the effective source (task `source`, else the profile's); None when absent."""
    source = call.task.get("source") or settings.get("source")
    if not isinstance(source, dict) or not source.get("location") or not source.get("name"):
        raise PluginError(f"{prefix}_CONFIG_INVALID", "no usable credential source: set task.source or the "
                          "profile's source (location and name)")
    request = call.request
    if request is None:
        return None
    location, name = source["location"], str(source["name"])
    value = (request.header(name) if location == "header" else request.query.get(name) if location == "query"
             else request.cookie(name) if location == "cookie" else None)
    scheme = source.get("scheme")
    if value and scheme and value.lower().startswith(str(scheme).lower() + " "):
        value = value[len(str(scheme)) + 1:].strip()
    return value or None


def problem(area: str, code: str, title: str, detail: str, status: int = 401) -> dict[str, Any]:
    slug = code.lower().split("_", 1)[1].replace("_", "-")
    return {"type": f"{PROBLEM_BASE}/{area}/{slug}", "title": title, "status": status, "detail": detail, "code": code}


def write_view(context: dict[str, Any], task: dict[str, Any], mechanism: str, view: dict[str, Any]) -> dict[str, Any]:
    """`context.<authVar or auth>.<mechanism>` replaced by `view` (success fields or only `problem`)."""
    namespace = str(task.get("authVar") or "auth")
    holder = dict(context.get(namespace) or {}) if isinstance(context.get(namespace), dict) else {}
    holder[mechanism] = view
    return {**context, namespace: holder}


def config_path(call: TaskCall, value: Any) -> Path:
    """A file named in the plugin config, relative to that file."""
    base = call.plugin_config_dir or Path.cwd()
    return base / str(value)
