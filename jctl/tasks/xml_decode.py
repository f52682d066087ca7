"""xmlDecode:v1 (dsl.md 5.3): XML string in context -> JSON value, through defusedxml (no DTDs, no entity
expansion, no external entities).

The mapping, stable and documented in the README:
- the document becomes `{<root name>: <root value>}`;
- an element with neither attributes nor child elements is its text (`null` when empty);
- any other element is an object: attributes as `"@name"`, child elements under their name (a name that occurs
  more than once becomes an array in document order), non-blank text as `"#text"`;
- names lose their namespace (`{urn:x}a` and `x:a` are both `a`); every value is a string (no type guessing);
  text is stripped of surrounding whitespace; comments and processing instructions are dropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jctl.tasks.plugins import Issue, PluginError, TaskCall, TaskOutcome

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

PARSE_ERROR = "urn:xml-decode:parse-error"


class XmlDecode:
    kind = "xmlDecode:v1"

    def check(self, task: dict[str, Any], spec_path: Path | None) -> Iterator[Issue]:
        return iter(())  # sourceVar/target/resultVar rules are all in the JSON Schema

    def run(self, call: TaskCall) -> TaskOutcome:
        task = call.task
        source = str(task.get("sourceVar"))
        text = call.context.get(source)
        if not isinstance(text, str):
            shown = "absent" if source not in call.context else f"a {type(text).__name__}"
            raise PluginError("XML_DECODE_ERROR", f"context.{source} must be an XML string; it is {shown}",
                              PARSE_ERROR)
        decoded = decode(text)
        target = task.get("target")
        target = target if isinstance(target, dict) else {}
        context = dict(call.context)
        if target.get("kind") == "var":
            context[str(task["resultVar"])] = decoded
        elif target.get("path"):
            _set_path(context, str(target["path"]), decoded)
        else:
            context = dict(decoded)  # decode() always returns the root object
        return TaskOutcome(context, record={"xmlDecode": {"sourceVar": source}})


def decode(text: str) -> dict[str, Any]:
    """The JSON value of an XML document, per the mapping in the module docstring."""
    import defusedxml
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(text, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise PluginError("XML_DECODE_ERROR", f"the XML is refused: {exc} (DTDs and entities are not allowed)",
                          PARSE_ERROR) from None
    except ParseError as exc:
        raise PluginError("XML_DECODE_ERROR", f"the XML does not parse: {exc}", PARSE_ERROR) from None
    return {_local(root.tag): _element(root)}


def _element(element: Element) -> Any:
    children = list(element)
    text = (element.text or "").strip()
    if not element.attrib and not children:
        return text or None
    value: dict[str, Any] = {f"@{_local(name)}": item for name, item in element.attrib.items()}
    repeated = _repeated(children)
    for child in children:
        name, item = _local(child.tag), _element(child)
        if name in repeated:
            value.setdefault(name, []).append(item)
        else:
            value[name] = item
    tails = " ".join(part for part in [text, *((c.tail or "").strip() for c in children)] if part)
    if tails:
        value["#text"] = tails
    return value


def _repeated(children: list[Element]) -> set[str]:
    seen: set[str] = set()
    twice: set[str] = set()
    for child in children:
        name = _local(child.tag)
        (twice if name in seen else seen).add(name)
    return twice


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _set_path(context: dict[str, Any], path: str, value: Any) -> None:
    holder = context
    *parents, last = path.split(".")
    for part in parents:
        nested = holder.get(part)
        holder[part] = dict(nested) if isinstance(nested, dict) else {}
        holder = holder[part]
    holder[last] = value


PLUGIN = XmlDecode()
