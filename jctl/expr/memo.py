"""What an evaluation needs to send, and answers remembered: the parent side of the engine workers.

Expressions are pure functions of their text and the bindings they read. An expression that reads the context only
through `context.<key>` (and bare context keys) gets only those top-level keys of the context, and bindings it never
names arrive as null (DataWeave: are not sent, and the context keys it never names are not declared as aliases): a large context is not encoded, sent and decoded for a predicate that reads one field, and
the same expression over the same inputs (a poll loop's choice, the next instance's decision) is answered from
memory instead of the worker. Anything the analysis cannot vouch for (`$$`, wildcards, the whole `context`, the
clock, randomness, qualified names) is sent whole and never remembered. Only successful answers are kept.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from typing import Any

MAX_ENTRIES = 2048
MAX_KEY_CHARS = 64 * 1024  # inputs larger than this are evaluated every time rather than kept in memory
Key = tuple[str, ...]  # language, text, extras, then the inputs' JSON texts as the request sends them

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTEXT = re.compile(r"\bcontext\b")
_FIELD = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)\b")
# Words whose presence makes an answer depend on more than the text and inputs (the clock, randomness, the engines'
# impure built-ins); `::` reaches modules, so it is never remembered either.
_IMPURE = frozenset({"now", "millis", "random", "randomInt", "uuid", "today", "yesterday", "tomorrow", "eval",
                     "readUrl", "env", "envVars", "input", "inputs"})
# JSONata forms that read the whole document or the current item without naming it.
_JSONATA_WHOLE = re.compile(r"\$\$|\$(?![A-Za-z_])|\*|%|`|@|#")


@functools.lru_cache(maxsize=1024)  # a function of the text; callers only read what it returns
def context_reads(lang: str, text: str) -> tuple[frozenset[str], dict[str, frozenset[str] | None]] | None:
    """The words of `text` (every top-level context key it can read is among them) and, for the keys it reads only
    as `context.<key>.<field>`, those fields; None when it may read the whole context (or, in JSONata, the whole
    document)."""
    if lang == "jsonata" and _JSONATA_WHOLE.search(text):
        return None
    fields: dict[str, set[str] | None] = {}
    chains: dict[str, int] = {}
    for match in _CONTEXT.finditer(text):
        before = text[match.start() - 1] if match.start() else ""
        if before == ".":
            continue  # a key named `context` of some other value
        if before in ("$", "`", "'", '"', "#", "@", "&", "^"):
            return None
        key = _selector(text, match.end())
        if key is None:
            return None
        name = key.group(1)
        chains[name] = chains.get(name, 0) + 1
        field = _selector(text, key.end())
        if field is None:
            fields[name] = None
        elif (known := fields.setdefault(name, set())) is not None:
            known.add(field.group(1))
    for name, count in chains.items():  # a key also used elsewhere (bare, or as a field) is kept whole
        if len(re.findall(rf"\b{name}\b", text)) != count:
            fields[name] = None
    return frozenset(_WORD.findall(text)), {name: None if each is None else frozenset(each)
                                             for name, each in fields.items()}


@functools.lru_cache(maxsize=1024)
def names(text: str) -> frozenset[str]:
    """The identifier-like words of `text` not written right after a `.` (a selector's key, not a name), strings and
    comments included: a superset of the names a DataWeave expression can reference (interpolation inside a string
    names a value too), so a binding or alias outside it cannot be read."""
    return frozenset(found.group() for found in _WORD.finditer(text) if text[found.start() - 1:found.start()] != ".")


def _selector(text: str, at: int) -> re.Match[str] | None:
    """`.<identifier>` at `at`, not followed by a namespace `#`."""
    found = _FIELD.match(text, at)
    return found if found is not None and text[found.end():found.end() + 1] != "#" else None


def narrowed(lang: str, text: str, bindings: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The bindings an evaluation of `text` needs, and whether its answer may be remembered."""
    reads = context_reads(lang, text)
    if reads is None:
        return bindings, False
    words, fields = reads
    kept: dict[str, Any] = {}
    for name, value in bindings.items():
        if name == "context" and isinstance(value, dict):  # its keys are also read bare, without `context`
            kept[name] = {key: _fields(item, fields.get(key)) for key, item in value.items() if key in words}
        elif name not in words:
            kept[name] = None  # never named: it cannot be read
        else:
            kept[name] = value
    return kept, "::" not in text and not (words & _IMPURE)


def _fields(value: Any, wanted: frozenset[str] | None) -> Any:
    if wanted is None or not isinstance(value, dict):
        return value
    return {key: item for key, item in value.items() if key in wanted}


class Answers:
    """Successful answers (the worker's JSON text) by expression, language and the inputs it was given."""

    def __init__(self, limit: int = MAX_ENTRIES):
        self.limit = limit
        self._entries: OrderedDict[Key, str] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(lang: str, text: str, extra: str | None, inputs: str | tuple[str, ...]) -> Key | None:
        """The key of an evaluation: `inputs` is the JSON text (or texts) the request sends, so nothing is encoded
        a second time; None when the inputs are too large to remember."""
        texts = (inputs,) if isinstance(inputs, str) else inputs
        if len(text) + sum(len(each) for each in texts) > MAX_KEY_CHARS:
            return None
        return (lang, text, extra or "", *texts)

    def get(self, key: Key | None) -> str | None:
        if key is None:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Key | None, answer: str) -> None:
        if key is None:
            return
        with self._lock:
            self._entries[key] = answer
            self._entries.move_to_end(key)
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)


ANSWERS = Answers()
