"""Journey diagrams: the state machine as Mermaid (renders on GitHub) or Graphviz DOT, with terminal states
distinct, choice branches and timeouts labelled, parallel branches and subjourneys as clusters."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from jctl.scenarios.coverage import Edge, JourneyCoverage, journey_model


def _node_id(scope: str, state: str) -> str:
    raw = state if scope == "spec" else f"{scope}__{state}"
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in raw)


def _types(path: Path) -> dict[str, str]:
    from jctl.spec.loader import load_document
    from jctl.spec.model import iter_states

    return {ref.state_id: str(ref.type) for ref in iter_states(load_document(path).data)}


def mermaid(model: JourneyCoverage, missing: Iterable[Edge] = ()) -> str:
    """`flowchart TD`; edges in `missing` (uncovered) are dashed."""
    types, gaps = _types(model.journey), set(missing)
    lines = ["flowchart TD"]
    scopes = sorted({n.scope for n in model.nodes if n.scope != "spec"})
    for node in model.nodes:
        if node.scope == "spec":
            lines.append(f"  {_mermaid_node(node.scope, node.state, types.get(node.state, ''))}")
    for scope in scopes:
        lines.append(f'  subgraph {_node_id(scope, "")}["{scope}"]')
        lines += [f"    {_mermaid_node(n.scope, n.state, types.get(n.state, ''))}" for n in model.nodes if n.scope == scope]
        lines.append("  end")
    for edge in model.edges:
        arrow = "-.->" if edge in gaps else "-->"
        label = "" if edge.label == "next" else f"|\"{edge.label}\"|"
        lines.append(f"  {_node_id(edge.scope, edge.source)} {arrow}{label} {_node_id(edge.scope, edge.target)}")
    return "\n".join(lines) + "\n"


def _mermaid_node(scope: str, state: str, kind: str) -> str:
    ident, text = _node_id(scope, state), f"{state}<br/><i>{kind}</i>"
    if kind == "choice":
        return f'{ident}{{"{text}"}}'
    if kind in ("succeed", "fail"):
        return f'{ident}(["{text}"])'
    if kind in ("wait", "webhook", "timer"):
        return f'{ident}[/"{text}"/]'
    return f'{ident}["{text}"]'


def dot(model: JourneyCoverage, missing: Iterable[Edge] = ()) -> str:
    types, gaps = _types(model.journey), set(missing)
    shapes = {"choice": "diamond", "succeed": "doublecircle", "fail": "doubleoctagon", "wait": "parallelogram",
              "webhook": "parallelogram", "timer": "parallelogram"}
    lines = ["digraph journey {", "  rankdir=TB;"]
    for scope in sorted({n.scope for n in model.nodes}):
        indent = "  " if scope == "spec" else "    "
        if scope != "spec":
            lines.append(f'  subgraph cluster_{_node_id(scope, "")} {{ label="{scope}";')
        for node in (n for n in model.nodes if n.scope == scope):
            kind = types.get(node.state, "")
            lines.append(f'{indent}{_node_id(scope, node.state)} [label="{node.state}\\n{kind}" '
                         f'shape={shapes.get(kind, "box")}];')
        if scope != "spec":
            lines.append("  }")
    for edge in model.edges:
        style = " style=dashed color=red" if edge in gaps else ""
        label = "" if edge.label == "next" else edge.label
        lines.append(f'  {_node_id(edge.scope, edge.source)} -> {_node_id(edge.scope, edge.target)} '
                     f'[label="{label}"{style}];')
    return "\n".join(lines) + "\n}\n"


def render(path: Path, fmt: str) -> str:
    model = journey_model(path)
    return dot(model) if fmt == "dot" else mermaid(model)
