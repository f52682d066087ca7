"""Resolve `operationRef: <apiName>.<operationId>` through spec.apis OpenAPI files into a method, a
server URL and a path template with its declared parameters."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class OperationError(Exception):
    """operationRef cannot be resolved (unknown api, missing file, unknown operationId, no server)."""


@dataclass(frozen=True)
class Operation:
    api: str
    operation_id: str
    method: str
    server_url: str
    path_template: str

    def url(self, path_params: dict[str, str]) -> str:
        """The server URL plus the path with its `{name}` parameters filled in (URL-encoded)."""
        from urllib.parse import quote

        path = self.path_template
        for name, value in path_params.items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        if "{" in path:
            raise OperationError(f"{self.api}.{self.operation_id}: path {self.path_template} needs parameters "
                                 f"that params.path does not give")
        return self.server_url.rstrip("/") + path


class OperationCatalog:
    """The spec's API catalog; OpenAPI documents are loaded once and cached."""

    def __init__(self, spec_path: Path | None, apis: dict[str, Any] | None):
        self._spec_path = spec_path
        self._apis = apis or {}
        self._documents: dict[str, dict[str, Any]] = {}

    @property
    def spec_path(self) -> Path | None:
        return self._spec_path

    def resolve(self, operation_ref: str) -> Operation:
        """The operation `<apiName>.<operationId>` names; OperationError says what is missing."""
        api, _, operation_id = operation_ref.partition(".")
        if not operation_id:
            raise OperationError(f"operationRef {operation_ref!r} must look like <apiName>.<operationId>")
        document = self._document(api)
        servers = document.get("servers") or []
        if not servers or not isinstance(servers[0], dict) or not servers[0].get("url"):
            raise OperationError(f"the OpenAPI file of api {api!r} declares no servers[0].url")
        for path, item in (document.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            for method in HTTP_METHODS:
                operation = item.get(method)
                if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                    return Operation(api, operation_id, method.upper(), server_url(servers[0]), path)
        raise OperationError(f"operationId {operation_id!r} is not in the OpenAPI file of api {api!r}")

    def _document(self, api: str) -> dict[str, Any]:
        if api in self._documents:
            return self._documents[api]
        entry = self._apis.get(api)
        if not isinstance(entry, dict) or not entry.get("openApiRef"):
            raise OperationError(f"api {api!r} is not declared under spec.apis (add it with an openApiRef)")
        if self._spec_path is None:
            raise OperationError(f"cannot resolve openApiRef of api {api!r}: the spec's location is unknown")
        from jctl.checks import Workspace  # the linter's rule for finding refs, so `validate` and `run` agree

        path = Workspace.resolve_ref(self._spec_path, str(entry["openApiRef"]))
        if path is None:
            raise OperationError(f"openApiRef {entry['openApiRef']!r} of api {api!r} was not found next to "
                                 f"{self._spec_path.name} or in any parent directory")
        from jctl.spec.loader import LoadError

        try:
            document = _parsed_openapi(path, path.stat().st_mtime_ns)
        except OSError as exc:
            raise OperationError(f"cannot read OpenAPI file {path}: {exc.strerror or exc}") from None
        except LoadError as exc:
            raise OperationError(f"cannot read OpenAPI file {path}:{exc.line}:{exc.column}: {exc}") from None
        if not isinstance(document, dict):
            raise OperationError(f"OpenAPI file {path} is not a mapping")
        self._documents[api] = document
        return document


@functools.lru_cache(maxsize=64)
def _parsed_openapi(path: Path, mtime_ns: int) -> Any:
    """A parsed OpenAPI file, shared by every drive of a long-running process (a worker parses each file once);
    keyed by modification time so an edited file is read again. Callers only read the document."""
    from jctl.spec.loader import load_document

    return load_document(path).data


def server_url(server: dict[str, Any]) -> str:
    """`servers[0].url` with its `{variables}` replaced by their declared defaults (OpenAPI 3 server variables)."""
    import re

    declared = server.get("variables")
    variables: dict[str, Any] = declared if isinstance(declared, dict) else {}

    def default_of(match: re.Match[str]) -> str:
        variable = variables.get(match.group(1))
        if isinstance(variable, dict) and "default" in variable:
            return str(variable["default"])
        raise OperationError(f"server url {server['url']!r} uses {{{match.group(1)}}} without a default value")

    return re.sub(r"\{([^{}]+)\}", default_of, str(server["url"]))
