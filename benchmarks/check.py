"""Benchmark: ``inferencepool-webhook check`` on one file of many pools.

    python -m benchmarks.check [--pools N] [--runs R]

Writes a multi-document YAML file of N valid pools (each with a status of
one Gateway parent) to a temporary directory, runs the real command on it R
times as a user would, and reports pools per second of the fastest run,
process start-up included.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POOL = """\
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata:
  name: pool-{i}
  namespace: team-{team}
  labels: {{app.kubernetes.io/part-of: llm}}
spec:
  selector:
    app: model-server-{i}
    app.kubernetes.io/name: vllm
  targetPortNumber: 8000
  extensionRef:
    name: epp-{i}
    portNumber: 9002
    failureMode: FailOpen
status:
  parent:
  - parentRef: {{group: gateway.networking.k8s.io, kind: Gateway, name: gateway-{team}}}
    conditions:
    - type: Accepted
      status: "True"
      reason: Accepted
      message: accepted by the gateway
      lastTransitionTime: 2026-12-03T19:17:03Z
      observedGeneration: 1
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pools", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "pools.yaml"
        path.write_text("---\n".join(POOL.format(i=i, team=i % 16) for i in range(args.pools)))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = subprocess.run(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", "webhook", "check", str(path)],
                capture_output=True,
                check=False,
            )
            times.append(time.perf_counter() - start)
            if result.returncode != 0:
                sys.exit(f"check failed ({result.returncode}): {result.stdout[:500]!r}")
        best = min(times)
        print(  # noqa: T201
            f"check: {args.pools:,} pools in {best:.2f} s (best of {args.runs}):"
            f" {args.pools / best:,.0f} pools/s; size {path.stat().st_size:,} B"
        )


if __name__ == "__main__":
    main()
