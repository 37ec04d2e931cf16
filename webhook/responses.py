"""Constructors for admission responses, one per outcome.

Every response echoes the request's ``uid``: kube-apiserver treats a response
with any other uid as a failed call. Call sites pick an outcome by name and
never assemble response dictionaries themselves.
"""

import base64
from collections.abc import Sequence
from typing import Any

import orjson

from webhook.admission import AdmissionResponse, Status, StatusCause, StatusDetails
from webhook.field import FieldError
from webhook.schema import POOL_GROUP, POOL_KIND

# A denial lists every problem, but a hostile object can carry hundreds of
# thousands of them (a selector of bad keys has no size limit but the
# request's); past this many the rest are counted, not listed, so the
# response stays around a megabyte. The bound is above what any pool whose
# lists keep their limits can have: 32 parents, each with 4 reference fields,
# 8 conditions of 6 fields and 7 duplicate types, make 1,888 problems.
MAX_CAUSES = 2048

# kube-apiserver cuts each warning at 256 characters and drops warnings past
# 4096 characters in all; cutting here keeps what is shown deliberate.
MAX_WARNING_CHARS = 256
MAX_WARNINGS_TOTAL_CHARS = 4096


def allowed(uid: str, warnings: Sequence[str] = ()) -> AdmissionResponse:
    """The object is admitted unchanged."""
    return AdmissionResponse(uid=uid, allowed=True, warnings=bounded_warnings(warnings))


def patched(
    uid: str, patch: Sequence[dict[str, Any]], warnings: Sequence[str] = ()
) -> AdmissionResponse:
    """The object is admitted with a JSON Patch; an empty patch sends none."""
    if not patch:
        return allowed(uid, warnings)
    body = orjson.dumps(list(patch))
    return AdmissionResponse(
        uid=uid,
        allowed=True,
        patch=base64.b64encode(body).decode("ascii"),
        patchType="JSONPatch",
        warnings=bounded_warnings(warnings),
    )


def invalid(
    uid: str, name: str, errors: Sequence[FieldError], warnings: Sequence[str] = ()
) -> AdmissionResponse:
    """The object breaks the rules: 422 Invalid with one cause per problem.

    The message has the form ``kubectl`` prints for a schema failure, so a user
    reading it after kube-apiserver's "denied the request" prefix sees the
    usual ``InferencePool.inference.networking.k8s.io "x" is invalid: ...``.
    """
    shown = errors[:MAX_CAUSES]
    texts = [str(e) for e in shown]
    if len(errors) > MAX_CAUSES:
        texts.append(f"and {len(errors) - MAX_CAUSES} more errors")
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [
        StatusCause(reason=e.type.cause, type=e.type.cause, field=e.field, message=e.message)
        for e in shown
    ]
    status = Status(
        code=422,
        reason="Invalid",
        message=f'{POOL_KIND}.{POOL_GROUP} "{name}" is invalid: {summary}',
        details=StatusDetails(name=name, group=POOL_GROUP, kind=POOL_KIND, causes=causes),
    )
    return AdmissionResponse(
        uid=uid, allowed=False, status=status, warnings=bounded_warnings(warnings)
    )


def bad_request(uid: str, message: str) -> AdmissionResponse:
    """The review is well formed but not one this webhook can decide (400 BadRequest)."""
    return AdmissionResponse(
        uid=uid, allowed=False, status=Status(code=400, reason="BadRequest", message=message)
    )


def errored(uid: str) -> AdmissionResponse:
    """Something unexpected failed while deciding: denied with 500, details stay in the log."""
    status = Status(
        code=500,
        reason="InternalError",
        message="internal error in the InferencePool webhook; the request was not admitted",
    )
    return AdmissionResponse(uid=uid, allowed=False, status=status)


def bounded_warnings(warnings: Sequence[str]) -> list[str] | None:
    """Cut warnings to the sizes kube-apiserver keeps; None when there are none."""
    out: list[str] = []
    total = 0
    for warning in warnings:
        text = warning if len(warning) <= MAX_WARNING_CHARS else warning[:253] + "..."
        if total + len(text) > MAX_WARNINGS_TOTAL_CHARS:
            break
        out.append(text)
        total += len(text)
    return out or None
