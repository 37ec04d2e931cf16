"""Pools and reviews for tests, built fresh for every use so tests cannot leak into each other."""

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "apiserver"

PENDING_CONDITION: dict[str, Any] = {
    "type": "Accepted",
    "status": "Unknown",
    "reason": "Pending",
    "message": "Waiting for controller",
    "lastTransitionTime": "1970-01-01T00:00:00Z",
}

# Label keys that must pass: the API reference's valid examples, and the key
# SEMANTICS.md names as the one the printed pattern would wrongly refuse.
VALID_LABEL_KEYS = [
    "example",
    "example.com",
    "example.com/path",
    "example.com/path.html",
    "app.kubernetes.io/name",
]

# The status the webhook gives a pool that has none.
PENDING_STATUS: dict[str, Any] = {
    "parent": [
        {
            "parentRef": {
                "group": "gateway.networking.k8s.io",
                "kind": "Status",
                "name": "default",
            },
            "conditions": [PENDING_CONDITION],
        }
    ]
}


def pool(**spec: Any) -> dict[str, Any]:
    """A valid, fully defaulted pool; keyword arguments replace spec fields."""
    body: dict[str, Any] = {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {"name": "pool", "namespace": "default"},
        "spec": {
            "selector": {"app": "vllm"},
            "targetPortNumber": 8000,
            "extensionRef": {
                "group": "",
                "kind": "Service",
                "name": "epp",
                "portNumber": 9002,
                "failureMode": "FailClose",
            },
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    return body


def extension_ref(**fields: Any) -> dict[str, Any]:
    """A valid extensionRef; keyword arguments replace or add fields."""
    ref: dict[str, Any] = {"name": "epp"}
    ref.update(fields)
    return ref


def condition(**fields: Any) -> dict[str, Any]:
    cond = dict(PENDING_CONDITION)
    cond.update(fields)
    return cond


def parent(name: str = "gateway", **ref: Any) -> dict[str, Any]:
    parent_ref: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway"}
    parent_ref["name"] = name
    parent_ref.update(ref)
    return {"parentRef": parent_ref, "conditions": [condition()]}


def review(
    obj: Any,
    operation: str = "CREATE",
    old: Any = None,
    sub_resource: str = "",
    uid: str = "e911857d-c318-11e8-bbad-025000000001",
) -> dict[str, Any]:
    """An AdmissionReview as kube-apiserver sends it for an InferencePool."""
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": "inference.networking.k8s.io", "version": "v1", "kind": "InferencePool"},
        "resource": {
            "group": "inference.networking.k8s.io",
            "version": "v1",
            "resource": "inferencepools",
        },
        "name": "pool",
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "admin", "groups": ["system:masters"]},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
    }
    if sub_resource:
        request["subResource"] = sub_resource
        request["requestSubResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.glob("*.json"))


def body(document: Any) -> bytes:
    return json.dumps(document).encode()
