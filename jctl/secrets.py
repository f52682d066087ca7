"""Local secrets for `secretRef` (dsl.md 7, 19): a YAML mapping of secretRef to value named by `--secrets FILE`
or JCTL_SECRETS, never the spec. Values are only handed to the code that uses them (auth headers, token
requests); `scrub`/`scrubbed` blank any of them out of text or JSON that is about to be shown or recorded (a
server that echoes a token back under an innocent name)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jctl.errors import UsageError

MASK = "***"


class SecretError(Exception):
    """A secretRef has no value; the message names the ref, never a value."""


@dataclass
class Secrets:
    values: dict[str, str] = field(default_factory=dict)
    source: str = "no secrets file (pass --secrets FILE or set JCTL_SECRETS)"

    def resolve(self, ref: object) -> str:
        if not isinstance(ref, str) or ref not in self.values:
            raise SecretError(f"secretRef {ref!r} has no value in {self.source}")
        return self.values[ref]

    def scrubbed(self, value: Any) -> Any:
        """A JSON value with every secret value blanked out of its strings (itself when there are no secrets)."""
        if not self.values:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {key: self.scrubbed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrubbed(item) for item in value]
        return value

    def scrub(self, text: str) -> str:
        """`text` with every secret value (longest first) replaced by ***."""
        for value in self._maskable:
            text = text.replace(value, MASK)
        return text

    @functools.cached_property
    def _maskable(self) -> list[str]:
        """The values scrub replaces, longest first, sorted once: `scrubbed` scrubs every string of a document."""
        # a 1-3 character "secret" would blank out ordinary text
        return sorted((value for value in self.values.values() if len(value) >= 4), key=len, reverse=True)


def load_secrets(path: Path | None) -> Secrets:
    """The secrets file given, else JCTL_SECRETS, else none; a bad file is a usage error (exit 2)."""
    if path is None:
        configured = os.environ.get("JCTL_SECRETS", "").strip()
        if not configured:
            return Secrets()
        path = Path(configured).expanduser()
    import yaml  # after the common case (no secrets): `jctl status` stays lean

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read secrets file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise UsageError(f"{where}: the secrets file is not valid YAML") from None  # no excerpt: it may hold secrets
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, (str, int)) for k, v in
                                             data.items()):
        raise UsageError(f"{path}: a secrets file is a mapping of secretRef to value, "
                         f"for example `secret://tokens/backend: s3cr3t`")
    return Secrets({key: str(value) for key, value in data.items()}, str(path))
