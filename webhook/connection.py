"""HTTP/1.1 connections with a bounded request head: the slowloris defence.

uvicorn's httptools protocol bounds neither the time nor the size of a
request's head. Its keep-alive timer only runs once a response has been sent
and stops at the first byte received, so a client that sends one header byte a
second, or connects and sends nothing, holds a connection (and a place under
``--max-connections``) for as long as it likes, and a client that sends one
endless header line has it buffered until the process runs out of memory.
This protocol adds both bounds; everything else is uvicorn's.

The time: a head must be complete within the server's ``read_timeout``
(10 s by default), counted from the connection's handshake or the request's
first byte. kube-apiserver writes a head of a few hundred bytes in one go
right after connecting or on an idle connection, so anything slower is not
kube-apiserver; and 10 s is its default webhook timeout, past which it has
given up on the call anyway.

The size: 64 KiB. kube-apiserver's head is under 1 KiB (method, path with
``?timeout=``, seven headers, and a bearer token if the webhook configuration
asks for one, which is a few KiB at most); 64 KiB is eight times nginx's
default header buffer and bounds what each connection can make the server
hold to a small multiple of that.
"""

import asyncio
import json
import logging
from typing import Any, Final

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES: Final = 64 * 1024
DEFAULT_HEAD_TIMEOUT: Final = 10.0


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request head is too slow or big.

    The time allowed is the ``head_timeout`` attribute of the uvicorn config
    (:class:`webhook.server.WebhookConfig` sets it from ``read_timeout``).
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timeout: float = getattr(config, "head_timeout", DEFAULT_HEAD_TIMEOUT)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_received()
        super().connection_lost(exc)
        # uvicorn stops its keep-alive timer only when the connection ended
        # cleanly; after a reset the timer would keep this protocol, and with
        # it the TLS layer and its buffers, alive for the whole keep-alive
        # time, so a client resetting connections in a loop could pile up
        # memory without bound.
        self._unset_keepalive_if_required()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted after parsing: when the head completes within this chunk the
        # count has already stopped, so a body is never counted as head.
        if self._head_timer is not None:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._head_received()
                self._refuse(431, f"request head is over the limit of {MAX_HEAD_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._await_head()
        self._head_begun = True

    def on_headers_complete(self) -> None:
        self._head_received()
        super().on_headers_complete()

    def _await_head(self) -> None:
        self._head_bytes = 0
        self._head_begun = False
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _head_received(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._head_begun:
            # Nothing of a request yet: an idle connection, closed as uvicorn
            # closes one at the end of its keep-alive time.
            self.shutdown()
            return
        self._refuse(408, f"request head not received within {self.head_timeout:g}s")

    def _refuse(self, code: int, message: str) -> None:
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"
        logger.debug("closing the connection from %s: %s", client, message)
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head behind a review still being answered: that
            # answer goes out first, then the connection closes.
            self.flow.pause_reading()
            self.shutdown()
            return
        body = json.dumps({"code": code, "message": message}).encode()
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[code]
        head = b"HTTP/1.1 %d %s\r\n" % (code, reason)
        headers = b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n"
        self.transport.write(head + headers % len(body) + b"\r\n" + body)
        self.transport.close()
