"""`jctl validate --fix`: rewrite mechanical DataWeave slips and the legacy wait/webhook `default:` in place, move
fields written at the wrong level (misplaced-field) where they belong, and in Arazzo files the dotted `$response.body.x` as the grammar's `$response.body#/x`.

Edits are made on the file text by position (comments and formatting survive); a fix is kept only if the file
still loads afterwards and every edited span held exactly the text we expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from jctl.checks.runtime_expression import ExpressionError, expression_sites, site_expressions
from jctl.expr.dw_dialect import Slip, find_slips
from jctl.spec.loader import LoadedDocument, LoadError, NodePos, parse_document, read_text
from jctl.spec.model import StateRef, iter_expression_sites, iter_states
from jctl.spec.scalars import file_offset, line_starts, value_line

if TYPE_CHECKING:
    from jctl.checks.placement import Misplacement


@dataclass
class FixResult:
    changed: bool
    fixes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Edit(NamedTuple):
    """Replace text[start:end]; `message` is what the user is told ("" for the second half of a move)."""

    start: int
    end: int
    replacement: str
    message: str


class _Rewriter:
    """Collects the edits for one file's text (never overlapping: each touches a different scalar or line)."""

    def __init__(self, text: str, document: LoadedDocument):
        self.text = text
        self.document = document
        self.lines = text.split("\n")
        self.starts = line_starts(text)
        self.edits: list[Edit] = []
        self.skipped: list[str] = []

    def fix_expression_slips(self) -> None:
        for path, site in iter_expression_sites(self.document.data):
            pos = self.document.source_map.positions.get(path + ("expr",))
            if site["lang"] != "dataweave" or pos is None:
                continue
            for slip in find_slips(site["expr"]):
                if slip.replacement is not None:
                    self._rewrite_slip(pos, site["expr"], slip, slip.replacement)

    def _rewrite_slip(self, pos: NodePos, expr: str, slip: Slip, replacement: str) -> None:
        where = f"line {value_line(pos, expr, slip.start)}"
        original = expr[slip.start : slip.end]
        start = file_offset(self.text, pos, expr, slip.start)
        if start is None or self.text[start : start + len(original)] != original:
            self.skipped.append(f"{where}: {slip.message} (not rewritten: the scalar style hides the exact text)")
            return
        # The replacement lands inside the scalar's source text, so it must not end a quoted scalar early.
        if pos.style == '"':
            replacement = replacement.replace('"', "'")
        elif pos.style == "'":
            replacement = replacement.replace("'", "''")
        self.edits.append(Edit(start, start + len(original), replacement, f"{where}: {slip.message}"))

    def fix_legacy_defaults(self) -> None:
        for ref in iter_states(self.document.data):
            for block in ("wait", "webhook"):
                body = ref.state.get(block)
                if isinstance(body, dict) and isinstance(body.get("default"), str):
                    self._move_default_to_next(ref, block, body["default"])

    def _move_default_to_next(self, ref: StateRef, block: str, target: str) -> None:
        positions = self.document.source_map.positions
        default_pos, state_pos = positions.get(ref.path + (block, "default")), positions.get(ref.path)
        if default_pos is None or state_pos is None:
            return
        where = f"line {default_pos.key_line + 1}"
        if "next" in ref.state and ref.state["next"] != target:
            self.skipped.append(f"{where}: {block}.default {target!r} conflicts with next {ref.state['next']!r}")
            return
        if default_pos.end_line != default_pos.key_line:
            self.skipped.append(f"{where}: {block}.default spans several lines; move it by hand")
            return
        line = self.lines[default_pos.key_line]
        after = line[default_pos.end_column:].strip()
        if line[: default_pos.key_column].strip() or (after and not after.startswith("#")):
            # the line holds more than `default: x` (a flow mapping `{..., default: x}`): deleting it would
            # delete the whole block
            self.skipped.append(f"{where}: {block}.default is inside a flow mapping; move it by hand")
            return
        self.edits.append(Edit(self._line_start(default_pos.key_line), self._line_start(default_pos.key_line + 1),
                               "", f"{where}: moved {block}.default to the state's `next:`"))
        if "next" in ref.state:
            return  # the state already says the same; dropping `default` is the whole fix
        insert_at = self._line_start(self._last_content_line(state_pos) + 1)
        prefix = "" if self.text[:insert_at].endswith("\n") else "\n"
        comment = _trailing_comment(self.lines[default_pos.key_line])
        self.edits.append(Edit(insert_at, insert_at, f"{prefix}{' ' * state_pos.column}next: {target}{comment}\n", ""))

    def fix_body_pointers(self) -> None:
        """`$response.body.a.b` (read as nothing by a runner) becomes the grammar's `$response.body#/a/b`."""
        for path, value, mode in expression_sites(self.document.data):
            pos = self.document.source_map.positions.get(path)
            if pos is None:
                continue
            for parsed in site_expressions(value, mode):
                if isinstance(parsed, ExpressionError) and parsed.dotted_body:
                    self._rewrite_body_pointer(pos, value, parsed)

    def _rewrite_body_pointer(self, pos: NodePos, value: str, parsed: ExpressionError) -> None:
        where = f"line {value_line(pos, value, parsed.begin)}"
        start = file_offset(self.text, pos, value, parsed.begin)
        if parsed.pointer_form is None:
            self.skipped.append(f"{where}: `{parsed.text}` is not a plain chain of names; write its pointer by hand")
        elif start is None or self.text[start : start + len(parsed.text)] != parsed.text:
            self.skipped.append(f"{where}: `{parsed.text}` (not rewritten: the scalar style hides the exact text)")
        else:
            self.edits.append(Edit(start, start + len(parsed.text), parsed.pointer_form,
                                   f"{where}: `{parsed.text}` -> `{parsed.pointer_form}`"))

    def fix_misplaced_fields(self) -> None:
        """A field beside its block moves inside it, one inside the wrong block moves beside it (misplaced-field); a
        state nested in another moves out beside it (misplaced-state)."""
        from jctl.checks.placement import analysed
        from jctl.diagnostics import path_text

        for misplacement in analysed(self.document)[1]:
            if misplacement.target is None:  # a state nested in a state: it moves out, beside its parent state
                states = misplacement.parent[:-1]
                self._move_field(misplacement._replace(target=states),
                                 f"state `{misplacement.key}` out of state `{misplacement.parent[-1]}` into "
                                 f"`{path_text(states)}`")
                continue
            destination = path_text((*misplacement.target, misplacement.key))
            self._move_field(misplacement, f"`{misplacement.key}` to `{destination}`")

    def _move_field(self, misplacement: Misplacement, message: str) -> None:
        positions = self.document.source_map.positions
        key_pos, target_pos = positions.get(misplacement.path), positions.get(misplacement.target or ())
        if key_pos is None or target_pos is None or misplacement.target is None:
            return
        where = f"line {key_pos.key_line + 1}"
        first_child = next((pos for path, pos in positions.items()
                            if len(path) == len(misplacement.target) + 1 and path[:-1] == misplacement.target), None)
        if misplacement.moves_down:
            indent = first_child.key_column if first_child is not None else -1
            block_line, block_column = target_pos.key_line, target_pos.key_column
        else:
            parent_pos = positions.get(misplacement.parent)
            indent = parent_pos.key_column if parent_pos is not None else -1
            block_line, block_column = (parent_pos.key_line, parent_pos.key_column) if parent_pos else (0, -1)
        key_line, key_column = key_pos.key_line, key_pos.key_column
        if indent < 0 or self.lines[key_line][:key_column].strip() or (
                first_child is not None and self.lines[first_child.key_line][:first_child.key_column].strip()):
            self.skipped.append(f"{where}: {message} not moved: flow style or a list item; move it by hand")
            return
        last = self._entry_end(key_line, key_column)
        removed = (self._line_start(self._emptied_parent_line(misplacement) or key_line), self._line_start(last + 1))
        insert_at = self._line_start(self._entry_end(block_line, block_column) + 1)
        if any(edit.start < removed[1] and removed[0] < edit.end or edit.start < insert_at < edit.end
               for edit in self.edits):
            self.skipped.append(f"{where}: {message} not moved: it overlaps another fix; run --fix again")
            return
        entry = self.lines[key_line : last + 1]
        moved = [_reindent(line, indent - key_column) for line in entry]
        prefix = "" if self.text[:insert_at].endswith("\n") else "\n"
        self.edits.append(Edit(*removed, "", f"{where}: moved {message}"))
        self.edits.append(Edit(insert_at, insert_at, prefix + "\n".join(moved) + "\n", ""))

    def _emptied_parent_line(self, misplacement: Misplacement) -> int | None:
        """The key line of the block a field moves up out of, when that field is all the block holds and nothing
        but blank lines sits between them: the block goes too (an empty `params:` would be null)."""
        positions = self.document.source_map.positions
        parent_pos = positions.get(misplacement.parent)
        if misplacement.moves_down or parent_pos is None or not misplacement.parent:
            return None
        children = [path for path in positions if len(path) == len(misplacement.parent) + 1
                    and path[:-1] == misplacement.parent]
        key_line = positions[misplacement.path].key_line
        header = self.lines[parent_pos.key_line].strip()
        between = self.lines[parent_pos.key_line + 1 : key_line]
        if children != [misplacement.path] or not header.endswith(":") or any(line.strip() for line in between):
            return None
        return parent_pos.key_line

    def _entry_end(self, key_line: int, key_column: int) -> int:
        """The last line of the mapping entry whose key is at (key_line, key_column): its value's deeper lines."""
        last = key_line
        for number in range(key_line + 1, len(self.lines)):
            stripped = self.lines[number].strip()
            if not stripped:
                continue
            indent = len(self.lines[number]) - len(self.lines[number].lstrip(" "))
            if indent <= key_column:
                break
            last = number
        return last

    def _line_start(self, line: int) -> int:
        return self.starts[line] if line < len(self.starts) else len(self.text)

    def _last_content_line(self, state_pos: NodePos) -> int:
        """The last line of the state mapping: deeper-indented than its key, not blank or a comment."""
        last = state_pos.line
        for number in range(state_pos.line, min(state_pos.end_line + 1, len(self.lines))):
            stripped = self.lines[number].strip()
            if not stripped or stripped.startswith("#"):
                continue
            indent = len(self.lines[number]) - len(self.lines[number].lstrip(" "))
            if number > state_pos.line and indent <= state_pos.key_column:
                break
            last = number
        return last

    def result(self) -> tuple[str, FixResult]:
        if not self.edits:
            return self.text, FixResult(False, [], self.skipped)
        text = self.text
        # from the end, so earlier offsets hold; at one offset the later edit first, so insertions keep their order
        ordered = sorted(enumerate(self.edits), key=lambda item: (item[1].start, item[1].end, item[0]), reverse=True)
        for _, edit in ordered:
            text = text[: edit.start] + edit.replacement + text[edit.end :]
        return text, FixResult(True, [edit.message for edit in self.edits if edit.message], self.skipped)


