"""Task plugin configuration beyond the JSON Schema: each plugin checks its own `task` block
(jctl/tasks/plugins.py), for example that the schema files it names exist and are JSON Schemas."""

from __future__ import annotations

from collections.abc import Iterator

from jctl.checks import SpecFile, check
from jctl.checks.traverse import iter_tasks
from jctl.diagnostics import Finding


@check("plugin-config", "error", "A task plugin's configuration is inconsistent (dsl.md 5.2, 5.3, 15, 18, 19).")
def plugin_config(spec: SpecFile) -> Iterator[Finding]:
    from jctl.tasks.plugins import plugin_for

    for ref, task in iter_tasks(spec):
        plugin = plugin_for(task.get("kind"))
        if plugin is None:
            continue
        for path, message, hint in plugin.check(task, spec.path):
            yield Finding(ref.path + ("task", *path), f"state `{ref.state_id}`: {message}", hint)
