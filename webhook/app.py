"""The ASGI app: FastAPI around the review endpoints, with health, readiness and metrics.

FastAPI serves everything but the reviews themselves: /healthz, /readyz,
/metrics, and the HTTP errors for wrong methods and unknown paths, all in the
review endpoints' JSON error channel. FastAPI's automatic 422 never reaches a
client: no route declares a body or parameter it could fail to validate, and
every error FastAPI could raise is answered as ``{"code": ..., "message": ...}``.
"""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Mapping

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from webhook.endpoint import JSON, ReviewEndpoint, problem_body
from webhook.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from webhook.metrics import ENDPOINTS, Metrics
from webhook.settings import Settings
from webhook.tls import CertificateStore


def problem_response(code: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """An HTTP error for the routes that go through FastAPI."""
    return Response(problem_body(code, message), status_code=code, media_type=JSON, headers=headers)


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
