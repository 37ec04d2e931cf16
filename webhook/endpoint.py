"""The review endpoints: POST /mutate and POST /validate as bare ASGI apps.

Two error channels, as kube-apiserver reads them. A request that is not a
review this server can answer gets an HTTP error with a short JSON body
``{"code": ..., "message": ...}``: 415 for a body that is not JSON, 413 for a
body over the limit, 408 for one that does not arrive in time, 400 for a body
that is not an AdmissionReview. A review, once parsed, always gets HTTP 200
with an AdmissionReview carrying its uid, even when deciding it fails (then a
denial with code 500).

The body is checked for type and declared size before it is read, read once,
parsed once with the engine's JSON parser and answered with one encoding;
nothing is done per request that start-up could do.
"""

import asyncio
import functools
import json
import logging
import re
import time
from typing import Final
from urllib.parse import unquote

from starlette.types import Receive, Scope, Send

from webhook import logs, responses
from webhook.admission import AdmissionResponse, AdmissionReview
from webhook.metrics import Metrics, Outcome
from webhook.review import Endpoint, MalformedReviewError, decide, encode, parse_review
from webhook.settings import Settings

logger = logging.getLogger(__name__)

JSON: Final = "application/json"
_JSON_BYTES: Final = JSON.encode()

RawHeaders = list[tuple[bytes, bytes]]

# Bodies past this size are decided in a worker thread. A review of a few
# kilobytes takes tens of microseconds, less than the hop to a thread; one of
# several megabytes full of mistakes can take a second, and on the event loop
# it would stall health checks and every other review for that long.
OFF_LOOP_BYTES: Final = 256 * 1024

