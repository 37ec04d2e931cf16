"""The floor for the webhook's throughput: a bare ASGI app on the same uvicorn and TLS.

It reads the body and answers one constant AdmissionReview, with uvicorn set
up as ``serve`` sets it up (httptools, no access log, the certificate store's
listener context), so the difference to the webhook is the webhook's own work.

    python -m benchmarks.floor --port 9444 --cert-dir certs
"""

import argparse
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from webhook.tls import CertificateStore

ANSWER = (
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",'
    b'"response":{"uid":"882d004e-5e14-4ddd-8ca7-35b03acdd72e","allowed":true}}'
)
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor")
    parser.add_argument("--port", type=int, default=9444)
    parser.add_argument("--cert-dir", type=Path, default=Path("certs"))
    args = parser.parse_args()
    store = CertificateStore(args.cert_dir / "tls.crt", args.cert_dir / "tls.key")

    def context(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return store.load()

    uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=args.port,
            http="httptools",
            lifespan="off",
            access_log=False,
            server_header=False,
            log_level="warning",
            ssl_context_factory=context,
        )
    ).run()


if __name__ == "__main__":
    main()
