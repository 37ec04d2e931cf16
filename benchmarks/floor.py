"""The floor for the webhook's throughput: a bare ASGI app on the same uvicorn and TLS.

It reads the body and answers one constant AdmissionReview. The server around
it is the webhook's own (:class:`webhook.server.WebhookConfig` and
``WebhookServer``: the same HTTP protocol, limits, logging and listener
context), so the difference to the webhook is the webhook's own work.

    python -m benchmarks.floor --port 9444 --cert-dir certs
"""

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webhook.server import WebhookConfig, WebhookServer
from webhook.settings import Settings

ANSWER = (
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",'
    b'"response":{"uid":"882d004e-5e14-4ddd-8ca7-35b03acdd72e","allowed":true}}'
)
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].removeprefix("lifespan.")
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


class FloorConfig(WebhookConfig):
    """The webhook's server configuration, serving the constant app instead."""

    def load_app(self) -> Callable[[], Any]:
        return lambda: app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor")
    parser.add_argument("--port", type=int, default=9444)
    parser.add_argument("--cert-dir", type=Path, default=Path("certs"))
    args = parser.parse_args()
    settings = Settings(port=args.port, cert_dir=args.cert_dir, log_level="warning")
    WebhookServer(FloorConfig(settings)).run()


if __name__ == "__main__":
    main()
