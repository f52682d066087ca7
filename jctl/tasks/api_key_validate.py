"""apiKeyValidate:v1 (dsl.md 18.8): the key at the source is compared (in constant time) with the profile's keys,
each a key id mapped to a secretRef resolved from the secrets file; only the key id reaches context."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jctl.secrets import SecretError
from jctl.tasks.inbound import profile, problem, read_source, write_view
from jctl.tasks.plugins import Issue, PluginError, TaskCall, TaskOutcome


class ApiKeyValidate:
    kind = "apiKeyValidate:v1"

    def check(self, task: dict[str, Any], spec_path: Path | None) -> Iterator[Issue]:
        source = task.get("source")
        if isinstance(source, dict) and source.get("location") not in (None, "header", "query"):
            yield ("source", "location"), f"apiKeyValidate:v1 reads keys from a header or a query parameter, not " \
                f"{source.get('location')!r}", "use `location: header` or `location: query`"

    def run(self, call: TaskCall) -> TaskOutcome:
        settings = profile(call, "apiKeyValidate", "APIKEY")
        keys = settings.get("keys")
        if not isinstance(keys, dict) or not keys:
            raise PluginError("APIKEY_CONFIG_KEYS_UNUSABLE", "the apiKeyValidate profile needs `keys`: a mapping "
                              "of key id to secretRef")
        presented = read_source(call, settings, "APIKEY")
        view: dict[str, Any]
        if presented is None:
            view = {"problem": problem("apikey", "APIKEY_MISSING", "API key missing",
                                       "no API key at the configured source")}
            return self._done(call, view, None)
        matched = None
        for key_id, ref in keys.items():
            try:
                expected = call.secrets.resolve(ref)
            except SecretError as exc:
                raise PluginError("APIKEY_CONFIG_KEYS_UNUSABLE", f"key {key_id}: {exc}") from None
            if hmac.compare_digest(expected.encode(), presented.encode()):
                matched = str(key_id)
        if matched is None:
            view = {"problem": problem("apikey", "APIKEY_INVALID", "API key invalid",
                                       "the API key matches no configured key")}
        else:
            view = {"keyId": matched}
        return self._done(call, view, matched)

    @staticmethod
    def _done(call: TaskCall, view: dict[str, Any], key_id: str | None) -> TaskOutcome:
        outcome = (view.get("problem") or {}).get("code", "ok")
        return TaskOutcome(write_view(call.context, call.task, "apiKey", view),
                           record={"auth": {"mechanism": "apiKey", "outcome": outcome, "keyId": key_id}})


PLUGIN = ApiKeyValidate()
