"""Load YAML/JSON spec files into plain JSON values plus a source map of every node's position.

The document is built from libyaml's event stream (not its composer) so that depth, alias expansion and size are
bounded while reading, duplicate keys are caught at their second occurrence, and every node keeps `line:column`.
A document read only for its values (a linked file that is indexed, not linted) skips the positions until asked.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import yaml

from jctl.diagnostics import Anchor, DocPath

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 256
MAX_NODES = 50_000  # counting alias expansions; the largest real spec seen has ~3,000 nodes


class NodePos(NamedTuple):
    """0-based positions of a node (and of its mapping key, when it is a mapping value). A named tuple: one is
    made per node of every document read, and a tuple is several times cheaper to build than a frozen dataclass."""

    line: int
    column: int
    end_line: int
    end_column: int
    key_line: int
    key_column: int
    style: str | None = None  # scalar style: None plain, "'" '"' "|" ">"


@dataclass
class SourceMap:
    positions: dict[DocPath, NodePos] = field(default_factory=dict)

    def lookup(self, path: DocPath) -> tuple[DocPath, NodePos | None]:
        """The position of `path`, or of its nearest ancestor that has one."""
        while True:
            pos = self.positions.get(path)
            if pos is not None or not path:
                return path, pos
            path = path[:-1]

    def line_col(self, path: DocPath, at: Anchor = "value") -> tuple[int, int]:
        """1-based (line, column) for a finding at `path`."""
        found, pos = self.lookup(path)
        if pos is None:
            return 1, 1
        if at == "key" or found != path:
            return pos.key_line + 1, pos.key_column + 1
        return pos.line + 1, pos.column + 1


class _Mark(Protocol):
    """A 0-based place in the text, as the parser's marks (pure-Python or libyaml) give it."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


class LoadError(Exception):
    """The file could not be turned into a document; carries a 1-based position."""

    def __init__(self, message: str, line: int = 1, column: int = 1, hint: str = "", rule: str = "yaml-syntax"):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        self.rule = rule

    @classmethod
    def at(cls, mark: _Mark, message: str, hint: str = "") -> LoadError:
        """An error at a parser mark (0-based), reported 1-based."""
        return cls(message, mark.line + 1, mark.column + 1, hint)


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    path: DocPath
    line: int  # 1-based, of the second occurrence
    column: int
    first_line: int


class LoadedDocument:
    """A file read into plain values. Its source map and duplicate keys are found by a second, positioned parse the
    first time something asks for them when the file was read for its values alone (a linked document that is only
    indexed): most such documents never need a position."""

    def __init__(self, path: Path, text: str, data: Any, source_map: SourceMap | None = None,
                 duplicate_keys: list[DuplicateKey] | None = None):
        self.path = path
        self.text = text
        self.data = data
        self._source_map = source_map
        self._duplicate_keys = duplicate_keys

    @property
    def source_map(self) -> SourceMap:
        if self._source_map is None:
            self._locate()
        assert self._source_map is not None
        return self._source_map

    @property
    def duplicate_keys(self) -> list[DuplicateKey]:
        if self._duplicate_keys is None:
            self._locate()
        assert self._duplicate_keys is not None
        return self._duplicate_keys

    def _locate(self) -> None:
        positioned = parse_document(self.text, self.path)
        self._source_map, self._duplicate_keys = positioned.source_map, positioned.duplicate_keys

    @functools.cached_property
    def lines(self) -> list[str]:
        """`text.splitlines()`, split once: findings inside scalars each look up their line."""
        return self.text.splitlines()


class _Resolver(yaml.resolver.Resolver):
    """YAML 1.2 core-schema booleans: `on`/`yes`/`no` stay strings, as in JSON and the DSL's YAML subset."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_RESOLVER = _Resolver()
# First characters an implicitly typed plain scalar (number, bool, null, ...) can start with ("" for empty)
_IMPLICIT_FIRST = frozenset(_Resolver.yaml_implicit_resolvers)  # holds no None: no wildcard resolver
_SCALAR_CONSTRUCTOR = yaml.SafeLoader("")
# Plain scalars an implicit type resolves (numbers, booleans, null) by their text: immutable values, and a spec
# spells few of them (`200`, `true`, `1`) many times over
_IMPLICIT_VALUES: dict[str, Any] = {}
_IMPLICIT_MEMO = 4096
_KEEP_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:merge"}


def read_text(path: Path) -> str:
    """Read a spec file as UTF-8 text, refusing binary, oversized and non-UTF-8 content with a LoadError."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # never more: a huge file (or /dev/zero) is refused without reading it
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}", rule="unreadable") from exc
    return decode_text(raw)


