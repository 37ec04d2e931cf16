"""Defaulting of an InferencePool, as a JSON Patch against the object received.

The patch only adds: a default fills a property that is absent (``add``) or
``null`` (``replace``), and nothing else is touched, so unknown fields,
annotations and managedFields reach storage exactly as they came. Defaults are
only filled inside objects that exist; a missing ``spec`` or ``extensionRef``
is for validation to report, not for defaulting to invent. Applying the patch
and defaulting again yields no patch.
"""

import copy
from collections.abc import Collection, Mapping
from typing import Any

from jsonpointer import escape

from webhook.field import Path
from webhook.schema import INFERENCE_POOL, NO_DEFAULT, Array, Object, Rule

Patch = list[dict[str, Any]]


def default_pool(pool: Mapping[str, Any], parts: Collection[str] = ("spec", "status")) -> Patch:
    """The JSON Patch (RFC 6902) operations that fill the pool's missing defaults.

    ``parts`` limits defaulting to top-level fields: a write to the status
    subresource cannot change ``spec``, so it is not patched there.
    """
    patch: Patch = []
    _default(INFERENCE_POOL, pool, (), patch, parts)
    return patch


def _default(
    rule: Rule, value: Any, path: Path, patch: Patch, only: Collection[str] | None = None
) -> None:
    if isinstance(rule, Array):
        if isinstance(value, list):
            for index, item in enumerate(value):
                _default(rule.items, item, (*path, index), patch)
    elif isinstance(rule, Object) and isinstance(value, dict) and not rule.opaque:
        for name, prop in rule.properties.items():
            if only is not None and name not in only:
                continue
            child = value.get(name)
            if child is not None:
                _default(prop.rule, child, (*path, name), patch)
            elif prop.default is not NO_DEFAULT and (
                prop.default_when is None or prop.default_when(value)
            ):
                op = "add" if name not in value else "replace"
                # Defaults are shared constants: each patch gets its own copy.
                patch.append(
                    {"op": op, "path": pointer((*path, name)), "value": copy.deepcopy(prop.default)}
                )


def pointer(path: Path) -> str:
    """The RFC 6901 JSON Pointer of a location, with ``~`` and ``/`` escaped."""
    return "".join("/" + escape(str(step)) for step in path)
