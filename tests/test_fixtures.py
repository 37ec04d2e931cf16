"""Every request captured from a real kube-apiserver is answered as it should be."""

import base64
import json
from typing import Any

import jsonpatch
import pytest

from tests.pools import fixture, fixture_names
from webhook.review import Endpoint, decide, encode, parse_review

PORT_PATCH = [{"op": "add", "path": "/spec/extensionRef/portNumber", "value": 9002}]

# The captured cluster's CRD filled every default but the port, which only
# this webhook writes; the generateName pool set its port itself, and DELETE
# and validating calls never patch.
EXPECTED_PATCH = {
    "create-apply.mutate.json": PORT_PATCH,
    "create-dry-run.mutate.json": PORT_PATCH,
    "create-generatename.mutate.json": None,
    "create-server-side-apply.mutate.json": PORT_PATCH,
    "delete.mutate.json": None,
    "update-apply-patch.mutate.json": PORT_PATCH,
    "update-replace-put.mutate.json": PORT_PATCH,
    "update-status-patch.mutate.json": None,
}


def test_every_fixture_is_covered() -> None:
    assert len(fixture_names()) == 16
    assert sorted(n for n in fixture_names() if ".mutate." in n) == sorted(EXPECTED_PATCH)


def _decide(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    raw = fixture(name)
    endpoint: Endpoint = "mutate" if ".mutate." in name else "validate"
    answer: dict[str, Any] = json.loads(encode(decide(parse_review(raw), endpoint)))
    request: dict[str, Any] = json.loads(raw)["request"]
    return request, answer


@pytest.mark.parametrize("name", fixture_names())
def test_each_captured_review_is_allowed_with_the_expected_patch(name: str) -> None:
    request, answer = _decide(name)
    response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
    expected_patch = EXPECTED_PATCH.get(name)
    if expected_patch is not None:
        encoded = json.dumps(expected_patch, separators=(",", ":")).encode()
        response |= {"patch": base64.b64encode(encoded).decode(), "patchType": "JSONPatch"}
    assert answer == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    }


@pytest.mark.parametrize("name", [n for n, p in EXPECTED_PATCH.items() if p is not None])
def test_each_captured_patch_applies_and_defaulting_its_result_changes_nothing(name: str) -> None:
    request, answer = _decide(name)
    patch = json.loads(base64.b64decode(answer["response"]["patch"]))
    patched = jsonpatch.apply_patch(request["object"], patch)
    again = json.loads(name_review_with(name, patched))
    assert "patch" not in again["response"]


def name_review_with(name: str, obj: dict[str, Any]) -> bytes:
    document = json.loads(fixture(name))
    document["request"]["object"] = obj
    return encode(decide(parse_review(json.dumps(document).encode()), "mutate"))
