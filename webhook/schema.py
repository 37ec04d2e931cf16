"""The InferencePool v1 schema, declared once.

Validation, defaulting, unknown-field warnings and the CRD's OpenAPI schema are
all derived from the tree below, so the webhook and the CRD cannot drift apart.
Patterns are written exactly as the API reference prints them (with the
LabelKey pattern's ``\\\\.`` read as the ``\\.`` it is meant to be) and are always
matched against the whole string, which is what ``$`` means to the API
server's regex engine.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from webhook.names import DNS_SUBDOMAIN, QUALIFIED_NAME_PART, qualified_name_problems

# The resource these rules are for.
POOL_GROUP: Final = "inference.networking.k8s.io"
POOL_VERSION: Final = "v1"
POOL_API_VERSION: Final = f"{POOL_GROUP}/{POOL_VERSION}"
POOL_KIND: Final = "InferencePool"
POOL_RESOURCE: Final = "inferencepools"

# Marks a property without a default (None is a real default for nobody here,
# but a sentinel keeps "no default" from ever meaning "default to null").
NO_DEFAULT: Final[Any] = object()


@dataclass(frozen=True, slots=True)
class String:
    min_length: int = 0
    max_length: int | None = None
    pattern: str | None = None
    # Why a value failed the pattern, in words; the regex follows in the message.
    pattern_hint: str = ""
    enum: tuple[str, ...] | None = None
    # "date-time": RFC 3339, as metav1.Time parses it.
    format: str | None = None
    # A rule the CRD cannot express (qualified names): returns the problems
    # with a value already known to be a string of a valid length.
    check: Callable[[str], list[str]] | None = None
    matcher: Callable[[str], re.Match[str] | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "matcher", re.compile(self.pattern).fullmatch)


@dataclass(frozen=True, slots=True)
class Integer:
    minimum: int
    maximum: int
    format: str  # "int32" or "int64", for the CRD


@dataclass(frozen=True, slots=True)
class Property:
    rule: "Rule"
    default: Any = NO_DEFAULT
    # A default that applies only when the object holding the property
    # satisfies this predicate (portNumber defaults only for Services).
    default_when: Callable[[Mapping[str, Any]], bool] | None = None


@dataclass(frozen=True, slots=True)
class Object:
    properties: Mapping[str, Property]
    required: tuple[str, ...] = ()
    # An object whose contents are not ours to check (metadata).
    opaque: bool = False


@dataclass(frozen=True, slots=True)
class Array:
    items: "Rule"
    max_items: int
    # Items are keyed by this string field, which must be unique (a list-map).
    unique_by: str | None = None


@dataclass(frozen=True, slots=True)
class StringMap:
    keys: String
    values: String


Rule = String | Integer | Object | Array | StringMap


# --- shared field types of the API reference -------------------------------

GROUP = String(
    max_length=253,
    pattern=r"^$|^" + DNS_SUBDOMAIN + r"$",
    pattern_hint="a group must be empty or a lowercase RFC 1123 subdomain",
)
KIND = String(
    min_length=1,
    max_length=63,
    pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$",
    pattern_hint="a kind must start with a letter and hold only letters, digits and '-'",
)
OBJECT_NAME = String(min_length=1, max_length=253)
NAMESPACE = String(
    min_length=1,
    max_length=63,
    pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    pattern_hint="a namespace must be a lowercase RFC 1123 label",
)
PORT_NUMBER = Integer(minimum=1, maximum=65535, format="int32")
FAILURE_MODE = String(enum=("FailOpen", "FailClose"))


LABEL_KEY = String(
    min_length=1,
    max_length=253,
    pattern=r"^(" + DNS_SUBDOMAIN + r"/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$",
    check=qualified_name_problems,
)
LABEL_VALUE = String(
    max_length=63,
    pattern=r"^(" + QUALIFIED_NAME_PART + r")?$",
    pattern_hint=(
        "a valid label must be an empty string or consist of alphanumeric characters,"
        " '-', '_' or '.', and must start and end with an alphanumeric character"
    ),
)

# --- status ----------------------------------------------------------------

PENDING_CONDITION: Final = {
    "type": "Accepted",
    "status": "Unknown",
    "reason": "Pending",
    "message": "Waiting for controller",
    "lastTransitionTime": "1970-01-01T00:00:00Z",
}
GATEWAY_GROUP: Final = "gateway.networking.k8s.io"
# The placeholder parent of a pool no Gateway has taken yet. Its group is
# written out because defaults apply inside a default that was just inserted.
PENDING_PARENT: Final = {
    "parentRef": {"group": GATEWAY_GROUP, "kind": "Status", "name": "default"},
    "conditions": [PENDING_CONDITION],
}

CONDITION_TYPE = String(
    max_length=316,
    pattern=r"^(" + DNS_SUBDOMAIN + r"/)?(" + QUALIFIED_NAME_PART + r")$",
    pattern_hint=(
        "a condition type must be a qualified name such as 'Accepted' or 'example.com/Ready'"
    ),
)
CONDITION_REASON = String(
    min_length=1,
    max_length=1024,
    pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    pattern_hint=(
        "a reason must start with a letter and hold only letters, digits,"
        " '_', ',' and ':', ending with a letter, digit or '_'"
    ),
)
CONDITION_MESSAGE = String(max_length=32768)

CONDITION = Object(
    properties={
        "type": Property(CONDITION_TYPE),
        "status": Property(String(enum=("True", "False", "Unknown"))),
        "observedGeneration": Property(Integer(minimum=0, maximum=2**63 - 1, format="int64")),
        "lastTransitionTime": Property(String(format="date-time")),
        "reason": Property(CONDITION_REASON),
        "message": Property(CONDITION_MESSAGE),
    },
    required=("type", "status", "lastTransitionTime", "reason", "message"),
)

PARENT_REF = Object(
    properties={
        "group": Property(GROUP, default=GATEWAY_GROUP),
        "kind": Property(KIND, default="Gateway"),
        "name": Property(OBJECT_NAME),
        "namespace": Property(NAMESPACE),
    },
    required=("name",),
)

POOL_STATUS = Object(
    properties={
        "parentRef": Property(PARENT_REF),
        "conditions": Property(
            Array(CONDITION, max_items=8, unique_by="type"), default=[PENDING_CONDITION]
        ),
    },
    required=("parentRef",),
)

STATUS = Object(properties={"parent": Property(Array(POOL_STATUS, max_items=32))})

# --- spec ------------------------------------------------------------------


def _is_service(extension_ref: Mapping[str, Any]) -> bool:
    # The kind as it will be once defaulted: absent or null means Service.
    kind = extension_ref.get("kind")
    return kind is None or kind == "Service"


EXTENSION_REF = Object(
    properties={
        "group": Property(GROUP, default=""),
        "kind": Property(KIND, default="Service"),
        "name": Property(OBJECT_NAME),
        "portNumber": Property(PORT_NUMBER, default=9002, default_when=_is_service),
        "failureMode": Property(FAILURE_MODE, default="FailClose"),
    },
    required=("name",),
)

SPEC = Object(
    properties={
        "selector": Property(StringMap(keys=LABEL_KEY, values=LABEL_VALUE)),
        "targetPortNumber": Property(PORT_NUMBER),
        "extensionRef": Property(EXTENSION_REF),
    },
    required=("selector", "targetPortNumber", "extensionRef"),
)

INFERENCE_POOL = Object(
    properties={
        "apiVersion": Property(String()),
        "kind": Property(String()),
        "metadata": Property(Object(properties={}, opaque=True)),
        "spec": Property(SPEC),
        "status": Property(STATUS, default={"parent": [PENDING_PARENT]}),
    },
)
