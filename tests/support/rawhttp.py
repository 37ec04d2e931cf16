"""HTTP/1.1 by hand over TLS sockets, for what clients libraries will not do.

Tests use it to hold a request half-sent (in flight across a SIGTERM), to
declare a body larger than what is sent, and to watch a connection close.
"""

import socket
import ssl
from dataclasses import dataclass


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def connect(port: int, context: ssl.SSLContext, timeout: float = 10) -> ssl.SSLSocket:
    """A TLS connection to the loopback port, handshake done."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return context.wrap_socket(raw, server_hostname="localhost")


def request_head(
    method: str, path: str, length: int, content_type: str = "application/json"
) -> bytes:
    """The request line and headers of a request with a ``length``-byte body."""
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: localhost",
        "User-Agent: kube-apiserver-admission",
        f"Content-Type: {content_type}",
        "Accept: application/json, */*",
        f"Content-Length: {length}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: ssl.SSLSocket) -> RawResponse:
    """One response with a Content-Length body; raises ConnectionError if the peer closes first."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buffer)} bytes of response")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside the response body")
        rest += chunk
    return RawResponse(status=int(status_line.split()[1]), headers=headers, body=rest[:length])


def closed_by_peer(sock: ssl.SSLSocket, timeout: float) -> bool:
    """Whether the server closes the connection within ``timeout`` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except (ssl.SSLError, ConnectionResetError):
        return True
