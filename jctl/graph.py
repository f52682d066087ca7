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


def mermaid(model: JourneyCoverage, missing: Iterable[Edge] = (), current: str | None = None) -> str:
    """`flowchart TD`; edges in `missing` (uncovered) are dashed; with `current`, the covered (taken) edges and
    states are highlighted and the current state marked."""
    types, gaps = _types(model.journey), set(missing)
    lines = ["flowchart TD"]
    if current is not None:
        lines += ["  classDef taken stroke:#2a7,stroke-width:3px", "  classDef current fill:#fd5,stroke:#a60,stroke-width:3px"]
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
    if current is not None:
        lines += _highlights(model, current)
    return "\n".join(lines) + "\n"


def _highlights(model: JourneyCoverage, current: str) -> list[str]:
    lines = [f"  linkStyle {index} stroke:#2a7,stroke-width:3px"
             for index, edge in enumerate(model.edges) if edge in model.covered_edges]
    lines += [f"  class {_node_id(n.scope, n.state)} {'current' if n.state == current else 'taken'}"
              for n in model.nodes if n in model.covered_nodes or n.state == current]
    return lines


def instance_diagram(spec_path: Path, events: Iterable[tuple[str, str | None, dict[str, object]]],
                     current: str) -> str:
    """The journey's diagram with the path an instance took (from its history) and where it stands."""
    model = journey_model(spec_path)
    model.record(events)
    return mermaid(model, current=current)


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
