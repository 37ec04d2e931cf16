"""Typed models of the InferencePool v1 API, for code that wants objects, not dicts.

Every type of the API reference is here under its JSON names, with the
constraints taken from :mod:`webhook.schema`, so a model validates exactly
what the admission rules accept. The webhook itself works on raw JSON (its
patches must match the bytes received); these models are for readers of
admitted pools, and are checked against the rules in the tests.
"""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from webhook import schema
from webhook.names import is_rfc3339, qualified_name_problems
from webhook.validation import as_integer


def _string(rule: schema.String) -> Any:
    return StringConstraints(
        min_length=rule.min_length, max_length=rule.max_length, pattern=rule.pattern
    )


def _integral(value: Any) -> Any:
    # The API server reads 8000.0 as the integer 8000, and so do the models.
    if isinstance(value, float):
        number = as_integer(value)
        return value if number is None else number
    return value


def _qualified_name(value: str) -> str:
    problems = qualified_name_problems(value)
    if problems:
        raise ValueError("; ".join(problems))
    return value


def _rfc3339(value: str) -> str:
    if not is_rfc3339(value):
        raise ValueError("must be an RFC 3339 date-time")
    return value


Group = Annotated[str, _string(schema.GROUP)]
Kind = Annotated[str, _string(schema.KIND)]
ObjectName = Annotated[str, _string(schema.OBJECT_NAME)]
Namespace = Annotated[str, _string(schema.NAMESPACE)]
LabelKey = Annotated[str, _string(schema.LABEL_KEY), AfterValidator(_qualified_name)]
LabelValue = Annotated[str, _string(schema.LABEL_VALUE)]
PortNumber = Annotated[
    int,
    BeforeValidator(_integral),
    Field(ge=schema.PORT_NUMBER.minimum, le=schema.PORT_NUMBER.maximum),
]
ExtensionFailureMode = Literal["FailOpen", "FailClose"]


class _Model(BaseModel):
    # Strict: "8000" is not a port and true is not a number, as for the API
    # server. Unknown fields are ignored: the API server prunes them.
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class ExtensionConnection(_Model):
    """How the gateway treats an unresponsive endpoint picker."""

    failureMode: ExtensionFailureMode | None = "FailClose"


class ExtensionReference(_Model):
    """The Service (or other kind) that runs the endpoint picker."""

    group: Group | None = ""
    kind: Kind | None = "Service"
    name: ObjectName
    portNumber: PortNumber | None = None


class Extension(ExtensionReference, ExtensionConnection):
    """An endpoint picker run as an extension service: reference plus connection options."""


class EndpointPickerConfig(_Model):
    """Where the proxy finds the endpoint picker."""

    extensionRef: Extension


class InferencePoolSpec(_Model):
    selector: dict[LabelKey, LabelValue]
    targetPortNumber: PortNumber
    extensionRef: Extension


class Condition(_Model):
    """metav1.Condition, as InferencePool status uses it."""

    type: Annotated[str, _string(schema.CONDITION_TYPE)]
    status: Literal["True", "False", "Unknown"]
    observedGeneration: (
        Annotated[int, BeforeValidator(_integral), Field(ge=0, le=2**63 - 1)] | None
    ) = None
    lastTransitionTime: Annotated[str, AfterValidator(_rfc3339)]
    reason: Annotated[str, _string(schema.CONDITION_REASON)]
    message: Annotated[str, _string(schema.CONDITION_MESSAGE)]


class ParentGatewayReference(_Model):
    group: Group | None = schema.GATEWAY_GROUP
    kind: Kind | None = "Gateway"
    name: ObjectName
    namespace: Namespace | None = None


class PoolStatus(_Model):
    parentRef: ParentGatewayReference
    conditions: Annotated[list[Condition], Field(max_length=8)] | None = None

    @model_validator(mode="after")
    def _unique_condition_types(self) -> "PoolStatus":
        types = [c.type for c in self.conditions or []]
        if len(types) != len(set(types)):
            raise ValueError("condition types must be unique")
        return self


class InferencePoolStatus(_Model):
    parent: Annotated[list[PoolStatus], Field(max_length=32)] | None = None


class InferencePool(_Model):
    apiVersion: str | None = schema.POOL_API_VERSION
    kind: str | None = schema.POOL_KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: InferencePoolSpec | None = None
    status: InferencePoolStatus | None = None