def _reindent(line: str, delta: int) -> str:
    if not line.strip():
        return ""
    return " " * delta + line if delta >= 0 else line[min(-delta, len(line) - len(line.lstrip(" "))) :]


def _trailing_comment(line: str) -> str:
    found = re.search(r"\s+#.*$", line)
    return found.group() if found else ""


def fix_text(text: str, path: Path, kind: str = "journey") -> tuple[str, FixResult]:
    rewriter = _Rewriter(text, parse_document(text, path))
    if kind == "arazzo":
        rewriter.fix_body_pointers()
    else:
        rewriter.fix_expression_slips()
        rewriter.fix_legacy_defaults()
        rewriter.fix_misplaced_fields()
    return rewriter.result()


def fix_file(path: Path, kind: str = "journey") -> FixResult:
    """Rewrite the file in place; nothing is written unless the result still loads."""
    path = Path(path)
    try:
        original = read_text(path)
        fixed, result = fix_text(original, path, kind)
    except LoadError as error:
        return FixResult(False, [], [f"not fixed: the file does not load ({error.message})"])
    if not result.changed:
        return result
    try:
        parse_document(fixed, path)
    except LoadError as error:
        return FixResult(False, [], [f"not fixed: the rewrite would not load ({error.message}, line {error.line})"])
    path.write_text(fixed, encoding="utf-8")
    return result
