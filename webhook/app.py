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
import functools
import gc
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Final
from urllib.parse import unquote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from webhook import logs, responses
from webhook.admission import AdmissionResponse, AdmissionReview
from webhook.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from webhook.metrics import ENDPOINTS, Metrics, Outcome
from webhook.review import Endpoint, MalformedReviewError, decide, encode, parse_review
from webhook.settings import Settings
from webhook.tls import CertificateStore

logger = logging.getLogger(__name__)

JSON: Final = "application/json"
_JSON_BYTES: Final = JSON.encode()

RawHeaders = list[tuple[bytes, bytes]]

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


def problem_response(code: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """An HTTP error for the routes that go through FastAPI."""
    return Response(problem_body(code, message), status_code=code, media_type=JSON, headers=headers)


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
            review = parse_review(body)
        except MalformedReviewError as exc:
            return self._problem(400, str(exc))
        except RequestProblem as exc:
            # The rest of an unread body would still be on its way: close
            # rather than receive it only to throw it away.
            return self._problem(exc.code, exc.message, close=exc.unread_body)

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
        declared: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = value
        if content_type.partition(b";")[0].strip().lower() != _JSON_BYTES:
            received = content_type.decode("latin-1") or "no content type"
            raise RequestProblem(415, f"{received} is not supported: expected {JSON}")
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


class WebhookApp:
    """The ASGI app served: reviews go straight to their endpoint, the rest to FastAPI.

    A review passes through none of FastAPI's middleware (error pages,
    telemetry, body limits, exit stacks), whose cost per request is about
    that of deciding a small review; the review endpoint has its own error
    handling and limits. Everything else, wrong methods on the review paths
    included, is FastAPI's.
    """

    def __init__(self, api: FastAPI, reviews: dict[str, ReviewEndpoint]) -> None:
        self.api = api
        self.reviews = reviews

    @property
    def routes(self) -> list[BaseRoute]:
        """Every route served, the review routes included."""
        return self.api.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            review = self.reviews.get(scope["path"])
            if review is not None:
                await review(scope, receive, send)
                return
        await self.api(scope, receive, send)


def create_app(settings: Settings, certificates: CertificateStore, metrics: Metrics) -> WebhookApp:
    """The ASGI app; watching the certificate files runs for as long as the app does."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher = asyncio.create_task(certificates.watch(settings.reload_interval))
        # Everything built so far lives as long as the process: moved out of
        # the collector's reach, it is not scanned again by every full
        # collection that the reviews' short-lived objects trigger.
        gc.collect()
        gc.freeze()
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
        # The webhook reports through its own Prometheus metrics; FastAPI's
        # OpenTelemetry hooks would otherwise look for providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    reviews = {f"/{e}": ReviewEndpoint(e, settings, metrics) for e in ENDPOINTS}
    for path, review in reviews.items():
        # Reached only by the methods WebhookApp does not take: FastAPI answers 405.
        app.router.routes.append(Route(path, review, methods=["POST"]))

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

    return WebhookApp(app, reviews)


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
