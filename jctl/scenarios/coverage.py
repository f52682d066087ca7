"""Which states and transitions of each journey the scenarios exercised, read from the history events the
engine wrote. Unknown event kinds are ignored; any event naming a state covers it, any event naming a `next`
covers that transition."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jctl.spec.model import iter_scopes, state_targets

Events = Iterable[tuple[str, str | None, dict[str, Any]]]


@dataclass(frozen=True)
class Edge:
    scope: str
    source: str
    target: str
    label: str  # next, choices[0], default, onTimeout, ...
    line: int

    @property
    def name(self) -> str:
        return f"{self.source} -[{self.label}]-> {self.target}"


@dataclass(frozen=True)
class Node:
    scope: str
    state: str
    line: int


@dataclass
class JourneyCoverage:
    journey: Path
    nodes: list[Node]
    edges: list[Edge]
    covered_nodes: set[Node] = field(default_factory=set)
    covered_edges: set[Edge] = field(default_factory=set)

    @property
    def percent(self) -> float:
        total = len(self.nodes) + len(self.edges)
        done = len(self.covered_nodes) + len(self.covered_edges)
        return 100.0 if total == 0 else 100.0 * done / total

    def uncovered_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n not in self.covered_nodes]

    def uncovered_edges(self) -> list[Edge]:
        return [e for e in self.edges if e not in self.covered_edges]

    def record(self, events: Events) -> None:
        for kind, state, data in events:
            if not state:
                continue
            self.covered_nodes.update(n for n in self.nodes if n.state == state)
            self.covered_edges.update(_edges_taken(self.edges, kind, state, data))
            for branch in _branch_records(data):
                self.covered_nodes.update(n for n in self.nodes if n.state in branch)
        reached = {n.state for n in self.covered_nodes}
        # a state entered but not left (a terminal, a pause) still covers the edge into it when only one leads there
        for node in self.covered_nodes:
            into = [e for e in self.edges if e.target == node.state and e.source in reached]
            if len(into) == 1 and node.state not in {e.source for e in self.covered_edges}:
                self.covered_edges.add(into[0])

    def to_json(self) -> dict[str, Any]:
        return {"journey": str(self.journey), "percent": round(self.percent, 1),
                "states": {"total": len(self.nodes), "covered": len(self.covered_nodes)},
                "transitions": {"total": len(self.edges), "covered": len(self.covered_edges)},
                "uncoveredStates": [{"state": n.state, "scope": n.scope, "line": n.line} for n in self.uncovered_nodes()],
                "uncoveredTransitions": [{"transition": e.name, "scope": e.scope, "line": e.line}
                                         for e in self.uncovered_edges()]}


def _edges_taken(edges: list[Edge], kind: str, state: str, data: dict[str, Any]) -> Iterator[Edge]:
    target = data.get("next")
    if not isinstance(target, str):
        return
    candidates = [e for e in edges if e.source == state and e.target == target]
    matched = data.get("matched")
    if isinstance(matched, int) and not isinstance(matched, bool):
        candidates = [e for e in candidates if e.label == f"choices[{matched}]"] or candidates
    elif matched == "default":
        candidates = [e for e in candidates if e.label == "default"] or candidates
    elif kind.endswith("timeout"):
        candidates = [e for e in candidates if "onTimeout" in e.label] or candidates
    else:
        candidates = [e for e in candidates if "onTimeout" not in e.label] or candidates
    yield from candidates


def _branch_records(data: dict[str, Any]) -> Iterator[set[str]]:
    """Parallel events summarise their branches; the states a branch passed through count as reached."""
    branches = data.get("branches")
    if not isinstance(branches, list):
        return
    for branch in branches:
        if isinstance(branch, dict):
            names = {str(v) for k, v in branch.items() if k in ("current", "state") and isinstance(v, str)}
            trail = branch.get("trail") or branch.get("visited") or []
            names.update(str(s) for s in trail if isinstance(s, str))
            yield names


def journey_model(path: Path) -> JourneyCoverage:
    """The states and transitions of a journey, with the line each is declared on."""
    from jctl.spec.loader import load_document

    document = load_document(path)
    nodes: list[Node] = []
    edges: list[Edge] = []
    for scope in iter_scopes(document.data):
        for state_id, state in scope.states.items():
            if not isinstance(state, dict):
                continue
            state_path = scope.states_path + (state_id,)
            nodes.append(Node(scope.name, state_id, document.source_map.line_col(state_path, "key")[0]))
            for rel, target in state_targets(state):
                if isinstance(target, str):
                    label = _label(rel)
                    line = document.source_map.line_col(state_path + rel)[0]
                    edges.append(Edge(scope.name, state_id, target, label, line))
    return JourneyCoverage(path, nodes, edges)


def _label(rel: tuple[Any, ...]) -> str:
    if rel[0] == "choices":
        return f"choices[{rel[1]}]"
    return str(rel[-1]) if rel[-1] != "next" or len(rel) == 1 else "/".join(map(str, rel))


def measure(results: Iterable[Any]) -> list[JourneyCoverage]:
    """Coverage per journey over all scenario results (each has .journey and .events)."""
    by_journey: dict[str, JourneyCoverage] = {}
    for result in results:
        if result.journey not in by_journey:
            by_journey[result.journey] = journey_model(Path(result.journey))
        by_journey[result.journey].record(result.events)
    return list(by_journey.values())