# Go's time.Duration text, which kube-apiserver uses for ``?timeout=`` (``10s``).
_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?)(h|ms|m|s|us|µs|ns))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(h|ms|m|s|us|µs|ns)")
_TIMEOUT_PARAM = re.compile(rb"(?:^|&)timeout=([^&]*)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


class RequestProblem(Exception):
    """The request cannot be answered with a review; becomes an HTTP error for the client."""

    def __init__(self, code: int, message: str, *, unread_body: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.unread_body = unread_body


def problem_body(code: int, message: str) -> bytes:
    """The JSON body of the HTTP error channel."""
    return json.dumps({"code": code, "message": message}).encode()


def _json_headers(length: int) -> RawHeaders:
    return [(b"content-type", _JSON_BYTES), (b"content-length", str(length).encode())]


class ReviewEndpoint:
    """POST /mutate or POST /validate: a bare ASGI app under FastAPI's router.

    The router still matches the path and answers wrong methods; from there
    on the review skips the framework's request and response objects, which
    cost more than deciding a typical review.
    """

    def __init__(self, endpoint: Endpoint, settings: Settings, metrics: Metrics) -> None:
        self.endpoint: Endpoint = endpoint
        self.max_body_bytes = settings.max_body_bytes
        self.read_timeout = settings.read_timeout
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.metrics.in_flight += 1
        try:
            try:
                status, headers, body = await self._answer(scope, receive)
            except Exception:
                # A failure outside deciding (which has its own answer): the
                # JSON error channel, no traceback to the client.
                logger.exception("request to /%s failed unexpectedly", self.endpoint)
                status, headers, body = self._problem(
                    500, "internal error in the InferencePool webhook"
                )
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            self.metrics.in_flight -= 1

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, RawHeaders, bytes]:
        try:
            body = await self._read(scope, receive)
        except RequestProblem as exc:
            # The rest of an unread body would still be on its way: close
            # rather than receive it only to throw it away.
            return self._problem(exc.code, exc.message, close=exc.unread_body)
        if len(body) > OFF_LOOP_BYTES:
            return await asyncio.to_thread(self._review, body)
        return self._review(body)

    def _review(self, body: bytes) -> tuple[int, RawHeaders, bytes]:
        try:
            review = parse_review(body)
        except MalformedReviewError as exc:
            return self._problem(400, str(exc))

        started = time.perf_counter()
        decision = self._decide(review)
        encoded = encode(decision)
        seconds = time.perf_counter() - started

        self.metrics.review(self.endpoint, review.request.operation, _outcome(decision), seconds)
        logs.review(self.endpoint, review.request, decision, seconds)
        return 200, _json_headers(len(encoded)), encoded

    def _decide(self, review: AdmissionReview) -> AdmissionResponse:
        uid = review.request.uid
        try:
            decision = decide(review, self.endpoint)
            if decision.uid != uid:
                raise RuntimeError("the decision answers a different uid")
        except Exception:
            # The uid and the exception, never the object: it may be large and
            # it is the user's data.
            logger.exception(
                "review %s on /%s failed unexpectedly; denied with code 500", uid, self.endpoint
            )
            self.metrics.unexpected_errors.inc()
            return responses.errored(uid)
        return decision

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        """The body, checked for type and size before it is read whole."""
        content_type = b""
        encoding = b""
        declared: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = value
            elif name == b"content-encoding":
                encoding = value
        if content_type.partition(b";")[0].strip().lower() != _JSON_BYTES:
            received = content_type.decode("latin-1") or "no content type"
            raise RequestProblem(415, f"{received} is not supported: expected {JSON}")
        # kube-apiserver sends reviews uncompressed; a compressed body is not
        # decoded (that would let a small request expand into a huge one).
        if encoding.strip().lower() not in (b"", b"identity"):
            received = encoding.decode("latin-1")
            raise RequestProblem(
                415, f"content encoding {received} is not supported: send the body uncompressed"
            )
        if declared is not None:
            if not declared.isdigit():
                raise RequestProblem(
                    400, f"Content-Length {declared.decode('latin-1')!r} is not a number of bytes"
                )
            if int(declared) > self.max_body_bytes:
                too_large = self._too_large(f"{int(declared)} bytes")
                raise RequestProblem(413, too_large, unread_body=True)

        deadline = self.read_timeout
        query: bytes = scope["query_string"]
        if query:
            deadline = min(deadline, _timeout(query))

        chunks: list[bytes] = []
        size = 0
        more = True
        try:
            async with asyncio.timeout(deadline):
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise RequestProblem(
                            400, "client disconnected before sending the whole body"
                        )
                    chunk = message.get("body", b"")
                    more = message.get("more_body", False)
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        too_large = self._too_large(f"over {self.max_body_bytes} bytes")
                        raise RequestProblem(413, too_large, unread_body=True)
                    chunks.append(chunk)
        except TimeoutError:
            late = f"body not received within {deadline:g}s"
            raise RequestProblem(408, late, unread_body=True) from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _problem(
        self, code: int, message: str, *, close: bool = False
    ) -> tuple[int, RawHeaders, bytes]:
        self.metrics.rejected(code)
        body = problem_body(code, message)
        headers = _json_headers(len(body))
        if close:
            headers.append((b"connection", b"close"))
        return code, headers, body

    def _too_large(self, received: str) -> str:
        return f"body of {received} is over the limit of {self.max_body_bytes} bytes"


def _outcome(decision: AdmissionResponse) -> Outcome:
    if decision.allowed:
        return "patched" if decision.patch is not None else "allowed"
    if decision.status is not None and decision.status.code == 500:
        return "errored"
    return "denied"


@functools.lru_cache(maxsize=64)
def _timeout(query: bytes) -> float:
    """Seconds in the ``?timeout=`` of a query such as ``timeout=10s``; infinite without one.

    Cached: kube-apiserver sends the same few values again and again.
    """
    match = _TIMEOUT_PARAM.search(query)
    if match is None:
        return float("inf")
    value = unquote(match.group(1).decode("latin-1"))
    if not _DURATION.fullmatch(value):
        raise RequestProblem(
            400, f"timeout {value!r} is not a duration: expected a value such as 10s"
        )
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
