"""The Arazzo 1.0 runtime-expression grammar (the ABNF of its "Runtime Expressions" section), as a small parser.

    expression = "$url" / "$method" / "$statusCode" / "$request." source / "$response." source
               / "$inputs." name / "$outputs." name / "$steps." name / "$workflows." name
               / "$sourceDescriptions." name / "$components." name / "$components.parameters." parameter-name
    source = header-reference / query-reference / path-reference / body-reference
    header-reference = "header." token        query-reference = "query." name
    path-reference = "path." name             body-reference = "body" ["#" json-pointer]
    json-pointer = *( "/" reference-token )   reference-token = *( unescaped / escaped )
    escaped = "~" ( "0" / "1" )               name = *( CHAR )    token = 1*tchar

Expressions stand alone (`$response.body#/id`), embed in strings (`Bearer {$inputs.token}`), or appear in the
operands of a `simple` criterion condition (`$statusCode == 200 && $response.body#/ok == true`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from jctl.diagnostics import DocPath

_FIXED = ("url", "method", "statusCode")
_NAMED = ("inputs", "outputs", "steps", "workflows", "sourceDescriptions", "components")
_MESSAGE_SOURCES = ("request", "response")
_ROOTS = (*_FIXED, *_MESSAGE_SOURCES, *_NAMED)
_TCHAR = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
_ROOT = re.compile(r"\$([A-Za-z]*)")
_DOTTED_SEGMENT = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]")
# where an expression operand of a condition ends: blanks, operators, brackets, the quote of a literal
_OPERAND_END = re.compile(r"[\s=!<>&|()\]',]")
_LITERAL = re.compile(r"\s+|==|!=|<=|>=|&&|\|\||[<>!()\[\]]|'(?:[^']|'')*'|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
                      r"|true\b|false\b|null\b|[A-Za-z_][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class Expression:
    """A well-formed expression: `root` (`steps`, `response`, …), then what follows its first dot."""

    text: str
    start: int  # where it starts in the string it was found in
    root: str
    rest: str


@dataclass(frozen=True)
class ExpressionError:
    """A malformed expression: `start` is the offset of the mistake in the string it was found in.

    `pointer_form` is set when the mistake is `$response.body.a.b` and holds the grammatical `$response.body#/a/b`
    (None when the dotted path cannot be rewritten mechanically, e.g. `body.a b`)."""

    text: str
    start: int
    message: str
    hint: str
    dotted_body: bool = False
    pointer_form: str | None = None
    begin: int = 0  # where the whole expression starts in the string it was found in


Parsed = Expression | ExpressionError


def parse_expression(text: str, start: int = 0) -> Parsed:
    """Parse `text` as one whole runtime expression (`start` is its offset in the enclosing string)."""
    root_match = _ROOT.match(text)
    if root_match is None:
        return ExpressionError(text, start, f"`{text}` is not a runtime expression", "start it with `$`")
    root = root_match.group(1)
    after = root_match.end()
    if root not in _ROOTS:
        import difflib  # only for a misspelling: not worth its import on every run

        close = difflib.get_close_matches(root, _ROOTS, n=1)
        hint = f"did you mean `${close[0]}`?" if close else "use one of " + ", ".join(f"`${r}`" for r in _ROOTS)
        return ExpressionError(text, start, f"`${root}` is not a runtime expression source", hint)
    if root in _FIXED:
        if after != len(text):
            return ExpressionError(text, start + after, f"nothing may follow `${root}` (found `{text[after:]}`)",
                                   f"write `${root}` alone")
        return Expression(text, start, root, "")
    if not text.startswith(".", after):
        return ExpressionError(text, start + after, f"`${root}` must be followed by `.`",
                               f"for example `${root}.{'body#/id' if root in _MESSAGE_SOURCES else 'name'}`")
    rest = text[after + 1:]
    problem = (_source_problem(text, rest, start + after + 1) if root in _MESSAGE_SOURCES
               else _name_problem(text, rest, start + after + 1, f"`${root}.`"))
    return replace(problem, begin=start) if problem else Expression(text, start, root, rest)


def _source_problem(text: str, rest: str, at: int) -> ExpressionError | None:
    kind, dot, name = rest.partition(".")
    if kind == "header" and dot:
        bad = next((i for i, c in enumerate(name) if c not in _TCHAR), None)
        if not name or bad is not None:
            offset = at + len(kind) + 1 + (bad or 0)
            return ExpressionError(text, offset, "a header name is one or more token characters",
                                   "write `$response.header.Content-Type` (no spaces, quotes or brackets)")
        return None
    if kind in ("query", "path") and dot:
        return _name_problem(text, name, at + len(kind) + 1, f"`{kind}.`")
    if rest == "body" or rest.startswith("body#"):
        return _pointer_problem(text, rest[5:], at + 5)
    if rest.startswith("body."):
        segments = rest[4:]
        pointer = _as_pointer(segments)
        prefix = text[: len(text) - len(rest)]
        suggestion = f"{prefix}body#{pointer}" if pointer is not None else None
        return ExpressionError(text, at + 4, f"`{text}` reads the body with `.`; the Arazzo grammar reads it with "
                                             "a JSON pointer after `#`, so a runner finds nothing here",
                               f"write `{suggestion}`" if suggestion else "write `$response.body#/field/...`",
                               dotted_body=True, pointer_form=suggestion)
    return ExpressionError(text, at, f"`{text}`: after `$request.`/`$response.` comes `header.`, `query.`, "
                                     "`path.` or `body`", "for example `$response.body#/id` or "
                                                          "`$response.header.Location`")


def _as_pointer(dotted: str) -> str | None:
    """`.a.b[0]` as `/a/b/0`, or None when it is not a plain chain of names and indexes."""
    parts: list[str] = []
    position = 0
    while position < len(dotted):
        match = _DOTTED_SEGMENT.match(dotted, position)
        if match is None:
            return None
        parts.append(match.group(1) or match.group(2))
        position = match.end()
    return "".join(f"/{part}" for part in parts) if parts else None


def _pointer_problem(text: str, pointer: str, at: int) -> ExpressionError | None:
    if pointer and not pointer.startswith("/"):
        return ExpressionError(text, at, f"the JSON pointer `{pointer}` must start with `/`",
                               f"write `#/{pointer}`")
    for match in re.finditer(r"~(?![01])", pointer):
        return ExpressionError(text, at + match.start(), "in a JSON pointer `~` must be followed by `0` or `1`",
                               "write `~0` for `~` and `~1` for `/`")
    return None


_NOT_IN_NAME = re.compile(r"[\s\x00\x80-\U0010ffff]")  # a blank (as str.isspace), NUL, or not ASCII


def _name_problem(text: str, name: str, at: int, after: str) -> ExpressionError | None:
    if not name:
        return ExpressionError(text, at, f"nothing follows {after}", "name what the expression reads")
    bad = _NOT_IN_NAME.search(name)
    if bad is not None:
        return ExpressionError(text, at + bad.start(), f"`{text}`: a name holds no blanks or non-ASCII characters",
                               "to build a string from an expression, embed it as `{$...}` in the text")
    return None


def embedded_expressions(text: str) -> Iterator[Parsed]:
    """The `{$...}` expressions embedded in a string."""
    for match in re.finditer(r"\{\$", text):
        close = text.find("}", match.end())
        if close < 0:
            yield ExpressionError(text, match.start(), "`{$` opens an embedded expression that is never closed",
                                  "close it with `}`")
            return
        yield parse_expression(text[match.start() + 1: close], match.start() + 1)


def value_expressions(text: str) -> Iterator[Parsed]:
    """The expressions of a value that is an expression when it starts with `$`, or embeds them as `{$...}`."""
    if re.match(r"\$[A-Za-z]", text):
        yield parse_expression(text)
    else:
        yield from embedded_expressions(text)


def condition_expressions(text: str) -> Iterator[Parsed]:
    """The expression operands of a `simple` criterion condition, then any token that is neither an operator
    nor a literal (`$statusCode = 200`, an unclosed quote)."""
    position = 0
    depth = 0
    while position < len(text):
        if text[position] == "$":
            end_match = _OPERAND_END.search(text, position)
            end = end_match.start() if end_match else len(text)
            yield parse_expression(text[position:end], position)
            position = end
            continue
        if text.startswith("{$", position):
            close = text.find("}", position)
            if close < 0:
                yield ExpressionError(text, position, "`{$` opens an embedded expression that is never closed",
                                      "close it with `}`")
                return
            yield parse_expression(text[position + 1: close], position + 1)
            position = close + 1
            continue
        literal = _LITERAL.match(text, position)
        if literal is None:
            yield _condition_error(text, position)
            return
        depth += {"(": 1, ")": -1}.get(literal.group(), 0)
        if depth < 0:
            yield ExpressionError(text, position, "`)` closes no `(`", "balance the parentheses")
            return
        position = literal.end()
    if depth:
        yield ExpressionError(text, len(text), "a `(` is never closed", "balance the parentheses")


def _condition_error(text: str, position: int) -> ExpressionError:
    if text[position] == "'":
        return ExpressionError(text, position, "a string literal is never closed", "close it with `'`")
    if text[position] == "=":
        return ExpressionError(text, position, "`=` is not an operator of a simple condition", "compare with `==`")
    return ExpressionError(text, position, f"`{text[position:]}` is neither an operator, a literal nor a runtime "
                                           "expression", "operators: == != < <= > >= && || ! ( ); literals: "
                                                         "numbers, 'strings', true, false, null")


# --- where the specification allows an expression ------------------------------------------------------------------

Mode = Literal["whole", "value", "condition"]
Site = tuple[DocPath, str, Mode]


def expression_sites(data: Any) -> Iterator[Site]:
    """Every string of an Arazzo document that the specification reads as (or as holding) runtime expressions."""
    if not isinstance(data, dict):
        return
    for w, workflow in _items(data.get("workflows")):
        at: DocPath = ("workflows", w)
        yield from _outputs(workflow, at)
        yield from _parameters(workflow, at)
        for field in ("successActions", "failureActions"):
            for a, action in _items(workflow.get(field)):
                yield from _action(action, at + (field, a))
        for s, step in _items(workflow.get("steps")):
            yield from _step(step, at + ("steps", s))
    components = data.get("components")
    if isinstance(components, dict):
        for name, parameter in _entries(components.get("parameters")):
            yield from _any_value(parameter.get("value"), ("components", "parameters", name, "value"))
        for field in ("successActions", "failureActions"):
            for name, action in _entries(components.get(field)):
                yield from _action(action, ("components", field, name))


def _items(raw: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(i, item) for i, item in enumerate(raw) if isinstance(item, dict)] if isinstance(raw, list) else []


def _entries(raw: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in raw.items() if isinstance(v, dict)] if isinstance(raw, dict) else []


def _step(step: dict[str, Any], at: DocPath) -> Iterator[Site]:
    for field in ("operationId", "workflowId"):
        value = step.get(field)
        if isinstance(value, str) and value.startswith("$"):
            yield at + (field,), value, "whole"
    if isinstance(step.get("operationPath"), str):
        yield at + ("operationPath",), step["operationPath"], "value"
    yield from _outputs(step, at)
    yield from _parameters(step, at)
    body = step.get("requestBody")
    if isinstance(body, dict):
        yield from _any_value(body.get("payload"), at + ("requestBody", "payload"))
        for r, replacement in _items(body.get("replacements")):
            yield from _any_value(replacement.get("value"), at + ("requestBody", "replacements", r, "value"))
    for c, criterion in _items(step.get("successCriteria")):
        yield from _criterion(criterion, at + ("successCriteria", c))
    for field in ("onSuccess", "onFailure"):
        for a, action in _items(step.get(field)):
            yield from _action(action, at + (field, a))


def _outputs(holder: dict[str, Any], at: DocPath) -> Iterator[Site]:
    outputs = holder.get("outputs")
    if isinstance(outputs, dict):
        for name, value in outputs.items():
            if isinstance(value, str):
                yield at + ("outputs", name), value, "value"


def _parameters(holder: dict[str, Any], at: DocPath) -> Iterator[Site]:
    for p, parameter in _items(holder.get("parameters")):
        if isinstance(parameter.get("reference"), str):
            yield at + ("parameters", p, "reference"), parameter["reference"], "whole"
        yield from _any_value(parameter.get("value"), at + ("parameters", p, "value"))


def _action(action: dict[str, Any], at: DocPath) -> Iterator[Site]:
    if isinstance(action.get("reference"), str):
        yield at + ("reference",), action["reference"], "whole"
    workflow_id = action.get("workflowId")
    if isinstance(workflow_id, str) and workflow_id.startswith("$"):
        yield at + ("workflowId",), workflow_id, "whole"
    for c, criterion in _items(action.get("criteria")):
        yield from _criterion(criterion, at + ("criteria", c))


def _criterion(criterion: dict[str, Any], at: DocPath) -> Iterator[Site]:
    if isinstance(criterion.get("context"), str):
        yield at + ("context",), criterion["context"], "whole"
    kind = criterion.get("type", "simple")
    if isinstance(criterion.get("condition"), str) and kind == "simple":
        yield at + ("condition",), criterion["condition"], "condition"


def _any_value(value: Any, at: DocPath) -> Iterator[Site]:
    """A literal that may hold expressions at any depth (a payload, a parameter value)."""
    stack: list[tuple[Any, DocPath]] = [(value, at)]
    while stack:
        current, path = stack.pop()
        if isinstance(current, str):
            yield path, current, "value"
        elif isinstance(current, dict):
            stack.extend((v, path + (k,)) for k, v in current.items())
        elif isinstance(current, list):
            stack.extend((v, path + (i,)) for i, v in enumerate(current))


def site_expressions(text: str, mode: Mode) -> Iterator[Parsed]:
    if mode == "whole":
        yield parse_expression(text)
    elif mode == "condition":
        yield from condition_expressions(text)
    else:
        yield from value_expressions(text)
