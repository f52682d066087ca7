"""`$ref`s of an OpenAPI document: local (`#/components/...`) and relative-file ones resolved through the
workspace (each file parsed once per run), a broken one reported once at its `$ref`, and chains of `$ref`s that
loop without ever reaching a value. A cycle through a schema's properties is legal and never followed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jctl.checks import SpecFile, check
from jctl.diagnostics import DocPath, Finding
from jctl.spec.loader import LoadedDocument, LoadError

_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, urn:… are not fetched
_BAD_ESCAPE = re.compile(r"~(?![01])")
_MAX_HOPS = 64


class PointerError(ValueError):
    """A JSON pointer that cannot be read (RFC 6901): no leading `/`, or `~` not followed by 0 or 1."""


def pointer_parts(fragment: str) -> DocPath:
    """The keys of a `$ref` fragment (percent-decoded, `~1` → `/`, `~0` → `~`)."""
    pointer = unquote(fragment)
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise PointerError(f"`#{fragment}` is not a JSON pointer (it must start with `/`)")
    bad = _BAD_ESCAPE.search(pointer)
    if bad:
        raise PointerError(f"`#{fragment}` has `{pointer[bad.start():bad.start() + 2]}`: in a JSON pointer `~` "
                           "is only `~0` (a `~`) or `~1` (a `/`)")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/"))


@dataclass(frozen=True)
class Target:
    """What a `$ref` points at: the document holding it, the node's path there, and the node."""

    document: LoadedDocument
    path: DocPath
    node: Any


class RefProblem(Exception):
    """Why a `$ref` cannot be followed, in words for a message."""


_ABSENT = object()


def _node(data: Any, path: DocPath) -> Any:
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, str) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _ABSENT
    return node


def follow(spec: SpecFile, document: LoadedDocument, ref: str) -> Target:
    """The node `ref` (written in `document`) points at; raises RefProblem when it points at nothing."""
    file_part, _, fragment = ref.partition("#")
    if file_part:
        document = _load(spec, document, file_part)
    try:
        parts = pointer_parts(fragment)
    except PointerError as exc:
        raise RefProblem(str(exc)) from None
    node = _node(document.data, parts)
    if node is _ABSENT:
        where = "this file" if not file_part else f"`{file_part}`"
        raise RefProblem(f"`$ref: {ref}` points at nothing in {where}")
    path = tuple(int(p) if isinstance(_node(document.data, parts[:i]), list) else p for i, p in enumerate(parts))
    return Target(document, path, node)


def _load(spec: SpecFile, document: LoadedDocument, file_part: str) -> LoadedDocument:
    relative = Path(unquote(file_part))
    path = relative if relative.is_absolute() else document.path.resolve().parent / relative
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system
        found = False
    if not found:
        raise RefProblem(f"`{file_part}` is not a file (looked for {path})")
    loaded = spec.workspace.load(path, positions=False)
    if isinstance(loaded, LoadError):
        raise RefProblem(f"`{file_part}` cannot be read: {loaded.message} (its line {loaded.line})")
    return loaded


def resolve(spec: SpecFile, document: LoadedDocument, node: Any) -> Target | None:
    """`node` with its chain of `$ref`s followed (local and relative-file), or None when one cannot be followed
    or the chain loops; a node without `$ref` comes back as itself (with an empty path)."""
    current = Target(document, (), node)
    seen: set[tuple[Path, str]] = set()
    while isinstance(current.node, dict) and isinstance(current.node.get("$ref"), str):
        ref = current.node["$ref"]
        if _REMOTE.match(ref) or len(seen) >= _MAX_HOPS:
            return None
        try:
            current = follow(spec, current.document, ref)
        except RefProblem:
            return None
        key = (current.document.path, "/".join(map(str, current.path)))
        if key in seen:
            return None
        seen.add(key)
    return current


def iter_refs(node: Any, path: DocPath = ()) -> Iterator[tuple[DocPath, str]]:
    """Every `$ref` string below `node`, with the path of its `$ref` key, in document order."""
    found: list[tuple[DocPath, str]] = []
    _collect_refs(node, path, found)
    return iter(found)


_REFS_CACHE: dict[Path, tuple[Any, list[tuple[DocPath, str]]]] = {}


