"""Update ratcheting: old mistakes do not block unrelated changes.

Rules get tighter over time, and a pool stored before a rule existed must stay
editable. On UPDATE, a problem whose subject is unchanged from ``oldObject``
is dropped; a value that is new or changed must pass every rule. This is what
the API server's own CRD validation ratcheting does.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from webhook.field import FieldError, Path

_ABSENT = object()


def ratchet(
    errors: Iterable[FieldError], new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[FieldError]:
    """The errors that the update itself introduces."""
    return [e for e in errors if _changed(e.subject if e.subject is not None else e.path, new, old)]


def _changed(subject: Path, new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    before, after = _lookup(old, subject), _lookup(new, subject)
    if before is _ABSENT or after is _ABSENT:
        return before is not after
    # Compared as JSON, so that true and 1, or 1 and 1.0, count as changed.
    return _canonical(before) != _canonical(after)


def _lookup(document: Any, path: Path) -> Any:
    node = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _ABSENT
        elif not isinstance(node, dict) or step not in node:
            return _ABSENT
        node = node[step]
    # null is absent to the API server, so a null that became absent is unchanged.
    return _ABSENT if node is None else node


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
