"""The engine's front door: from request bytes to response bytes.

The server, the benchmarks and the tests all go through these functions, so a
review is decided the same way wherever it comes from. Nothing here knows
about HTTP: a body that is not an AdmissionReview raises
:class:`MalformedReviewError`, which the server turns into HTTP 400; every
well-formed review gets an AdmissionReview back, whatever it asks.
"""

from typing import Literal

import orjson
from pydantic import ValidationError

from webhook import decisions
from webhook.admission import AdmissionResponse, AdmissionReview, AdmissionReviewResponse

Endpoint = Literal["mutate", "validate"]


class MalformedReviewError(ValueError):
    """The body is not an ``admission.k8s.io/v1`` AdmissionReview with a request uid.

    Raised to the transport, which answers HTTP 400: there is no uid to answer
    to, so no admission response can be built. The message is short, says what
    was expected, and never echoes the body.
    """


def parse_review(body: bytes) -> AdmissionReview:
    """Decode the body once, then check the review's envelope.

    orjson decodes in about half the time of pydantic's own JSON parser, and
    it rejects what kube-apiserver never sends (NaN, Infinity, integers past
    64 bits, nesting past 1024 levels) as malformed. The admitted object is
    not walked by pydantic: the rules read it as raw JSON.
    """
    if not body.strip():
        raise MalformedReviewError("empty body: expected an admission.k8s.io/v1 AdmissionReview")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedReviewError(f"body is not valid JSON: {exc}") from None
    try:
        return AdmissionReview.model_validate(document)
    except ValidationError as exc:
        raise MalformedReviewError(_summarise(exc)) from None


def decide(review: AdmissionReview, endpoint: Endpoint) -> AdmissionResponse:
    """The mutating or validating decision on a parsed review."""
    if endpoint == "mutate":
        return decisions.mutate(review.request)
    return decisions.validate(review.request)


def encode(response: AdmissionResponse) -> bytes:
    """Serialize a response as the AdmissionReview kube-apiserver expects back."""
    return AdmissionReviewResponse(response=response).model_dump_json(exclude_none=True).encode()


def _summarise(exc: ValidationError) -> str:
    # Only the first problem and its location: enough to fix a hand-written
    # review, and never the input itself (it may be huge or hold secrets).
    first = exc.errors(include_input=False, include_url=False)[0]
    if not first["loc"]:
        return "not an admission.k8s.io/v1 AdmissionReview: the body must be a JSON object"
    where = ".".join(str(p) for p in first["loc"])
    return f"not an admission.k8s.io/v1 AdmissionReview: {where}: {first['msg']}"
