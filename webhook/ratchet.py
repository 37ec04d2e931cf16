"""Update ratcheting: old mistakes do not block unrelated changes.

Rules get tighter over time, and a pool stored before a rule existed must stay
editable. On UPDATE, a problem whose subject is unchanged from ``oldObject``
is dropped; a value that is new or changed must pass every rule. This is what
the API server's own CRD validation ratcheting does.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from webhook.field import FieldError, Path

_ABSENT = object()


def unchanged(new: Mapping[str, Any], old: Mapping[str, Any], part: str) -> bool:
    """Whether the update leaves ``part`` (``spec``, ``status``) exactly as it was.

    Then every problem in it is an old one, and the part need not be checked
    at all: one comparison instead of a lookup per problem, which is what keeps
    an unchanged pool with many stored mistakes cheap to update.
    """
    return not _changed((part,), new, old)


def ratchet(
    errors: Iterable[FieldError], new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[FieldError]:
    """The errors that the update itself introduces."""
    # Whether each location changed, worked out once: a subject inside an
    # unchanged ancestor is unchanged, so thousands of problems in a map the
    # update leaves alone cost one comparison of the map, not one each.
    changed: dict[Path, bool] = {}

    def introduced(subject: Path) -> bool:
        for depth in range(min(1, len(subject)), len(subject) + 1):
            prefix = subject[:depth]
            verdict = changed.get(prefix)
            if verdict is None:
                verdict = changed[prefix] = _changed(prefix, new, old)
            if not verdict:
                return False
        return True

    return [e for e in errors if introduced(e.subject if e.subject is not None else e.path)]


def _changed(subject: Path, new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    before, after = _lookup(old, subject), _lookup(new, subject)
    if before is _ABSENT or after is _ABSENT:
        return before is not after
    try:
        # orjson in C is the fast way to compare two large values as JSON...
        sort = orjson.OPT_SORT_KEYS
        return orjson.dumps(before, option=sort) != orjson.dumps(after, option=sort)
    except orjson.JSONEncodeError:
        # ...but it refuses values nested past 254 levels (the parser takes
        # 1,024) and integers past 64 bits; those are walked instead.
        return not _same_json(before, after)


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


def _same_json(a: Any, b: Any) -> bool:
    """Whether two decoded values are the same JSON, so that true and 1, or 1 and 1.0, differ.

    Walked with a stack rather than by recursion: an object may be nested as
    deep as the request parser allows, past Python's recursion limit.
    """
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if x.keys() != y.keys():
                return False
            pending.extend((value, y[key]) for key, value in x.items())
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True
