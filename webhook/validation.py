"""Validation of an InferencePool against :mod:`webhook.schema`.

Every problem is collected, none stops the walk, and each names the field it
is about. Values are taken as the API server decodes them: ``null`` is the
same as absent for a property (the server drops it before anyone looks), an
integer written as ``8000.0`` is the integer 8000, and a boolean is never a
number.
"""

import math
from collections.abc import Mapping
from typing import Any

from webhook import field
from webhook.field import FieldError, MapKey, Path
from webhook.names import is_rfc3339
from webhook.schema import INFERENCE_POOL, SPEC, STATUS, Array, Integer, Object, Rule, String

INT64_MAX = 2**63 - 1
_RFC3339_HINT = 'must be an RFC 3339 date-time such as "2006-01-02T15:04:05Z"'


def validate_pool(pool: Mapping[str, Any]) -> list[FieldError]:
    """All problems of a whole pool, spec and status: what ``check`` reports."""
    errors: list[FieldError] = []
    _check(INFERENCE_POOL, pool, (), errors)
    return errors


def validate_spec(pool: Mapping[str, Any]) -> list[FieldError]:
    """Problems of ``spec``: what a write to the main resource can change."""
    errors: list[FieldError] = []
    spec = pool.get("spec")
    if spec is not None:
        _check(SPEC, spec, ("spec",), errors)
    return errors


def validate_status(pool: Mapping[str, Any]) -> list[FieldError]:
    """Problems of ``status``: what a write to the status subresource can change."""
    errors: list[FieldError] = []
    status = pool.get("status")
    if status is not None:
        _check(STATUS, status, ("status",), errors)
    return errors


def _check(rule: Rule, value: Any, path: Path, errors: list[FieldError]) -> None:
    if isinstance(rule, String):
        _check_string(rule, value, path, errors)
    elif isinstance(rule, Integer):
        _check_integer(rule, value, path, errors)
    elif isinstance(rule, Object):
        _check_object(rule, value, path, errors)
    elif isinstance(rule, Array):
        _check_array(rule, value, path, errors)
    else:
        _check_string_map(rule.keys, rule.values, value, path, errors)


def _check_object(rule: Object, value: Any, path: Path, errors: list[FieldError]) -> None:
    if not isinstance(value, dict):
        errors.append(field.wrong_type(path, value, "object"))
        return
    if rule.opaque:
        return
    for name in rule.required:
        if value.get(name) is None:
            errors.append(field.required((*path, name)))
    for name, prop in rule.properties.items():
        child = value.get(name)
        if child is not None:
            _check(prop.rule, child, (*path, name), errors)


def _check_array(rule: Array, value: Any, path: Path, errors: list[FieldError]) -> None:
    if not isinstance(value, list):
        errors.append(field.wrong_type(path, value, "array"))
        return
    if len(value) > rule.max_items:
        errors.append(field.too_many(path, len(value), rule.max_items))
    seen: set[str] = set()
    for index, item in enumerate(value):
        _check(rule.items, item, (*path, index), errors)
        if rule.unique_by is not None and isinstance(item, dict):
            key = item.get(rule.unique_by)
            if isinstance(key, str):
                if key in seen:
                    errors.append(field.duplicate((*path, index, rule.unique_by), key))
                seen.add(key)


def _check_string_map(
    keys: String, values: String, value: Any, path: Path, errors: list[FieldError]
) -> None:
    if not isinstance(value, dict):
        errors.append(field.wrong_type(path, value, "object"))
        return
    for key, item in value.items():
        # A bad key is reported against the map, as the API server reports
        # label keys, but located at the key for ratcheting.
        key_path = (*path, MapKey(key))
        for problem in _string_problems(keys, key):
            errors.append(
                field.FieldError(field.ErrorType.INVALID, key_path, key, problem, shown_path=path)
            )
        _check_string(values, item, key_path, errors)


def _check_string(rule: String, value: Any, path: Path, errors: list[FieldError]) -> None:
    if not isinstance(value, str):
        errors.append(field.wrong_type(path, value, "string"))
        return
    if rule.enum is not None:
        if value not in rule.enum:
            errors.append(field.not_supported(path, value, rule.enum))
        return
    if rule.max_length is not None and len(value) > rule.max_length:
        # The pattern is not tried on an over-long value: the length is the
        # problem to fix, and it bounds the work a hostile value can cause.
        errors.append(field.too_long(path, rule.max_length))
        return
    errors.extend(field.invalid(path, value, problem) for problem in _string_problems(rule, value))


def _string_problems(rule: String, value: str) -> list[str]:
    """Problems of a string apart from its type and maximum length."""
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


def _check_integer(rule: Integer, value: Any, path: Path, errors: list[FieldError]) -> None:
    number = as_integer(value)
    if number is None:
        errors.append(field.wrong_type(path, value, "integer"))
    elif not rule.minimum <= number <= rule.maximum:
        if rule.maximum == INT64_MAX:
            # No meaningful upper bound: say which side the value is on.
            detail = (
                f"must be greater than or equal to {rule.minimum}"
                if number < rule.minimum
                else f"must be less than or equal to {INT64_MAX}"
            )
        else:
            detail = f"must be between {rule.minimum} and {rule.maximum}, inclusive"
        errors.append(field.invalid(path, number, detail))


def as_integer(value: Any) -> int | None:
    """The integer a JSON number stands for, as the API server reads it; None if none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None
