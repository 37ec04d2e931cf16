"""Warnings: allowed but probably not what the author meant.

kube-apiserver shows these to the client (``kubectl`` prints them) without
failing the write. Each is one short plain sentence about one field.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

from webhook.field import Path, render_path
from webhook.schema import INFERENCE_POOL, SPEC, STATUS, Array, Object, Rule


def spec_warnings(pool: Mapping[str, Any]) -> list[str]:
    """Warnings about ``spec`` and the object's top level."""
    warnings = [
        f"unknown field {json.dumps(name)}"
        for name in pool
        if name not in INFERENCE_POOL.properties
    ]
    spec = pool.get("spec")
    if spec is None:
        warnings.append("spec is missing: the pool selects no Pods and names no endpoint picker")
        return warnings
    if not isinstance(spec, dict):
        return warnings
    if spec.get("selector") == {}:
        warnings.append("spec.selector is empty: it selects every Pod in the namespace")
    extension = spec.get("extensionRef")
    if isinstance(extension, dict):
        kind = extension.get("kind")
        if extension.get("portNumber") is not None and kind is not None and kind != "Service":
            warnings.append(
                f"spec.extensionRef.portNumber is set but kind is {json.dumps(kind)}:"
                " a port is only used with kind Service"
            )
    warnings.extend(unknown_fields(SPEC, spec, ("spec",)))
    return warnings


def status_warnings(pool: Mapping[str, Any]) -> list[str]:
    """Warnings about ``status``."""
    status = pool.get("status")
    if not isinstance(status, dict):
        return []
    warnings: list[str] = []
    parents = status.get("parent")
    if isinstance(parents, list):
        refs = [
            p["parentRef"]
            for p in parents
            if isinstance(p, dict) and isinstance(p.get("parentRef"), dict)
        ]
        placeholder = [r for r in refs if r.get("kind") == "Status" and r.get("name") == "default"]
        if placeholder and len(placeholder) < len(refs):
            warnings.append(
                "status.parent still lists the placeholder parent (kind Status, name default)"
                " next to real parents: the controller should remove it"
            )
    warnings.extend(unknown_fields(STATUS, status, ("status",)))
    return warnings


def pool_warnings(pool: Mapping[str, Any]) -> list[str]:
    """Every warning about a whole pool, as ``check`` reports them."""
    return spec_warnings(pool) + status_warnings(pool)


def unknown_fields(rule: Rule, value: Any, path: Path) -> list[str]:
    """One warning per field the schema does not know; the API server drops them."""
    found: list[Path] = []
    walker = _UNKNOWN_FIELD_WALKERS.get(id(rule))
    if walker is not None:
        walker(value, path, found)
    return [f"unknown field {json.dumps(render_path(p))}" for p in found]


# Compiled once: a walker per schema node that can hold objects, so leaves
# cost nothing and each object costs one set difference over its keys.
Walker = Callable[[Any, Path, list[Path]], None]


def _compile(rule: Rule) -> Walker | None:
    if isinstance(rule, Array):
        item_walker = _compile(rule.items)
        if item_walker is None:
            return None

        def walk_items(value: Any, path: Path, found: list[Path]) -> None:
            if isinstance(value, list):
                for index, item in enumerate(value):
                    item_walker(item, (*path, index), found)

        return walk_items
    if not isinstance(rule, Object) or rule.opaque:
        return None
    known = frozenset(rule.properties)
    children = [(n, w) for n, p in rule.properties.items() if (w := _compile(p.rule)) is not None]

    def walk_object(value: Any, path: Path, found: list[Path]) -> None:
        if not isinstance(value, dict):
            return
        if not known.issuperset(value):
            found.extend((*path, name) for name in value if name not in known)
        for name, walker in children:
            child = value.get(name)
            if child is not None:
                walker(child, (*path, name), found)

    return walk_object


_UNKNOWN_FIELD_WALKERS: dict[int, Walker] = {
    id(rule): walker for rule in (SPEC, STATUS) if (walker := _compile(rule)) is not None
}
