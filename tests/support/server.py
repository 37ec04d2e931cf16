"""A real webhook server for tests: certificates from ``certs``, ``serve`` in a subprocess.

Nothing is mocked: the server is the installed command, reached over TLS on a
free loopback port, and verified against the CA the ``certs`` command wrote.
"""

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
# Captured kube-apiserver requests live beside the repository, not in it.
FIXTURES = REPO.parent / "shared" / "fixtures" / "apiserver"
SAMPLES = REPO / "samples"

# What kube-apiserver sends with every review (captured alongside the fixtures).
APISERVER_HEADERS = {
    "User-Agent": "kube-apiserver-admission",
    "Content-Type": "application/json",
    "Accept": "application/json, */*",
    "Accept-Encoding": "gzip",
}


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def webhook_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "webhook", *args]


def make_certs(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``inferencepool-webhook certs --out OUT ARGS``; fails the test if it fails."""
    result = subprocess.run(
        webhook_command("certs", "--out", str(out), *args),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A client context trusting only the given CA, as kube-apiserver's caBundle does."""
    return ssl.create_default_context(cafile=str(ca_file))


@dataclass
class RunningServer:
    """A started ``serve`` process and how to reach it."""

    process: "subprocess.Popen[bytes]"
    port: int
    cert_dir: Path
    log_file: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.cert_dir / "ca.crt"

    def client(self, ca_file: Path | None = None, **kwargs: object) -> httpx.Client:
        context = client_context(ca_file or self.ca_file)
        return httpx.Client(base_url=self.url, verify=context, timeout=10, **kwargs)  # type: ignore[arg-type]

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit status (SIGKILL if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def wait_until_ready(server: RunningServer, timeout: float = 15) -> None:
    """Poll /readyz until it answers 200; fails with the server's log if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"server exited with {server.process.returncode}:\n{server.logs()}"
            )
        # The CA may not exist yet: a first ``serve`` creates it.
        with contextlib.suppress(httpx.HTTPError, ssl.SSLError, OSError):
            context = client_context(server.ca_file)
            if httpx.get(f"{server.url}/readyz", verify=context, timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"server not ready after {timeout}s:\n{server.logs()}")


@contextlib.contextmanager
def running_server(
    workdir: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    generate_certs: bool = True,
    cert_args: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """Start ``serve`` on a free port with certificates in ``workdir/certs``; stop it after."""
    cert_dir = workdir / "certs"
    if generate_certs:
        make_certs(cert_dir, *cert_args)
    port = free_port()
    log_file = workdir / "server.log"
    command = webhook_command("serve", "--port", str(port), "--cert-dir", str(cert_dir), *args)
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={**os.environ, **(env or {})},
        )
    server = RunningServer(process=process, port=port, cert_dir=cert_dir, log_file=log_file)
    try:
        wait_until_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def post_review(
    client: httpx.Client, endpoint: str, body: bytes, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """POST a review the way kube-apiserver does."""
    return client.post(
        f"/{endpoint}?timeout=10s", content=body, headers=dict(headers or APISERVER_HEADERS)
    )
