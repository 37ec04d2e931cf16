"""The mutating and validating decisions on an InferencePool admission request.

Both endpoints first make sure the review is for InferencePool v1 at all: a
review for anything else means the webhook configuration matches resources
it should not, which is denied loudly rather than waved through.
"""

from typing import Any

from webhook import responses
from webhook.admission import AdmissionRequest, AdmissionResponse
from webhook.defaulting import default_pool
from webhook.ratchet import ratchet, unchanged
from webhook.schema import POOL_API_VERSION, POOL_GROUP, POOL_KIND, POOL_RESOURCE, POOL_VERSION
from webhook.validation import validate_spec, validate_status
from webhook.warnings import spec_warnings, status_warnings

SUBRESOURCES = ("", "status")
_KIND = (POOL_GROUP, POOL_VERSION, POOL_KIND)
_RESOURCE = (POOL_GROUP, POOL_VERSION, POOL_RESOURCE)


def mutate(request: AdmissionRequest) -> AdmissionResponse:
    """Fill the pool's missing defaults; nothing else is decided here."""
    settled = _without_a_pool(request)
    if settled is not None:
        return settled
    pool: dict[str, Any] = request.object
    parts = ("status",) if request.subResource == "status" else ("spec", "status")
    return responses.patched(request.uid, default_pool(pool, parts))


def validate(request: AdmissionRequest) -> AdmissionResponse:
    """Admit the pool or deny it with every problem the write introduces."""
    settled = _without_a_pool(request)
    if settled is not None:
        return settled
    pool: dict[str, Any] = request.object

    # A write to the main resource cannot change status and a write to the
    # status subresource cannot change spec (the API server keeps the stored
    # part), so each is judged on the part it can change.
    if request.subResource == "status":
        part, check, warnings = "status", validate_status, status_warnings(pool)
    else:
        part, check, warnings = "spec", validate_spec, spec_warnings(pool)

    old = request.oldObject
    if request.operation == "UPDATE" and isinstance(old, dict):
        errors = [] if unchanged(pool, old, part) else ratchet(check(pool), pool, old)
    else:
        errors = check(pool)
    if errors:
        return responses.invalid(request.uid, _name(request, pool), errors, warnings)
    return responses.allowed(request.uid, warnings)


def _without_a_pool(request: AdmissionRequest) -> AdmissionResponse | None:
    """The answer to a review that is settled before any pool is looked at.

    None when the review is a CREATE or UPDATE of an InferencePool whose
    ``object`` is a JSON object: the case both endpoints go on to decide.
    """
    misdirected = _misdirected(request)
    if misdirected is not None:
        return misdirected
    if request.operation not in ("CREATE", "UPDATE"):
        return responses.allowed(request.uid)
    if not isinstance(request.object, dict):
        return _not_an_object(request.uid, request.object)
    return None


def _misdirected(request: AdmissionRequest) -> AdmissionResponse | None:
    kind, resource = request.kind, request.resource
    if kind is not None and (kind.group, kind.version, kind.kind) != _KIND:
        what = f"{kind.group or 'core'}/{kind.version} {kind.kind}"
    elif (
        resource is not None and (resource.group, resource.version, resource.resource) != _RESOURCE
    ):
        what = f"{resource.group or 'core'}/{resource.version} {resource.resource}"
    elif request.subResource not in SUBRESOURCES:
        what = f"subresource {request.subResource!r} of {POOL_RESOURCE}"
    else:
        return None
    return responses.bad_request(
        request.uid,
        f"this webhook admits {POOL_API_VERSION} {POOL_KIND} and its status only, not {what}:"
        " check the rules of the webhook configuration",
    )


def _not_an_object(uid: str, value: Any) -> AdmissionResponse:
    shown = "null" if value is None else type(value).__name__
    return responses.bad_request(uid, f"request.object must be an {POOL_KIND} object, not {shown}")


def _name(request: AdmissionRequest, pool: dict[str, Any]) -> str:
    if request.name:
        return request.name
    metadata = pool.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""
