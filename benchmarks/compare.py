"""Throughput beside a floor: the webhook and a bare ASGI app on the same uvicorn and TLS.

Starts ``serve`` (one worker) and :mod:`benchmarks.floor` on loopback with
the same certificates, then, alternating between the two so that both see
the same machine, drives each with N keep-alive connections; then sends
100,000 reviews twice more to the webhook and reads its resident memory after
each batch; and times ``serve`` from start to a ready /readyz.

    python -m benchmarks.compare --client wrk --rounds 3 --duration 10
"""

import argparse
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmarks.load import Result, Target, cpu_seconds, python_client, rss_mib, wrk_client

FIXTURE = Path(__file__).resolve().parents[2] / "shared/fixtures/apiserver/create-apply.mutate.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, ca: Path, path: str, timeout: float = 20) -> float:
    """Seconds until ``path`` answers 200 over TLS."""
    context = ssl.create_default_context(cafile=str(ca))
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(OSError):
            url = f"https://127.0.0.1:{port}{path}"
            with urllib.request.urlopen(url, context=context, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        time.sleep(0.01)
    raise RuntimeError(f"port {port} not ready after {timeout}s")


@contextlib.contextmanager
def started(command: list[str], port: int, ca: Path, path: str) -> Iterator[tuple[int, float]]:
    """A server process, its pid and its seconds from start to ready; stopped after."""
    launched = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        wait_ready(port, ca, path)
        yield process.pid, time.monotonic() - launched
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def measure(target: Target, client: str, connections: int, duration: float, pid: int) -> Result:
    rss, cpu = rss_mib(pid), cpu_seconds(pid)
    if client == "wrk":
        result = wrk_client(target, connections, duration)
    else:
        result = python_client(target, connections, duration, None)
    result.rss_start_mib, result.rss_end_mib = rss, rss_mib(pid)
    cpu_end = cpu_seconds(pid)
    if cpu is not None and cpu_end is not None and result.requests:
        result.server_cpu_us = round((cpu_end - cpu) / result.requests * 1e6, 1)
    return result


def line(name: str, result: Result) -> str:
    return (
        f"{name:8} {result.rps:9.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p99 {result.p99_ms:6.2f} ms  max {result.max_ms:6.2f} ms  errors {result.errors}  "
        f"server CPU {result.server_cpu_us} us/req  RSS {result.rss_end_mib:.1f} MiB\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    parser.add_argument("--client", choices=("python", "wrk"), default="python")
    parser.add_argument("--connections", "-c", type=int, default=64)
    parser.add_argument("--duration", "-d", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-batch", type=int, default=100_000)
    parser.add_argument("--body", type=Path, default=FIXTURE)
    args = parser.parse_args()
    out = sys.stdout.write
    python = sys.executable

    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        command = [python, "-m", "webhook", "certs", "--out", str(certs)]
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603
        ca = certs / "ca.crt"
        hook_port, floor_port = free_port(), free_port()
        serve = [
            python,
            "-m",
            "webhook",
            "serve",
            "--port",
            str(hook_port),
            "--cert-dir",
            str(certs),
        ]
        floor = [
            python,
            "-m",
            "benchmarks.floor",
            "--port",
            str(floor_port),
            "--cert-dir",
            str(certs),
        ]
        path = "/mutate?timeout=10s"
        hook_target = Target("127.0.0.1", hook_port, path, args.body, ca)
        floor_target = Target("127.0.0.1", floor_port, path, args.body, ca)

        starts = []
        for _ in range(3):
            with started(serve, hook_port, ca, "/readyz") as (_, seconds):
                starts.append(seconds)
        out(f"start to ready: {', '.join(f'{s:.2f}' for s in starts)} s\n")

        with (
            started(serve, hook_port, ca, "/readyz") as (hook_pid, _),
            started(floor, floor_port, ca, "/") as (floor_pid, _),
        ):
            out(
                f"idle RSS: webhook {rss_mib(hook_pid):.1f} MiB, "
                f"floor {rss_mib(floor_pid):.1f} MiB\n"
            )
            # Warm both up (connections, caches, allocator) before measuring.
            measure(hook_target, "python", args.connections, 2, hook_pid)
            measure(floor_target, "python", args.connections, 2, floor_pid)
            ratios = []
            for round_ in range(1, args.rounds + 1):
                out(
                    f"round {round_}, {args.client}, {args.connections} connections, "
                    f"{args.duration:g} s each\n"
                )
                hook = measure(hook_target, args.client, args.connections, args.duration, hook_pid)
                base = measure(
                    floor_target, args.client, args.connections, args.duration, floor_pid
                )
                out(line("webhook", hook) + line("floor", base))
                ratios.append(hook.rps / base.rps)
                out(f"ratio    {ratios[-1]:.2f}\n")
            out(f"ratio over {args.rounds} rounds: {', '.join(f'{r:.2f}' for r in ratios)}\n")

            for batch in (1, 2):
                result = python_client(hook_target, args.connections, None, args.memory_batch)
                out(
                    f"after {batch * args.memory_batch} more reviews: webhook RSS "
                    f"{rss_mib(hook_pid):.1f} MiB (errors {result.errors})\n"
                )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
