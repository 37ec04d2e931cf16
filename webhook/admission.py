"""Wire types of ``admission.k8s.io/v1`` AdmissionReview, as kube-apiserver sends them.

Only what the webhook reads or writes is modelled; fields kube-apiserver may add
later are ignored rather than rejected, so that a newer server keeps working.
The object being admitted stays raw JSON (``object``/``oldObject``): defaulting
patches must be computed against the exact bytes received, unknown fields and
all, and the rules report type mistakes themselves.
"""

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

API_VERSION: Final = "admission.k8s.io/v1"
REVIEW_KIND: Final = "AdmissionReview"

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]

# Go omits empty fields, but other clients write them as null: both mean empty.
_Text = Annotated[str, BeforeValidator(lambda value: "" if value is None else value)]
_Flag = Annotated[bool, BeforeValidator(lambda value: False if value is None else value)]


class _Wire(BaseModel):
    # Strict: a review is written by kube-apiserver, never by a person, so a
    # string where a boolean belongs means the caller is not kube-apiserver.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class GroupVersionKind(_Wire):
    group: _Text = ""
    version: str
    kind: str


class GroupVersionResource(_Wire):
    group: _Text = ""
    version: str
    resource: str


class UserInfo(_Wire):
    username: _Text = ""
    uid: _Text = ""
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)


class AdmissionRequest(_Wire):
    uid: str = Field(min_length=1)
    # kube-apiserver always sends kind and resource; a review without them is
    # still decided, judged by what it carries.
    kind: GroupVersionKind | None = None
    resource: GroupVersionResource | None = None
    subResource: _Text = ""
    requestKind: GroupVersionKind | None = None
    requestResource: GroupVersionResource | None = None
    requestSubResource: _Text = ""
    name: _Text = ""
    namespace: _Text = ""
    operation: Operation
    userInfo: UserInfo = Field(default_factory=UserInfo)
    object: Any = None
    oldObject: Any = None
    dryRun: _Flag = False
    options: Any = None


class AdmissionReview(_Wire):
    """An incoming review; ``request`` is what the webhook decides on."""

    apiVersion: Literal["admission.k8s.io/v1"]
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


class StatusCause(_Wire):
    """One problem with the object, named by its field path.

    ``reason`` is the JSON name metav1.StatusCause gives the cause type, which
    kube-apiserver passes on to clients; ``type`` carries the same value under
    the name the error documentation of this webhook uses.
    """

    reason: str
    type: str
    field: str
    message: str


class StatusDetails(_Wire):
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: list[StatusCause] = Field(default_factory=list)


class Status(_Wire):
    """A metav1.Status explaining a denial; kube-apiserver relays it to the client."""

    metadata: dict[str, Any] = Field(default_factory=dict)
    status: Literal["Failure"] = "Failure"
    code: int
    reason: str
    message: str
    details: StatusDetails | None = None


class AdmissionResponse(_Wire):
    uid: str
    allowed: bool
    status: Status | None = None
    patch: str | None = None
    patchType: Literal["JSONPatch"] | None = None
    warnings: list[str] | None = None


class AdmissionReviewResponse(_Wire):
    apiVersion: Literal["admission.k8s.io/v1"] = API_VERSION
    kind: Literal["AdmissionReview"] = REVIEW_KIND
    response: AdmissionResponse