def document_refs(document: LoadedDocument) -> list[tuple[DocPath, str]]:
    """`iter_refs` of a whole document, walked once per loaded document (several checks read them)."""
    cached = _REFS_CACHE.get(document.path)
    if cached is not None and cached[0] is document.data:
        return cached[1]
    if len(_REFS_CACHE) > 512:
        _REFS_CACHE.clear()
    found: list[tuple[DocPath, str]] = []
    _collect_refs(document.data, (), found)
    _REFS_CACHE[document.path] = (document.data, found)
    return found


def _collect_refs(node: Any, at: DocPath, found: list[tuple[DocPath, str]]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.append((at + ("$ref",), ref))
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                _collect_refs(value, at + (key,), found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, (dict, list)):
                _collect_refs(value, at + (index,), found)


@check("openapi-ref", "error",
       "A `$ref` points at a missing file, at nothing in its file, through a malformed JSON pointer, or into a "
       "chain of `$ref`s that loops without reaching a value.", kinds=("openapi",))
def check_refs(spec: SpecFile) -> Iterator[Finding]:
    reported_cycles: set[frozenset[tuple[Path, str]]] = set()
    beyond: dict[tuple[Path, DocPath], tuple[str, str] | None] = {}  # one walk per target, however many refs use it
    for path, ref in document_refs(spec.document):
        if _REMOTE.match(ref):
            continue
        try:
            target = follow(spec, spec.document, ref)
        except RefProblem as exc:
            yield Finding(path, str(exc), _hint(ref, spec.data))
            continue
        cycle = _ref_cycle(spec, target)
        if cycle is not None and cycle[0] not in reported_cycles:
            reported_cycles.add(cycle[0])
            yield Finding(path, f"`$ref: {ref}` leads into a loop of `$ref`s that never reaches a value "
                                f"({cycle[1]})", "point one of them at a real schema or object")
        elif cycle is None and target.document is not spec.document:
            key = (target.document.path, target.path)
            if key not in beyond:
                beyond[key] = _broken_beyond(spec, target)
            problem = beyond[key]
            if problem is not None:
                yield Finding(path, f"`$ref: {ref}` leads to a broken reference in {problem[0]}", problem[1])


def _hint(ref: str, data: Any = None) -> str:
    if "#" not in ref and _node(data, tuple(ref.strip("/").split("/"))) is not _ABSENT:
        return f"a pointer into this file starts with `#`: did you mean `#/{ref.strip('/')}`?"
    if "~" in ref and _BAD_ESCAPE.search(unquote(ref.partition("#")[2])):
        return "escape `/` in a key as `~1` and `~` as `~0` (a path `/items/{id}` is `#/paths/~1items~1{id}`)"
    if ref.partition("#")[0]:
        return "fix the file name (relative to this file) or the pointer after `#`"
    return "fix the pointer or add the component it names"


def _ref_cycle(spec: SpecFile, start: Target) -> tuple[frozenset[tuple[Path, str]], str] | None:
    """The members of a pure `$ref` loop `start` falls into, and a short description of it, else None."""
    chain: list[tuple[Path, str]] = []
    current = start
    while isinstance(current.node, dict) and isinstance(current.node.get("$ref"), str) and len(chain) < _MAX_HOPS:
        key = (current.document.path, "#/" + "/".join(map(str, current.path)))
        if key in chain:
            loop = chain[chain.index(key):]
            return frozenset(loop), " → ".join(pointer for _, pointer in loop + [key])
        chain.append(key)
        ref = current.node["$ref"]
        if _REMOTE.match(ref):
            return None
        try:
            current = follow(spec, current.document, ref)
        except RefProblem:
            return None  # reported at that `$ref` itself
    return None


def _broken_beyond(spec: SpecFile, target: Target) -> tuple[str, str] | None:
    """The first broken `$ref` inside the part of another file this one uses (where it is and what is wrong, and a
    hint), when that file is not linted on its own (an `*.openapi.*` file is); reported at the `$ref` leading there."""
    seen: set[tuple[Path, str]] = set()
    pending = [target]
    while pending:
        current = pending.pop()
        key = (current.document.path, "/".join(map(str, current.path)))
        if key in seen or ".openapi." in current.document.path.name.lower() or len(seen) > 512:
            continue
        seen.add(key)
        for inner_path, inner in iter_refs(current.node, current.path):
            if _REMOTE.match(inner):
                continue
            try:
                pending.append(follow(spec, current.document, inner))
            except RefProblem as exc:
                line = current.document.source_map.line_col(inner_path, "value")[0]
                return f"{current.document.path.name} line {line}: {exc}", _hint(inner)
    return None
