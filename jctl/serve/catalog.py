"""The journeys a server offers: every `*.journey.yaml` under the given folders that loads and validates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Catalog:
    journeys: dict[str, Path] = field(default_factory=dict)  # metadata.name -> spec file
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)  # one line per invalid spec: why it is not served

    def start_mode(self, name: str) -> str:
        lifecycle = (self.definitions[name].get("spec") or {}).get("lifecycle") or {}
        return "async" if lifecycle.get("startMode") == "async" else "sync"


def load_catalog(folders: list[Path]) -> Catalog:
    from jctl.engine.start import load_definition
    from jctl.errors import JctlError

    catalog = Catalog()
    for folder in folders:
        files = [folder] if folder.is_file() else sorted(folder.rglob("*.journey.yaml"))
        for path in files:
            try:
                definition = load_definition(path)
            except JctlError as error:
                catalog.rejected.append(f"{path}: {error.message}" + "".join(f"\n  - {d}" for d in error.details))
                continue
            name = str((definition.get("metadata") or {}).get("name") or path.name.removesuffix(".journey.yaml"))
            if definition.get("kind", "Journey") != "Journey":
                continue  # kind: Api specs have another surface (/api/v1/apis), not served here
            if name in catalog.journeys:
                catalog.rejected.append(f"{path}: journey {name} is already served from {catalog.journeys[name]}")
                continue
            catalog.journeys[name] = path
            catalog.definitions[name] = definition
    return catalog
