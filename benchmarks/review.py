"""Micro-benchmark: the cost of one review beside ``json.loads`` of the same body.

``json.loads`` is the floor any Python webhook pays to read a review at all,
so each figure is given as a multiple of it, measured in the same run:

    python -m benchmarks.review [--repeat N]

A review here is what the server does per request once it has the body:
parse it into the typed review, decide, and serialize the answer.
"""

import argparse
import json
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webhook.review import Endpoint, decide, encode, parse_review

FIXTURE = Path(__file__).resolve().parents[2] / "shared/fixtures/apiserver/create-apply.mutate.json"


def large_pool() -> dict[str, Any]:
    """64 labels and 32 parents with 8 conditions each: the most the schema allows."""
    conditions = [
        {
            "type": f"example.com/Condition{c}",
            "status": "True",
            "observedGeneration": 7,
            "lastTransitionTime": f"2026-12-03T19:{c:02d}:0{c}Z",
            "reason": "AllGood",
            "message": "the gateway accepted the pool and resolved its references",
        }
        for c in range(8)
    ]
    parents = [
        {
            "parentRef": {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": f"inference-gateway-{p}",
                "namespace": f"team-{p % 4}",
            },
            "conditions": conditions,
        }
        for p in range(32)
    ]
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {"name": "large", "namespace": "default", "generation": 7},
        "spec": {
            "selector": {f"example.com/label-{i}": f"value-{i}" for i in range(64)},
            "targetPortNumber": 8000,
            "extensionRef": {
                "group": "",
                "kind": "Service",
                "name": "epp",
                "failureMode": "FailClose",
            },
        },
        "status": {"parent": parents},
    }


def large_review(sub_resource: str) -> bytes:
    fixture = json.loads(FIXTURE.read_bytes())
    request = fixture["request"]
    pool = large_pool()
    request["object"] = pool
    if sub_resource:
        request["operation"] = "UPDATE"
        request["subResource"] = request["requestSubResource"] = sub_resource
        request["oldObject"] = pool
    return json.dumps(fixture).encode()


def per_call(function: Callable[[], object], repeat: int) -> float:
    """Median seconds per call over ``repeat`` timed batches."""
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return statistics.median(t / number for t in timer.repeat(repeat, number))


def compare(label: str, body: bytes, endpoint: Endpoint, repeat: int) -> None:
    def review() -> bytes:
        return encode(decide(parse_review(body), endpoint))

    floor = per_call(lambda: json.loads(body), repeat)
    cost = per_call(review, repeat)
    print(  # noqa: T201
        f"{label:<34} {len(body):>8,} B  json.loads {floor * 1e6:8.1f} us"
        f"  review {cost * 1e6:8.1f} us  ratio {cost / floor:5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    small = FIXTURE.read_bytes()
    compare("captured create, /mutate", small, "mutate", repeat)
    compare("captured create, /validate", small, "validate", repeat)
    compare("large create, /mutate", large_review(""), "mutate", repeat)
    compare("large create, /validate", large_review(""), "validate", repeat)
    compare("large status update, /mutate", large_review("status"), "mutate", repeat)
    compare("large status update, /validate", large_review("status"), "validate", repeat)


if __name__ == "__main__":
    main()
