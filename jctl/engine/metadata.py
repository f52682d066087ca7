"""Instance tags and attributes (dsl.md 2.8, 21): start-time bindings from the start payload, the start request's
headers and its W3C `baggage` header, and the built-in MetadataLimits every tag and attribute write is held to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

LIMITS = {"definitionTags": {"maxCount": 10}, "instanceTags": {"maxCount": 16, "maxLength": 40},
          "attributes": {"maxKeys": 16, "maxKeyLength": 32, "maxValueLength": 256}}


class MetadataError(ValueError):
    """Tags or attributes beyond MetadataLimits, or bindings of the wrong shape."""


def start_metadata(definition: dict[str, Any], payload: dict[str, Any],
                   headers: Mapping[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The instance's tags (metadata.tags, then the payload, header and baggage tag bindings) and attributes (the
    payload, header and baggage attribute bindings), checked against the limits; a MetadataError (the start is
    refused) when they are exceeded."""
    tags = [str(t) for t in (definition.get("metadata") or {}).get("tags") or []]
    if len(tags) > LIMITS["definitionTags"]["maxCount"]:
        raise MetadataError(f"metadata.tags has {len(tags)} tags; at most {LIMITS['definitionTags']['maxCount']}")
    bindings = (((definition.get("spec") or {}).get("metadata") or {}).get("bindings")) or {}
    for entry in (bindings.get("tags") or {}).get("fromPayload") or []:
        value = _at(payload, str((entry or {}).get("path") or ""))
        if isinstance(value, str) and value and value not in tags:
            tags.append(value)
    attributes: dict[str, str] = {}
    for name, entry in ((bindings.get("attributes") or {}).get("fromPayload") or {}).items():
        value = _at(payload, str((entry or {}).get("path") or ""))
        if value is not None:
            attributes[str(name)] = value if isinstance(value, str) else json.dumps(value)
    sources = {"fromHeaders": ("header", _by_name(headers or {})), "fromBaggage": ("key", _baggage(headers or {}))}
    for block, (field, values) in sources.items():
        for entry in (bindings.get("tags") or {}).get(block) or []:
            value = values.get(str((entry or {}).get(field) or "").lower())
            if value and value not in tags:
                tags.append(value)
        for name, entry in ((bindings.get("attributes") or {}).get(block) or {}).items():
            value = values.get(str((entry or {}).get(field) or "").lower())
            if value is not None:
                attributes[str(name)] = value
    check_tags(tags)
    check_attributes(attributes)
    return tags, attributes


def _by_name(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers by lower-cased name (HTTP header names are case-insensitive)."""
    return {name.lower(): value for name, value in headers.items()}


def _baggage(headers: Mapping[str, str]) -> dict[str, str]:
    """The members of a W3C `baggage` header (`k1=v1;prop,k2=v2`), values percent-decoded, keys as given lower-cased
    for lookup; malformed members are skipped."""
    from urllib.parse import unquote

    members: dict[str, str] = {}
    for member in (_by_name(headers).get("baggage") or "").split(","):
        key, equals, value = member.split(";", 1)[0].partition("=")
        if equals and key.strip():
            members[key.strip().lower()] = unquote(value.strip())
    return members


def check_tags(tags: list[str]) -> None:
    limits = LIMITS["instanceTags"]
    if len(tags) > limits["maxCount"]:
        raise MetadataError(f"the instance would have {len(tags)} tags; at most {limits['maxCount']}")
    for tag in tags:
        if len(tag) > limits["maxLength"]:
            raise MetadataError(f"tag {tag[:50]!r} is {len(tag)} characters; at most {limits['maxLength']}")


def check_attributes(attributes: dict[str, str]) -> None:
    limits = LIMITS["attributes"]
    if len(attributes) > limits["maxKeys"]:
        raise MetadataError(f"the instance would have {len(attributes)} attributes; at most {limits['maxKeys']}")
    for key, value in attributes.items():
        if len(key) > limits["maxKeyLength"]:
            raise MetadataError(f"attribute key {key[:50]!r} is {len(key)} characters; at most "
                                f"{limits['maxKeyLength']}")
        if len(value) > limits["maxValueLength"]:
            raise MetadataError(f"attribute {key!r} has a value of {len(value)} characters; at most "
                                f"{limits['maxValueLength']}")


def _at(document: Any, path: str) -> Any:
    """The value at a dot path of the start payload, or None."""
    node = document
    for part in path.split(".") if path else []:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if path else None