def decode_text(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise LoadError(
            f"file is larger than {MAX_BYTES // 1048576} MB, the most jctl reads in a spec file",
            hint="split the spec, or check that this is the file you meant",
        )
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise LoadError("file contains NUL bytes: it looks binary, not YAML or JSON", line=line)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise LoadError(
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", line, column, hint="save the file as UTF-8"
        ) from exc
    return text.removeprefix("\ufeff")


def load_document(path: Path, *, positions: bool = True) -> LoadedDocument:
    text = read_text(path)
    return parse_document(text, path, positions=positions)


def parse_document(text: str, path: Path, *, positions: bool = True) -> LoadedDocument:
    """The document in `text`; with `positions=False` only its values (the same values, the same errors, in about
    two thirds of the time), its positions then found on first use."""
    if not text.strip():
        raise LoadError("file is empty", hint="a spec starts with `apiVersion: v1` and `kind:`")
    parser = yaml.CSafeLoader(text)
    try:
        built = _build(parser.get_event, positions)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise LoadError(f"{problem}{context}", line, column) from None
    except yaml.YAMLError as exc:
        raise LoadError(str(exc)) from None
    finally:
        parser.dispose()
    if built.documents == 0:
        raise LoadError("file holds no YAML document", hint="a spec starts with `apiVersion: v1` and `kind:`")
    if not positions:
        return LoadedDocument(path, text, built.root)
    return LoadedDocument(path, text, built.root, SourceMap(built.positions), built.duplicates)


class _Frame:
    """An open mapping or sequence: its value so far, where it is, and the key whose value comes next."""

    __slots__ = ("value", "path", "anchor", "is_map", "key", "key_mark", "seen", "size")

    def __init__(self, value: dict[str, Any] | list[Any], path: DocPath, anchor: str | None):
        self.value = value
        self.path = path
        self.anchor = anchor
        self.is_map = isinstance(value, dict)
        self.key: str | None = None
        self.key_mark: Any = None
        self.seen: dict[str, int] = {}
        self.size = 1


# Makes a NodePos from all seven fields in half the time of NodePos(...), whose `__new__` is a Python function: one
# is made per node of every positioned document
_node_pos = tuple.__new__


class _Built(NamedTuple):
    root: Any
    positions: dict[DocPath, NodePos]
    duplicates: list[DuplicateKey]
    documents: int


def _build(next_event: Callable[[], Any], positioned: bool) -> _Built:
    """Plain values (and, when `positioned`, every node's position) from libyaml's events, with the bounds applied
    as it goes. One loop with the common cases inline: it runs once per event of every file read."""
    positions: dict[DocPath, NodePos] = {}
    duplicates: list[DuplicateKey] = []
    anchors: dict[str, tuple[Any, int]] = {}
    stack: list[_Frame] = []
    top: _Frame | None = None
    root: Any = None
    documents = nodes = 0
    scalar_event, start_events = yaml.ScalarEvent, (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    end_events = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    implicit_first, implicit_values = _IMPLICIT_FIRST, _IMPLICIT_VALUES
    while (event := next_event()) is not None:
        kind = type(event)
        if kind is scalar_event:
            nodes += 1
            if nodes > MAX_NODES:
                raise _too_many(event.start_mark)
            text = event.value
            if top is not None and top.is_map and top.key is None:
                if positioned:
                    _take_key(top, text, event.start_mark, duplicates)
                else:
                    top.key = text
                continue
            if event.tag is None and (not event.implicit[0] or text[:1] not in implicit_first):
                value = text  # quoted, block, or plain text no implicit type starts with: a string, as resolved
            elif event.tag is None and event.implicit[0] and text in implicit_values:
                value = implicit_values[text]  # `200`, `true`, `null`: a few spellings, resolved once per process
            else:
                value = _construct_scalar(event)
                if event.tag is None and event.implicit[0] and len(implicit_values) < _IMPLICIT_MEMO:
                    implicit_values[text] = value
            if event.anchor is not None:
                anchors[event.anchor] = (value, 1)
            if top is None:
                if positioned:
                    start, end = event.start_mark, event.end_mark
                    positions[()] = _node_pos(NodePos, (start.line, start.column, end.line, end.column, start.line,
                                                        start.column, event.style))
                root = value
                continue
            top.size += 1
            if top.is_map:
                key = top.key
                assert key is not None
                if positioned:
                    start, end, key_mark = event.start_mark, event.end_mark, top.key_mark
                    positions[top.path + (key,)] = _node_pos(NodePos, (
                        start.line, start.column, end.line, end.column, key_mark.line, key_mark.column, event.style))
                top.key = None
                top.value[key] = value  # type: ignore[call-overload]
            else:
                if positioned:
                    start, end = event.start_mark, event.end_mark
                    positions[top.path + (len(top.value),)] = _node_pos(NodePos, (
                        start.line, start.column, end.line, end.column, start.line, start.column, event.style))
                top.value.append(value)  # type: ignore[union-attr]
        elif kind in start_events:
            nodes += 1
            if nodes > MAX_NODES:
                raise _too_many(event.start_mark)
            if top is not None and top.is_map and top.key is None:
                raise LoadError.at(event.start_mark, "complex (non-scalar) mapping keys are not supported")
            if len(stack) >= MAX_DEPTH:
                raise LoadError.at(event.start_mark, f"nesting deeper than {MAX_DEPTH} levels",
                                   hint="specs are shallow documents; this looks generated or corrupted")
            path = _child_path(top)
            if positioned:
                _record(positions, path, top, event, None)
            top = _Frame({} if kind is yaml.MappingStartEvent else [], path, event.anchor)
            stack.append(top)
        elif kind in end_events:
            closed = stack.pop()
            top = stack[-1] if stack else None
            if positioned:
                opened, end = positions[closed.path], event.end_mark
                positions[closed.path] = _node_pos(NodePos, (opened.line, opened.column, end.line, end.column,
                                                             opened.key_line, opened.key_column, None))
            if closed.anchor is not None:
                anchors[closed.anchor] = (closed.value, closed.size)
            if top is None:
                root = closed.value
            else:
                _attach(top, closed.value, closed.size)
        elif kind is yaml.AliasEvent:
            anchored = anchors.get(event.anchor) if event.anchor is not None else None
            if anchored is None:
                raise LoadError.at(event.start_mark, f"unknown alias *{event.anchor}")
            value, size = anchored
            nodes += size
            if nodes > MAX_NODES:
                raise _too_many(event.start_mark)
            if top is not None and top.is_map and top.key is None:
                if not isinstance(value, str):
                    raise LoadError.at(event.start_mark, "mapping keys must be plain strings")
                if positioned:
                    _take_key(top, value, event.start_mark, duplicates)
                else:
                    top.key = value
                continue
            if top is None:
                root = value
                continue
            path = _child_path(top)
            if positioned and path not in positions:
                _record(positions, path, top, event, None)
            _attach(top, value, size)
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise LoadError.at(event.start_mark, "file holds more than one YAML document",
                                   hint="keep one spec per file; remove the extra `---`")
    return _Built(root, positions, duplicates, documents)


def _too_many(mark: _Mark) -> LoadError:
    return LoadError.at(
        mark,
        f"document has more than {MAX_NODES:,} nodes (after alias expansion); jctl refuses specs this large",
        hint="anchors and aliases that multiply content are not allowed in specs",
    )


def _take_key(frame: _Frame, key: str, mark: _Mark, duplicates: list[DuplicateKey]) -> None:
    first_line = frame.seen.get(key)
    if first_line is not None:
        duplicates.append(DuplicateKey(frame.path + (key,), mark.line + 1, mark.column + 1, first_line))
    else:
        frame.seen[key] = mark.line + 1
    frame.key_mark = mark
    frame.key = key


def _child_path(top: _Frame | None) -> DocPath:
    if top is None:
        return ()
    if top.is_map:
        assert top.key is not None
        return top.path + (top.key,)
    return top.path + (len(top.value),)


def _record(positions: dict[DocPath, NodePos], path: DocPath, top: _Frame | None, event: Any,
            style: str | None) -> None:
    start, end = event.start_mark, event.end_mark
    key_mark = top.key_mark if top is not None and top.is_map else start
    positions[path] = _node_pos(NodePos, (start.line, start.column, end.line, end.column, key_mark.line,
                                          key_mark.column, style))


def _attach(top: _Frame, value: Any, size: int) -> None:
    """Put a finished collection or an alias's value into the open collection `top`."""
    top.size += size
    if not top.is_map:
        top.value.append(value)  # type: ignore[union-attr]
        return
    key = top.key
    assert key is not None
    top.key = None
    if key == "<<" and isinstance(value, (dict, list)):
        _merge(top.value, value)  # type: ignore[arg-type]
        return
    top.value[key] = value  # type: ignore[call-overload]


def _merge(target: dict[str, Any], source: dict[str, Any] | list[Any]) -> None:
    sources = source if isinstance(source, list) else [source]
    for item in sources:
        if isinstance(item, dict):
            for key, value in item.items():
                target.setdefault(key, value)


def _construct_scalar(event: yaml.ScalarEvent) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag in _KEEP_AS_TEXT or not tag.startswith("tag:yaml.org,2002:"):
        return event.value
    node = yaml.ScalarNode(tag, event.value, None, None, event.style)  # marks only feed messages we drop
    try:
        value = _SCALAR_CONSTRUCTOR.construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError):
        return event.value
    if isinstance(value, float) and value != value:  # NaN has no JSON form
        return event.value
    return value
