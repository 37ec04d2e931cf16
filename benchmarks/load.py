"""Load generator: N keep-alive TLS connections against a webhook on loopback.

Each connection sends the same review again and again, for a fixed duration
or until a total number of requests, and every answer is checked for HTTP 200.
Reports requests per second, latency percentiles, errors, and (given the
server's pid) its resident memory at start and end. Used for the published
figures (RELIABILITY.md) and for soak runs::

    python -m benchmarks.load --port 9443 --ca certs/ca.crt \\
        --body ../shared/fixtures/apiserver/create-apply.mutate.json \\
        --connections 64 --duration 60 --pid "$(pgrep -f 'webhook serve' | head -1)"

``--client wrk`` drives the same load with wrk (C, one thread), which leaves
more of a small machine to the server than this Python client does.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Target:
    """Where the load goes and what it sends."""

    host: str
    port: int
    path: str
    body_file: Path
    ca: Path

    def request(self) -> bytes:
        return request_bytes(self.host, self.path, self.body_file.read_bytes())


@dataclass
class Result:
    """What one load run measured; latencies in milliseconds, memory in MiB."""

    client: str
    connections: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_start_mib: float | None = None
    rss_end_mib: float | None = None
    server_cpu_us: float | None = None


def rss_mib(pid: int | None) -> float | None:
    """Resident memory of a process, from /proc."""
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time a process has used, from /proc."""
    if pid is None:
        return None
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_bytes(host: str, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kube-apiserver-admission\r\n"
        "Content-Type: application/json\r\nAccept: application/json, */*\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_status(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"\r\ncontent-length: *(\d+)", head, flags=re.IGNORECASE)
    if match is None:
        raise ValueError("response without Content-Length")
    await reader.readexactly(int(match.group(1)))
    return status


async def _python_load(
    target: Target, connections: int, duration: float | None, total: int | None
) -> tuple[list[float], int, float]:
    context = ssl.create_default_context(cafile=str(target.ca))
    request = target.request()
    host, port = target.host, target.port
    latencies: list[float] = []
    errors = 0
    budget = [total if total is not None else -1]
    started = time.perf_counter()
    stop_at = started + duration if duration is not None else float("inf")

    def take() -> bool:
        if time.perf_counter() >= stop_at:
            return False
        if budget[0] < 0:
            return True
        if budget[0] == 0:
            return False
        budget[0] -= 1
        return True

    async def one_connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(
            host, port, ssl=context, server_hostname="localhost"
        )
        while take():
            sent = time.perf_counter()
            try:
                writer.write(request)
                status = await _read_status(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError, ssl.SSLError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname="localhost"
                )
                continue
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                errors += 1
        writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies, errors, time.perf_counter() - started


def python_client(
    target: Target, connections: int, duration: float | None, total: int | None
) -> Result:
    """Drive the load from this process with asyncio and the ssl module."""
    latencies, errors, seconds = asyncio.run(_python_load(target, connections, duration, total))
    latencies.sort()
    count = len(latencies)

    def pick(q: float) -> float:
        return latencies[min(count - 1, int(q * count))] * 1000 if count else 0.0

    return Result(
        client="python",
        connections=connections,
        requests=count,
        errors=errors,
        seconds=round(seconds, 2),
        rps=round(count / seconds, 1),
        p50_ms=round(pick(0.50), 2),
        p99_ms=round(pick(0.99), 2),
        max_ms=round(latencies[-1] * 1000 if count else 0.0, 2),
    )


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "kube-apiserver-admission"
local f = io.open(os.getenv("LOAD_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
local non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %d %d %d %.3f %.3f %.3f\\n",
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def wrk_client(target: Target, connections: int, duration: float) -> Result:
    """Drive the load with wrk: one thread, ``connections`` keep-alive connections."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        output = subprocess.run(  # noqa: S603 - a fixed program and our own arguments
            [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{int(duration)}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                f"https://{target.host}:{target.port}{target.path}",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "LOAD_BODY": str(target.body_file)},
        ).stdout
    finally:
        os.unlink(script.name)
    [line] = [line for line in output.splitlines() if line.startswith("RESULT ")]
    requests, micros, errors, p50, p99, worst = line.split()[1:]
    seconds = int(micros) / 1e6
    return Result(
        client="wrk",
        connections=connections,
        requests=int(requests),
        errors=int(errors),
        seconds=round(seconds, 2),
        rps=round(int(requests) / seconds, 1),
        p50_ms=round(float(p50), 2),
        p99_ms=round(float(p99), 2),
        max_ms=round(float(worst), 2),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK)
    parser.add_argument("--port", type=int, default=9443)
    parser.add_argument("--ca", type=Path, default=Path("certs/ca.crt"))
    parser.add_argument("--endpoint", choices=("mutate", "validate"), default=None)
    parser.add_argument("--body", type=Path, required=True, help="AdmissionReview JSON file")
    parser.add_argument("--connections", "-c", type=int, default=64)
    parser.add_argument("--duration", "-d", type=float, default=None, help="seconds")
    parser.add_argument("--requests", "-n", type=int, default=None, help="total requests")
    parser.add_argument("--client", choices=("python", "wrk"), default="python")
    parser.add_argument("--pid", type=int, default=None, help="server pid, for its RSS")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.duration is None and args.requests is None:
        args.duration = 10.0
    endpoint = args.endpoint or args.body.name.split(".")[-2]
    if endpoint not in ("mutate", "validate"):
        parser.error("--endpoint is needed when the body file name does not say it")
    target = Target(args.host, args.port, f"/{endpoint}?timeout=10s", args.body, args.ca)

    rss_start, cpu_start = rss_mib(args.pid), cpu_seconds(args.pid)
    if args.client == "wrk":
        if args.requests is not None:
            parser.error("wrk runs for a --duration, not a number of --requests")
        result = wrk_client(target, args.connections, args.duration)
    else:
        result = python_client(target, args.connections, args.duration, args.requests)
    result.rss_start_mib, result.rss_end_mib = rss_start, rss_mib(args.pid)
    cpu_end = cpu_seconds(args.pid)
    if cpu_start is not None and cpu_end is not None and result.requests:
        # Server CPU per request: unlike req/s, barely moved by other load on the machine.
        result.server_cpu_us = round((cpu_end - cpu_start) / result.requests * 1e6, 1)

    if args.json:
        sys.stdout.write(json.dumps(asdict(result)) + "\n")
    else:
        sys.stdout.write(
            f"{result.client} c={result.connections}: {result.requests} requests in "
            f"{result.seconds}s = {result.rps} req/s; p50 {result.p50_ms} ms, "
            f"p99 {result.p99_ms} ms, max {result.max_ms} ms; errors {result.errors}"
            + (
                f"; server RSS {result.rss_start_mib:.1f} -> {result.rss_end_mib:.1f} MiB, "
                f"CPU {result.server_cpu_us} us/request"
                if result.rss_start_mib is not None and result.rss_end_mib is not None
                else ""
            )
            + "\n"
        )
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
