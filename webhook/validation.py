"""Validation of an InferencePool against :mod:`webhook.schema`.

Every problem is collected, none stops the walk, and each names the field it
is about. Values are taken as the API server decodes them: ``null`` is the
same as absent for a property (the server drops it before anyone looks), an
integer written as ``8000.0`` is the integer 8000, and a boolean is never a
number.

The schema is compiled once, at import, into one checking function per
node, so that a review pays for the checks and not for walking the schema.
"""

import math
from collections.abc import Callable, Mapping
from typing import Any

from webhook import field
from webhook.field import FieldError, MapKey, Path
from webhook.names import is_rfc3339
from webhook.schema import (
    INFERENCE_POOL,
    SPEC,
    STATUS,
    Array,
    Integer,
    Object,
    Rule,
    String,
    StringMap,
)

INT64_MAX = 2**63 - 1
_RFC3339_HINT = 'must be an RFC 3339 date-time such as "2006-01-02T15:04:05Z"'

# Verdicts on string values are memoised per rule: reasons, condition types,
# timestamps and label keys repeat across parents and pools. The bound keeps
# a stream of distinct hostile values from growing memory.
_MEMO_LIMIT = 4096

# Checkers pass locations down as linked pairs (parent, step), which cost one
# small tuple per field; the flat path is only built for a field in error.
Loc = tuple[Any, ...]
Checker = Callable[[Any, Loc, list[FieldError]], None]


def _flat(loc: Loc) -> Path:
    steps: list[str | int] = []
    while loc:
        loc, step = loc
        steps.append(step)
    steps.reverse()
    return tuple(steps)


def validate_pool(pool: Mapping[str, Any]) -> list[FieldError]:
    """All problems of a whole pool, spec and status: what ``check`` reports."""
    errors: list[FieldError] = []
    _check_pool(pool, (), errors)
    return errors


def validate_spec(pool: Mapping[str, Any]) -> list[FieldError]:
    """Problems of ``spec``: what a write to the main resource can change."""
    errors: list[FieldError] = []
    spec = pool.get("spec")
    if spec is not None:
        _check_spec(spec, ((), "spec"), errors)
    return errors


def validate_status(pool: Mapping[str, Any]) -> list[FieldError]:
    """Problems of ``status``: what a write to the status subresource can change."""
    errors: list[FieldError] = []
    status = pool.get("status")
    if status is not None:
        _check_status(status, ((), "status"), errors)
    return errors


