"""Soak: a fresh ``serve`` under N keep-alive TLS connections for a fixed time, on loopback.

Starts the webhook (one worker, fresh certificates in a temporary directory)
on a free 127.0.0.1 port, warms it up, then drives it with
:mod:`benchmarks.load` for ``--duration`` seconds while sampling its resident
memory every few seconds. Reports requests per second, p50/p99/max latency,
errors (any answer but HTTP 200 counts), resident memory after the warm-up
and at the end with the growth between them, and what /metrics counted as
unexpected errors. Exits 1 when there were errors or memory grew by more
than ``--max-growth`` percent::

    python -m benchmarks.soak --connections 64 --duration 60

Bounded by design: the duration is capped at 10 minutes and the traffic
never leaves the loopback interface.
"""

import argparse
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.compare import FIXTURE, free_port, started
from benchmarks.load import Result, Target, cpu_seconds, python_client, rss_mib, wrk_client

MAX_DURATION = 600.0
WARM_UP = 5.0
SAMPLE_EVERY = 5.0


@dataclass
class Soak:
    """What one soak measured; memory in MiB."""

    load: Result
    rss_ready_mib: float
    rss_warm_mib: float
    rss_end_mib: float
    growth_percent: float
    rss_samples_mib: list[float] = field(default_factory=list)
    unexpected_errors: float = 0.0
    server_cpu_us: float | None = None


def _sample(pid: int, every: float, samples: list[float], stop: threading.Event) -> None:
    while not stop.wait(every):
        rss = rss_mib(pid)
        if rss is not None:
            samples.append(round(rss, 1))


def _unexpected_errors(port: int, ca: Path) -> float:
    context = ssl.create_default_context(cafile=str(ca))
    url = f"https://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, context=context, timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith("inferencepool_webhook_unexpected_errors_total "):
            return float(line.split()[1])
    raise RuntimeError("/metrics has no unexpected-errors counter")


def soak(client: str, connections: int, duration: float, body: Path) -> Soak:
    """Run one soak against a server started for it."""
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "webhook", "certs", "--out", str(certs)],
            check=True,
            capture_output=True,
        )
        ca = certs / "ca.crt"
        port = free_port()
        serve = [sys.executable, "-m", "webhook", "serve", "--port", str(port)]
        serve += ["--cert-dir", str(certs)]
        endpoint = body.name.split(".")[-2] if body.name.count(".") >= 2 else "mutate"
        target = Target("127.0.0.1", port, f"/{endpoint}?timeout=10s", body, ca)

        with started(serve, port, ca, "/readyz") as (pid, _):
            rss_ready = rss_mib(pid) or 0.0
            # Connections, caches and the allocator settle before memory is the baseline.
            python_client(target, connections, WARM_UP, None)
            rss_warm = rss_mib(pid) or 0.0
            cpu_start = cpu_seconds(pid)

            samples: list[float] = []
            stop = threading.Event()
            sampler = threading.Thread(target=_sample, args=(pid, SAMPLE_EVERY, samples, stop))
            sampler.start()
            try:
                if client == "wrk":
                    result = wrk_client(target, connections, duration)
                else:
                    result = python_client(target, connections, duration, None)
            finally:
                stop.set()
                sampler.join()

            rss_end = rss_mib(pid) or 0.0
            cpu_end = cpu_seconds(pid)
            unexpected = _unexpected_errors(port, ca)

    cpu = None
    if cpu_start is not None and cpu_end is not None and result.requests:
        cpu = round((cpu_end - cpu_start) / result.requests * 1e6, 1)
    return Soak(
        load=result,
        rss_ready_mib=round(rss_ready, 1),
        rss_warm_mib=round(rss_warm, 1),
        rss_end_mib=round(rss_end, 1),
        growth_percent=round((rss_end - rss_warm) / rss_warm * 100, 2) if rss_warm else 0.0,
        rss_samples_mib=samples,
        unexpected_errors=unexpected,
        server_cpu_us=cpu,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--client", choices=("python", "wrk"), default="python")
    parser.add_argument("--connections", "-c", type=int, default=64)
    parser.add_argument("--duration", "-d", type=float, default=60.0, help="seconds")
    parser.add_argument("--body", type=Path, default=FIXTURE, help="AdmissionReview JSON file")
    parser.add_argument("--max-growth", type=float, default=5.0, help="percent of warm RSS")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be between 0 and {MAX_DURATION:g} seconds")

    result = soak(args.client, args.connections, args.duration, args.body)
    load = result.load
    if args.json:
        sys.stdout.write(json.dumps(asdict(result)) + "\n")
    else:
        sys.stdout.write(
            f"soak {load.client} c={load.connections} {load.seconds}s: {load.requests} requests, "
            f"{load.rps} req/s; p50 {load.p50_ms} ms, p99 {load.p99_ms} ms, "
            f"max {load.max_ms} ms; errors {load.errors}; unexpected errors in /metrics "
            f"{result.unexpected_errors:g}\n"
            f"server RSS: ready {result.rss_ready_mib} MiB, after warm-up "
            f"{result.rss_warm_mib} MiB, end {result.rss_end_mib} MiB "
            f"({result.growth_percent:+.2f}%); samples {result.rss_samples_mib}; "
            f"server CPU {result.server_cpu_us} us/request\n"
        )
    failed = load.errors or result.unexpected_errors or result.growth_percent > args.max_growth
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
