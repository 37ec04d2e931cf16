"""Field errors in the form Kubernetes users already read.

A :class:`FieldError` is one problem with one field of the object. Its text is
``<path>: <type>[: <value>][: <detail>]``, the way ``field.Error`` renders in the
API server, so ``kubectl`` users see familiar messages such as
``spec.targetPortNumber: Invalid value: 0: must be between 1 and 65535, inclusive``.
"""

import json
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any


class MapKey(str):
    """A key of a map field (a selector label), shown in brackets in a path."""

    __slots__ = ()


# A JSON location inside the object: keys and list indices from the root.
Path = tuple[str | int, ...]

# Values are echoed in messages, which end up in responses and logs; a pool can
# carry a megabyte string, so echoes are cut to a size a person can read.
_ECHO_LIMIT = 128


class ErrorType(Enum):
    """The error types of ``k8s.io/apimachinery/pkg/util/validation/field``.

    The value is the cause type sent in ``status.details.causes``; the label is
    what the message shows.
    """

    REQUIRED = ("FieldValueRequired", "Required value")
    INVALID = ("FieldValueInvalid", "Invalid value")
    TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")
    NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
    DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
    TOO_LONG = ("FieldValueTooLong", "Too long")
    TOO_MANY = ("FieldValueTooMany", "Too many")

    def __init__(self, cause: str, label: str) -> None:
        self.cause = cause
        self.label = label


class _Absent:
    """Marks an error that echoes no value (Required, Too long)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


def render_path(path: Path) -> str:
    """Render a JSON location as a Kubernetes field path: ``status.parent[0].name``.

    Map keys (selector labels) are shown in brackets, as ``field.Path.Key``
    does: ``spec.selector[app.kubernetes.io/name]``.
    """
    out: list[str] = []
    for step in path:
        if isinstance(step, int | MapKey):
            out.append(f"[{step}]")
        else:
            out.append(f".{step}" if out else step)
    return "".join(out)


def echo(value: Any) -> str:
    """Show a value inside a message as Go's ``%v``/``%q`` would, cut to a readable size."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if math.isfinite(value) and value.is_integer() else repr(value)
    elif isinstance(value, str):
        text = json.dumps(value[: _ECHO_LIMIT + 1], ensure_ascii=False)
    else:
        text = json.dumps(type_name(value))
    if len(text) > _ECHO_LIMIT:
        text = text[:_ECHO_LIMIT] + "..."
    return text


def type_name(value: Any) -> str:
    """The JSON type of a decoded value, in the words of an OpenAPI schema."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field.

    ``path`` locates the offending value (or, for a Required error, the
    missing field); ``subject`` is what must be unchanged for an update to keep
    an old mistake (see :mod:`webhook.ratchet`), ``path`` when not given.
    """

    type: ErrorType
    path: Path
    value: Any = ABSENT
    detail: str = ""
    subject: Path | None = None
    # Errors on a selector key are shown against the selector, as the API
    # server's label validation does, while still locating the key.
    shown_path: Path | None = None

    @property
    def field(self) -> str:
        return render_path(self.shown_path if self.shown_path is not None else self.path)

    @property
    def message(self) -> str:
        parts = [self.type.label]
        if self.value is not ABSENT:
            parts.append(echo(self.value))
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def required(path: Path, detail: str = "") -> FieldError:
    # Whether a required field is missing is a property of the object that
    # holds it, so that is what an update must leave unchanged to keep it.
    return FieldError(ErrorType.REQUIRED, path, detail=detail, subject=path[:-1])


def invalid(path: Path, value: Any, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, path, value, detail)


def wrong_type(path: Path, value: Any, expected: str) -> FieldError:
    return FieldError(ErrorType.TYPE_INVALID, path, type_name(value), f"must be of type {expected}")


def not_supported(path: Path, value: Any, supported: tuple[str, ...]) -> FieldError:
    listed = ", ".join(json.dumps(s) for s in supported)
    return FieldError(ErrorType.NOT_SUPPORTED, path, value, f"supported values: {listed}")


def duplicate(path: Path, value: Any, within: Path) -> FieldError:
    # A duplicate is a property of the whole list it is in: an update that
    # keeps the item but changes its neighbours can be what creates it.
    return FieldError(ErrorType.DUPLICATE, path, value, subject=within)


def too_long(path: Path, limit: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, path, detail=f"may not be more than {limit} characters")


def too_many(path: Path, count: int, limit: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, path, count, f"must have at most {limit} items")
