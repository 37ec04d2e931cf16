"""Running the app on uvicorn, over the project's own TLS context.

uvicorn builds its SSLContext from file names and never looks at them again;
here it is handed the certificate store's listener context instead, which
follows rotated pairs. Both are set up in :meth:`WebhookConfig.load`, which
uvicorn calls in each worker process, so every worker has its own store and
its own watcher. Shutdown is uvicorn's: on SIGTERM it stops accepting, closes
idle keep-alive connections, lets requests in flight finish (up to the grace
period), and the process then exits 0.
"""

import asyncio.constants
import asyncio.sslproto
import contextlib
import functools
import logging
import signal
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from webhook import logs
from webhook.app import create_app
from webhook.connection import BoundedHttpProtocol
from webhook.metrics import Metrics
from webhook.settings import Settings
from webhook.tls import CertificateStore

logger = logging.getLogger(__name__)

# asyncio gives every TLS connection a read buffer of this many bytes from the
# moment it is accepted, before the handshake. Its default, 256 KiB, made each
# connection cost about 280 KiB, and the server accepts every connection it is
# offered (--max-connections turns requests away, not connections), so a few
# thousand open connections could exhaust a Pod's memory. A TLS record carries
# at most 16 KiB, so 32 KiB loses nothing: each connection costs about 60 KiB,
# and throughput is unchanged.
TLS_READ_BUFFER_BYTES = 32 * 1024


class WebhookConfig(uvicorn.Config):
    """uvicorn's configuration for the webhook, carrying its :class:`Settings` to each worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Read by each connection: the head of a request, like its body, has
        # read_timeout to arrive.
        self.head_timeout = settings.read_timeout
        super().__init__(
            # Replaced by load_app(); uvicorn requires a value here.
            app="webhook.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            # httptools, with the request head bounded in time and size.
            http=BoundedHttpProtocol,
            # The TLS buffer and handshake bounds below are asyncio's; pinned so
            # that an installed uvloop cannot silently take their place.
            loop="asyncio",
            lifespan="on",
            ssl_context_factory=_listener_context,
            log_config=logs.config(settings.log_format, settings.log_level),
            log_level=settings.log_level,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            limit_concurrency=settings.max_connections,
            timeout_keep_alive=settings.keep_alive_timeout,
            timeout_graceful_shutdown=settings.graceful_timeout,
        )

    def load(self) -> None:
        asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER_BYTES
        # asyncio waits 60 s for a TLS handshake and uvicorn does not change
        # that; kube-apiserver's takes milliseconds. Bounded like the request
        # head that follows it, a connection that never says hello is dropped
        # within --read-timeout instead of holding its place for a minute.
        asyncio.constants.SSL_HANDSHAKE_TIMEOUT = self.settings.read_timeout
        # The store is made here, not in __init__: this runs in the process
        # that serves, after the configuration was copied to it.
        self.certificates = CertificateStore(self.settings.cert_file, self.settings.key_file)
        self.metrics = Metrics(self.certificates)
        super().load()

    def load_app(self) -> Callable[[], Any]:
        return functools.partial(create_app, self.settings, self.certificates, self.metrics)


class WebhookServer(uvicorn.Server):
    """uvicorn's server, ending with exit status 0 after a graceful shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal once it has shut down, so the process
        # would end as "killed by SIGTERM"; a completed drain is a success.
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run(settings: Settings) -> int:
    """Serve until stopped; the process exit status."""
    config = WebhookConfig(settings)
    if settings.workers == 1:
        server = WebhookServer(config)
        server.run()
        return 0 if server.started else 1
    # Workers share one listening socket, bound here; each loads its own
    # certificate store and app.
    Multiprocess(config, sockets=[config.bind_socket()]).run()
    return 0


def _listener_context(
    config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    assert isinstance(config, WebhookConfig)
    return config.certificates.load()
