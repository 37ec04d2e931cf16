"""The HTTP side of the webhook: FastAPI routes around the admission engine.

Two error channels, as kube-apiserver reads them. A request that is not a
review this server can answer gets an HTTP error with a short JSON body
``{"code": ..., "message": ...}``: 405 for a wrong method, 415 for a body that
is not JSON, 413 for a body over the limit, 408 for one that does not arrive
in time, 400 for a body that is not an AdmissionReview. A review, once parsed,
always gets HTTP 200 with an AdmissionReview carrying its uid, even when
deciding it fails (a denial with code 500). FastAPI's automatic 422 never
reaches a client: the review routes take the raw request, and every error
FastAPI could raise is answered through the JSON channel instead.

The review routes are plain Starlette routes: they read the body once (after
checking its declared size), parse it once with pydantic's JSON parser and
encode the answer once, with nothing per request that start-up could do.
"""

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Final

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from webhook import logs, responses
from webhook.admission import AdmissionResponse, AdmissionReview
from webhook.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from webhook.metrics import Metrics, Outcome
from webhook.review import Endpoint, MalformedReviewError, decide, encode, parse_review
from webhook.settings import Settings
from webhook.tls import CertificateStore

logger = logging.getLogger(__name__)

JSON: Final = "application/json"
_CLOSE: Final = {"Connection": "close"}

# Go's time.Duration text, which kube-apiserver uses for ``?timeout=`` (``10s``).
_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?)(h|ms|m|s|us|µs|ns))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(h|ms|m|s|us|µs|ns)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


class RequestProblem(Exception):
    """The request cannot be answered with a review; becomes an HTTP error for the client."""

    def __init__(self, code: int, message: str, *, unread_body: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.unread_body = unread_body


def problem_response(code: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The JSON body of the HTTP error channel."""
    body = json.dumps({"code": code, "message": message}).encode()
    return Response(body, status_code=code, media_type=JSON, headers=headers)


class ReviewHandler:
    """Answers POST /mutate and POST /validate."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.max_body_bytes = settings.max_body_bytes
        self.read_timeout = settings.read_timeout
        self.metrics = metrics

    async def mutate(self, request: Request) -> Response:
        return await self._answer(request, "mutate")

    async def validate(self, request: Request) -> Response:
        return await self._answer(request, "validate")

    async def _answer(self, request: Request, endpoint: Endpoint) -> Response:
        self.metrics.in_flight.inc()
        try:
            try:
                body = await self._read(request)
                review = parse_review(body)
            except MalformedReviewError as exc:
                self.metrics.rejected(400)
                return problem_response(400, str(exc))
            except RequestProblem as exc:
                self.metrics.rejected(exc.code)
                # The rest of an unread body would still be on its way: close
                # rather than receive it only to throw it away.
                headers = _CLOSE if exc.unread_body else None
                return problem_response(exc.code, exc.message, headers)

            started = time.perf_counter()
            decision = self._decide(review.request.uid, review, endpoint)
            encoded = encode(decision)
            seconds = time.perf_counter() - started

            outcome = _outcome(decision)
            self.metrics.review(endpoint, review.request.operation, outcome, seconds)
            logs.review(endpoint, review.request, decision, seconds)
            return Response(encoded, media_type=JSON)
        finally:
            self.metrics.in_flight.dec()

    def _decide(self, uid: str, review: AdmissionReview, endpoint: Endpoint) -> AdmissionResponse:
        try:
            decision = decide(review, endpoint)
            if decision.uid != uid:
                raise RuntimeError("the decision answers a different uid")
        except Exception:
            # The uid and the exception, never the object: it may be large and
            # it is the user's data.
            logger.exception(
                "review %s on /%s failed unexpectedly; denied with code 500", uid, endpoint
            )
            self.metrics.unexpected_errors.inc()
            return responses.errored(uid)
        return decision

    async def _read(self, request: Request) -> bytes:
        """The body, checked for type and size before it is read whole."""
        content_type = request.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != JSON:
            received = content_type or "no content type"
            raise RequestProblem(415, f"{received} is not supported: expected {JSON}")

        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise RequestProblem(400, f"Content-Length {declared!r} is not a number of bytes")
            if int(declared) > self.max_body_bytes:
                raise RequestProblem(413, self._too_large(f"{declared} bytes"), unread_body=True)

        deadline = self.read_timeout
        if request.scope["query_string"]:
            deadline = min(deadline, _timeout(request.query_params.get("timeout")))

        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(deadline):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        too_large = self._too_large(f"over {self.max_body_bytes} bytes")
                        raise RequestProblem(413, too_large, unread_body=True)
                    chunks.append(chunk)
        except TimeoutError:
            message = f"body not received within {deadline:g}s"
            raise RequestProblem(408, message, unread_body=True) from None
        except ClientDisconnect:
            raise RequestProblem(400, "client disconnected before sending the whole body") from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large(self, received: str) -> str:
        return f"body of {received} is over the limit of {self.max_body_bytes} bytes"


def create_app(settings: Settings, certificates: CertificateStore, metrics: Metrics) -> FastAPI:
    """The ASGI app; watching the certificate files runs for as long as the app does."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher = asyncio.create_task(certificates.watch(settings.reload_interval))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    app = FastAPI(
        title="inferencepool-webhook",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    handler = ReviewHandler(settings, metrics)
    app.add_route("/mutate", handler.mutate, methods=["POST"], include_in_schema=False)
    app.add_route("/validate", handler.validate, methods=["POST"], include_in_schema=False)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz")
    async def readyz() -> Response:
        if certificates.ready():
            return Response(b'{"status":"ready"}', media_type=JSON)
        return problem_response(503, "no valid, unexpired serving certificate is loaded")

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        metrics.rejected(exc.status_code)
        if exc.status_code == 405:
            allowed = exc.headers.get("Allow", "") if exc.headers else ""
            message = (
                f"method {request.method} is not allowed on {request.url.path}: expected {allowed}"
            )
        elif exc.status_code == 404:
            message = f"no such path {request.url.path}: expected /mutate or /validate"
        else:
            message = str(exc.detail)
        return problem_response(exc.status_code, message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        metrics.rejected(400)
        return problem_response(400, "request parameters are invalid")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # No traceback or exception text to the client; the log has both.
        metrics.rejected(500)
        return problem_response(500, "internal error in the InferencePool webhook")

    return app


def _outcome(decision: AdmissionResponse) -> Outcome:
    if decision.allowed:
        return "patched" if decision.patch is not None else "allowed"
    if decision.status is not None and decision.status.code == 500:
        return "errored"
    return "denied"


def _timeout(value: str | None) -> float:
    """Seconds in a ``?timeout=`` value such as ``10s``; kube-apiserver sends one per call."""
    if value is None:
        return float("inf")
    if not _DURATION.fullmatch(value):
        raise RequestProblem(
            400, f"timeout {value!r} is not a duration: expected a value such as 10s"
        )
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
