"""Remembers which journey specs linted clean, so `jctl run` does not lint an unchanged spec again.

An entry is keyed by the spec's bytes and the linter's own files; it lists every other file the lint read (the
OpenAPI documents of `spec.apis`) with the hash of its bytes, and holds only while each still has them. Only clean
results are kept: a spec with errors is linted every time, so its errors are always shown. The entries live in
`$XDG_CACHE_HOME/jctl/lint` (default `~/.cache/jctl/lint`); deleting the folder is always safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import jctl

MAX_ENTRIES = 2_000


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jctl" / "lint"


def linted_clean(spec_path: Path, spec_bytes: bytes | None = None, *, resolved: str | None = None) -> bool:
    """True when this exact spec (`spec_bytes`: its bytes, and `resolved`: its resolved path, when the caller has
    them), with the same files beside it, linted without errors before."""
    key = _entry_key(spec_path, spec_bytes, resolved)
    if key is None:
        return False
    try:
        dependencies = _FOUND_CLEAN.get(key)
        if dependencies is None:
            dependencies = json.loads((cache_dir() / f"{key}.json").read_text(encoding="utf-8"))["dependencies"]
        clean = all(_file_hash(Path(path)) == digest for path, digest in dependencies.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    if clean and key not in _FOUND_CLEAN:
        if len(_FOUND_CLEAN) >= MAX_ENTRIES:
            _FOUND_CLEAN.clear()
        _FOUND_CLEAN[key] = dict(dependencies)
    return clean


# Entries this process found clean, by key, with their dependencies: an entry is a function of its key (the spec's
# bytes and path, the linter), so a process starting many instances reads it once; the dependencies are still
# hashed every time.
_FOUND_CLEAN: dict[str, dict[str, str]] = {}


def remember_clean(spec_path: Path, files_read: list[Path], spec_bytes: bytes | None = None, *,
                   resolved: str | None = None) -> None:
    """Record a clean lint of `spec_path` (whose bytes the caller may have read), which read `files_read` besides
    it. A cache that cannot be written is no error: the next run lints again."""
    key = _entry_key(spec_path, spec_bytes, resolved)
    if key is None:
        return
    entry = cache_dir() / f"{key}.json"
    import tempfile

    spec = spec_path.resolve()
    try:
        dependencies = {str(path): _file_hash(path) for path in files_read if path.resolve() != spec}
        entry.parent.mkdir(parents=True, exist_ok=True)
        _prune(entry.parent)
        with tempfile.NamedTemporaryFile("w", dir=entry.parent, delete=False, suffix=".tmp", encoding="utf-8") as out:
            json.dump({"spec": str(spec), "dependencies": dependencies}, out)
        os.replace(out.name, entry)
    except OSError:
        return


def _entry_key(spec_path: Path, spec_bytes: bytes | None = None, resolved: str | None = None) -> str | None:
    try:
        spec_bytes = spec_path.read_bytes() if spec_bytes is None else spec_bytes
    except OSError:
        return None
    key = _linter_hash(_linter_fingerprint()).copy()
    key.update((resolved or str(spec_path.resolve())).encode() + b"\0" + spec_bytes)
    return key.hexdigest()


@functools.lru_cache(maxsize=1)
def _linter_hash(fingerprint: str) -> hashlib._Hash:
    """The hash of the linter's fingerprint, the first part of every key: hashed once per process."""
    return hashlib.sha256(fingerprint.encode() + b"\0")


@functools.lru_cache(maxsize=1)
def _linter_fingerprint() -> str:
    """The jctl version and the size and time of every file the linter is made of: a changed rule, schema or
    engine (a development checkout) makes every earlier entry obsolete. Read once per process: the linter this
    process runs is the one it imported."""
    package = Path(jctl.__file__).parent
    parts = [jctl.__version__]
    for pattern in ("*.py", "checks/*.py", "spec/*.py", "expr/*.py", "data/*.json"):
        for path in sorted(package.glob(pattern)):
            stat = path.stat()
            parts.append(f"{path.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}")
    return "\n".join(parts)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _prune(directory: Path) -> None:
    entries = list(directory.glob("*.json"))
    if len(entries) < MAX_ENTRIES:
        return
    entries.sort(key=lambda path: path.stat().st_mtime)
    for stale in entries[: len(entries) - MAX_ENTRIES // 2]:
        stale.unlink(missing_ok=True)
