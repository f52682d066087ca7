"""Load YAML/JSON spec files into plain JSON values plus a source map of every node's position.

The document is built from libyaml's event stream (not its composer) so that depth, alias expansion and size are
bounded while reading, duplicate keys are caught at their second occurrence, and every node keeps `line:column`.
"""

from __future__ import annotations

import re
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


class _Origin(NamedTuple):
    """Stands in for a missing mark: the stubs allow None, though libyaml sets a mark on every event."""

    line: int = 0
    column: int = 0


def _start(event: yaml.Event) -> _Mark:
    return event.start_mark or _Origin()


def _end(event: yaml.Event) -> _Mark:
    return event.end_mark or _Origin()


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


@dataclass
class LoadedDocument:
    path: Path
    text: str
    data: Any
    source_map: SourceMap
    duplicate_keys: list[DuplicateKey]


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


def load_document(path: Path) -> LoadedDocument:
    text = read_text(path)
    return parse_document(text, path)


def parse_document(text: str, path: Path) -> LoadedDocument:
    if not text.strip():
        raise LoadError("file is empty", hint="a spec starts with `apiVersion: v1` and `kind:`")
    builder = _DocumentBuilder()
    parser = yaml.CSafeLoader(text)
    try:
        feed, next_event = builder.feed, parser.get_event
        while (event := next_event()) is not None:
            feed(event)
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
    if builder.documents == 0:
        raise LoadError("file holds no YAML document", hint="a spec starts with `apiVersion: v1` and `kind:`")
    return LoadedDocument(path, text, builder.root, builder.source_map, builder.duplicates)


class _Frame:
    __slots__ = ("value", "path", "anchor", "pending_key", "key_mark", "seen", "size")

    def __init__(self, value: dict[str, Any] | list[Any], path: DocPath, anchor: str | None):
        self.value = value
        self.anchor = anchor
        self.path = path
        self.pending_key: str | None = None
        self.key_mark: _Mark | None = None
        self.seen: dict[str, int] = {}
        self.size = 1


class _DocumentBuilder:
    """Builds plain values from parser events, iteratively, with the bounds applied as it goes."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.root: Any = None
        self.source_map = SourceMap()
        self.duplicates: list[DuplicateKey] = []
        self.documents = 0
        self.nodes = 0
        self._pending_merge = False

    def feed(self, event: yaml.Event) -> None:
        kind = type(event)
        if kind is yaml.ScalarEvent:  # most events: tested first, by exact type (libyaml makes no subclasses)
            self._scalar(event)  # type: ignore[arg-type]
        elif kind is yaml.MappingStartEvent:
            self._open(event, {})  # type: ignore[arg-type]
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            self._close(event)
        elif kind is yaml.SequenceStartEvent:
            self._open(event, [])  # type: ignore[arg-type]
        elif kind is yaml.AliasEvent:
            self._alias(event)  # type: ignore[arg-type]
        elif kind is yaml.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                raise LoadError.at(
                    _start(event), "file holds more than one YAML document",
                    hint="keep one spec per file; remove the extra `---`",
                )

    def _count(self, amount: int, mark: _Mark) -> None:
        self.nodes += amount
        if self.nodes > MAX_NODES:
            raise LoadError.at(
                mark,
                f"document has more than {MAX_NODES:,} nodes (after alias expansion); jctl refuses specs this large",
                hint="anchors and aliases that multiply content are not allowed in specs",
            )

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        self._count(1, _start(event))
        if self._expecting_key():
            self._key_text(event.value, _start(event))
            return
        value = self._construct_scalar(event)
        self._attach(value, event, 1, event.style)

    def _construct_scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None and (not event.implicit[0] or event.value[:1] not in _IMPLICIT_FIRST):
            return event.value  # quoted, block, or plain text no implicit type starts with: a string, as resolved
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

    def _alias(self, event: yaml.AliasEvent) -> None:
        anchored = self.anchors.get(event.anchor) if event.anchor is not None else None
        if anchored is None:
            raise LoadError.at(_start(event), f"unknown alias *{event.anchor}")
        value, size = anchored
        self._count(size, _start(event))
        if self._expecting_key():
            if not isinstance(value, str):
                raise LoadError.at(_start(event), "mapping keys must be plain strings")
            self._key_text(value, _start(event))
            return
        self._attach(value, event, size, None, positioned=False)

    def _open(self, event: yaml.CollectionStartEvent, value: dict[str, Any] | list[Any]) -> None:
        self._count(1, _start(event))
        if self._expecting_key():
            raise LoadError.at(_start(event), "complex (non-scalar) mapping keys are not supported")
        if len(self.stack) >= MAX_DEPTH:
            raise LoadError.at(
                _start(event), f"nesting deeper than {MAX_DEPTH} levels",
                hint="specs are shallow documents; this looks generated or corrupted",
            )
        path = self._child_path()
        self._record(path, _start(event), _end(event), None)
        self.stack.append(_Frame(value, path, event.anchor))

    def _close(self, event: yaml.Event) -> None:
        frame = self.stack.pop()
        start_pos = self.source_map.positions.get(frame.path)
        if start_pos is not None:
            self.source_map.positions[frame.path] = NodePos(
                start_pos.line, start_pos.column, _end(event).line, _end(event).column,
                start_pos.key_line, start_pos.key_column,
            )
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (frame.value, frame.size)
        self._attach(frame.value, event, frame.size, None, positioned=False, closing=True)

    def _expecting_key(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1].value, dict) and self.stack[-1].pending_key is None

    def _key_text(self, key: str, mark: _Mark) -> None:
        frame = self.stack[-1]
        if key in frame.seen:
            self.duplicates.append(DuplicateKey(frame.path + (key,), mark.line + 1, mark.column + 1, frame.seen[key]))
        else:
            frame.seen[key] = mark.line + 1
        frame.pending_key = key
        frame.key_mark = mark

    def _child_path(self) -> DocPath:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.value, dict):
            assert frame.pending_key is not None
            return frame.path + (frame.pending_key,)
        return frame.path + (len(frame.value),)

    def _record(self, path: DocPath, start: _Mark, end: _Mark, style: str | None) -> None:
        key_mark = start
        if self.stack and isinstance(self.stack[-1].value, dict) and self.stack[-1].key_mark is not None:
            key_mark = self.stack[-1].key_mark
        self.source_map.positions[path] = NodePos(
            start.line, start.column, end.line, end.column, key_mark.line, key_mark.column, style
        )

    def _attach(
        self, value: Any, event: yaml.Event, size: int, style: str | None,
        positioned: bool = True, closing: bool = False,
    ) -> None:
        if isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
            self.anchors[event.anchor] = (value, size)
        if not self.stack:
            if positioned:
                self._record((), _start(event), _end(event), style)
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += size
        path = self._child_path()
        if positioned:
            self._record(path, _start(event), _end(event), style)
        elif not closing and path not in self.source_map.positions:
            self._record(path, _start(event), _end(event), None)
        if isinstance(frame.value, list):
            frame.value.append(value)
            return
        key = frame.pending_key
        frame.pending_key = None
        assert key is not None
        if key == "<<" and isinstance(value, (dict, list)):
            self._merge(frame.value, value)
            return
        frame.value[key] = value

    @staticmethod
    def _merge(target: dict[str, Any], source: dict[str, Any] | list[Any]) -> None:
        sources = source if isinstance(source, list) else [source]
        for item in sources:
            if isinstance(item, dict):
                for key, value in item.items():
                    target.setdefault(key, value)