def as_integer(value: Any) -> int | None:
    """The integer a JSON number stands for, as the API server reads it; None if none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def compile_rule(rule: Rule) -> Checker:
    """The checking function for one schema node."""
    if isinstance(rule, String):
        return _string_checker(rule)
    if isinstance(rule, Integer):
        return _integer_checker(rule)
    if isinstance(rule, Object):
        return _object_checker(rule)
    if isinstance(rule, Array):
        return _array_checker(rule)
    return _string_map_checker(rule)


def _object_checker(rule: Object) -> Checker:
    required = rule.required
    children = [(name, compile_rule(prop.rule)) for name, prop in rule.properties.items()]
    opaque = rule.opaque

    def check(value: Any, loc: Loc, errors: list[FieldError]) -> None:
        if not isinstance(value, dict):
            errors.append(field.wrong_type(_flat(loc), value, "object"))
            return
        if opaque:
            return
        for name in required:
            if value.get(name) is None:
                errors.append(field.required((*_flat(loc), name)))
        for name, child_check in children:
            child = value.get(name)
            if child is not None:
                child_check(child, (loc, name), errors)

    return check


def _array_checker(rule: Array) -> Checker:
    item_check = compile_rule(rule.items)
    max_items, unique_by = rule.max_items, rule.unique_by

    def check(value: Any, loc: Loc, errors: list[FieldError]) -> None:
        if not isinstance(value, list):
            errors.append(field.wrong_type(_flat(loc), value, "array"))
            return
        if len(value) > max_items:
            errors.append(field.too_many(_flat(loc), len(value), max_items))
        seen: set[str] = set()
        for index, item in enumerate(value):
            item_check(item, (loc, index), errors)
            if unique_by is not None and isinstance(item, dict):
                key = item.get(unique_by)
                if isinstance(key, str):
                    if key in seen:
                        where = _flat(loc)
                        errors.append(field.duplicate((*where, index, unique_by), key, where))
                    seen.add(key)

    return check


def _string_map_checker(rule: StringMap) -> Checker:
    key_problems = _memoised_problems(rule.keys)
    value_check = _string_checker(rule.values)

    def check(value: Any, loc: Loc, errors: list[FieldError]) -> None:
        if not isinstance(value, dict):
            errors.append(field.wrong_type(_flat(loc), value, "object"))
            return
        for key, item in value.items():
            key_loc = (loc, MapKey(key))
            # A bad key is reported against the map, as the API server reports
            # label keys, but located at the key for ratcheting.
            for problem in key_problems(key):
                errors.append(
                    FieldError(
                        field.ErrorType.INVALID, _flat(key_loc), key, problem, shown_path=_flat(loc)
                    )
                )
            value_check(item, key_loc, errors)

    return check


def _string_checker(rule: String) -> Checker:
    enum, max_length = rule.enum, rule.max_length
    problems = _memoised_problems(rule)

    def check(value: Any, loc: Loc, errors: list[FieldError]) -> None:
        if not isinstance(value, str):
            errors.append(field.wrong_type(_flat(loc), value, "string"))
        elif enum is not None:
            if value not in enum:
                errors.append(field.not_supported(_flat(loc), value, enum))
        elif max_length is not None and len(value) > max_length:
            # The pattern is not tried on an over-long value: the length is the
            # problem to fix, and it bounds the work a hostile value can cause.
            errors.append(field.too_long(_flat(loc), max_length))
        else:
            for problem in problems(value):
                errors.append(field.invalid(_flat(loc), value, problem))

    return check


def _memoised_problems(rule: String) -> Callable[[str], list[str]]:
    memo: dict[str, list[str]] = {}

    def problems(value: str) -> list[str]:
        found = memo.get(value)
        if found is None:
            found = _string_problems(rule, value)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[value] = found
        return found

    return problems


def _string_problems(rule: String, value: str) -> list[str]:
    """Problems of a string apart from its type, enum and maximum length."""
    if len(value) < rule.min_length:
        return [f"must be at least {rule.min_length} characters"]
    if rule.max_length is not None and len(value) > rule.max_length:
        return [f"must be no more than {rule.max_length} characters"]
    if rule.check is not None:
        return rule.check(value)
    if rule.matcher is not None and rule.matcher(value) is None:
        return [f"{rule.pattern_hint} (regex used for validation is '{rule.pattern}')"]
    if rule.format == "date-time" and not is_rfc3339(value):
        return [_RFC3339_HINT]
    return []


def _integer_checker(rule: Integer) -> Checker:
    minimum, maximum = rule.minimum, rule.maximum
    if maximum == INT64_MAX:
        # No meaningful upper bound: say which side of the range the value is on.
        below = f"must be greater than or equal to {minimum}"
        above = f"must be less than or equal to {INT64_MAX}"
    else:
        below = above = f"must be between {minimum} and {maximum}, inclusive"

    def check(value: Any, loc: Loc, errors: list[FieldError]) -> None:
        number = as_integer(value)
        if number is None:
            errors.append(field.wrong_type(_flat(loc), value, "integer"))
        elif number < minimum:
            errors.append(field.invalid(_flat(loc), number, below))
        elif number > maximum:
            errors.append(field.invalid(_flat(loc), number, above))

    return check


_check_pool = compile_rule(INFERENCE_POOL)
_check_spec = compile_rule(SPEC)
_check_status = compile_rule(STATUS)
