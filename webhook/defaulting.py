"""Defaulting of an InferencePool, as a JSON Patch against the object received.

The patch only adds: a default fills a property that is absent (``add``) or
``null`` (``replace``), and nothing else is touched, so unknown fields,
annotations and managedFields reach storage exactly as they came. Defaults are
only filled inside objects that exist; a missing ``spec`` or ``extensionRef``
is for validation to report, not for defaulting to invent. Applying the patch
and defaulting again yields no patch.

The schema is compiled once into functions that visit only the parts of a
pool that can hold a default (conditions, for one, hold none).
"""

import copy
from collections.abc import Callable, Collection, Mapping
from typing import Any

from jsonpointer import escape

from webhook.field import Path
from webhook.schema import INFERENCE_POOL, NO_DEFAULT, Array, Object, Property, Rule

Patch = list[dict[str, Any]]
Defaulter = Callable[[Any, Path, Patch], None]


def default_pool(pool: Mapping[str, Any], parts: Collection[str] = ("spec", "status")) -> Patch:
    """The JSON Patch (RFC 6902) operations that fill the pool's missing defaults.

    ``parts`` limits defaulting to top-level fields: a write to the status
    subresource cannot change ``spec``, so it is not patched there.
    """
    patch: Patch = []
    for name, defaulter in _TOP_LEVEL.items():
        if name in parts:
            defaulter(pool, (), patch)
    return patch


def pointer(path: Path) -> str:
    """The RFC 6901 JSON Pointer of a location, with ``~`` and ``/`` escaped."""
    return "".join("/" + escape(str(step)) for step in path)


def compile_defaulter(rule: Rule) -> Defaulter | None:
    """The function filling defaults under one schema node; None if it holds none."""
    if isinstance(rule, Array):
        return _array_defaulter(rule)
    if isinstance(rule, Object) and not rule.opaque:
        return _object_defaulter(rule.properties)
    return None


def _array_defaulter(rule: Array) -> Defaulter | None:
    item_defaulter = compile_defaulter(rule.items)
    if item_defaulter is None:
        return None

    def fill(value: Any, path: Path, patch: Patch) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                item_defaulter(item, (*path, index), patch)

    return fill


def _object_defaulter(properties: Mapping[str, Property]) -> Defaulter | None:
    steps = [
        (name, prop, compile_defaulter(prop.rule))
        for name, prop in properties.items()
        if prop.default is not NO_DEFAULT or compile_defaulter(prop.rule) is not None
    ]
    if not steps:
        return None

    def fill(value: Any, path: Path, patch: Patch) -> None:
        if not isinstance(value, dict):
            return
        for name, prop, child_defaulter in steps:
            child = value.get(name)
            if child is not None:
                if child_defaulter is not None:
                    child_defaulter(child, (*path, name), patch)
            elif prop.default is not NO_DEFAULT and (
                prop.default_when is None or prop.default_when(value)
            ):
                op = "add" if name not in value else "replace"
                # Defaults are shared constants: each patch gets its own copy.
                patch.append(
                    {"op": op, "path": pointer((*path, name)), "value": copy.deepcopy(prop.default)}
                )

    return fill


def _top_level() -> dict[str, Defaulter]:
    out: dict[str, Defaulter] = {}
    for name, prop in INFERENCE_POOL.properties.items():
        defaulter = _object_defaulter({name: prop})
        if defaulter is not None:
            out[name] = defaulter
    return out


_TOP_LEVEL = _top_level()
