"""Property tests over whole AdmissionReviews and over raw bytes.

Whatever arrives, the invariants kube-apiserver relies on hold: no 5xx (and
no review denied with code 500, the webhook's own failure), the request's uid
is echoed, a patch applies to the exact object received and defaulting its
result yields no patch, a validating answer carries no patch, and an Invalid
(422) denial names at least one field. Most examples go through the ASGI app
in process; a smaller share goes over real TLS to a running server.

The runs are deterministic, so the suite checks the same few thousand
examples every time; ``INFERENCEPOOL_FUZZ_EXAMPLES=N`` runs N examples per
property instead (a tenth of that over TLS), with fresh random draws.
"""

import asyncio
import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonpatch
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.server import SAMPLES, RunningServer, running_server
from webhook.app import create_app
from webhook.metrics import Metrics
from webhook.settings import Settings
from webhook.tls import CertificateStore

_ON_DEMAND = os.environ.get("INFERENCEPOOL_FUZZ_EXAMPLES")
EXAMPLES = int(_ON_DEMAND) if _ON_DEMAND else 800


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=_ON_DEMAND is None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- strategies ------------------------------------------------------------------

GROUP, VERSION, KIND = "inference.networking.k8s.io", "v1", "InferencePool"
VALID_REVIEW: dict[str, Any] = json.loads((SAMPLES / "create-valid.json").read_bytes())

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

label_keys = st.one_of(
    st.from_regex(
        r"([a-z0-9]{1,8}\.)?[a-z0-9]{1,8}/?[a-zA-Z0-9]([-_.a-zA-Z0-9]{0,10}[a-zA-Z0-9])?",
        fullmatch=True,
    ),
    st.text(max_size=70),
)
label_values = st.one_of(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True), st.text(max_size=70)
)
names = st.one_of(
    st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
    st.text(max_size=300),
)
ports = st.one_of(
    st.integers(min_value=1, max_value=65535),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([8000.0, "8000", True, None]),
)


@st.composite
def mostly(
    draw: st.DrawFn, usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any], tenths: int = 8
) -> Any:
    """A value from ``usual`` ``tenths`` times in ten, else one from ``other``."""
    return draw(usual if draw(st.integers(0, 9)) < tenths else other)


def maybe(strategy: st.SearchStrategy[Any], absent_too: bool = True) -> st.SearchStrategy[Any]:
    """Mostly a value from ``strategy``; else any JSON value, or (``absent_too``) no field."""
    other = st.one_of(json_values, st.just(_ABSENT)) if absent_too else json_values
    return mostly(strategy, other)


_ABSENT = object()


@st.composite
def objects(draw: st.DrawFn, /, **fields: st.SearchStrategy[Any]) -> dict[str, Any]:
    """A JSON object with each of ``fields`` either present with a drawn value or absent."""
    result: dict[str, Any] = {}
    for name, strategy in fields.items():
        value = draw(strategy)
        if value is not _ABSENT:
            result[name] = value
    extra = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2))
    if draw(st.integers(0, 9)) == 0:
        result.update(extra)
    return result


extension_refs = objects(
    group=maybe(st.sampled_from(["", "apps", "example.com"])),
    kind=maybe(st.sampled_from(["Service", "", "Deployment"])),
    name=maybe(names),
    portNumber=maybe(ports),
    failureMode=maybe(st.sampled_from(["FailOpen", "FailClose", "failclose", ""])),
)
conditions = objects(
    type=maybe(st.sampled_from(["Accepted", "ResolvedRefs", "x"])),
    status=maybe(st.sampled_from(["True", "False", "Unknown", "maybe"])),
    reason=maybe(st.sampled_from(["Accepted", "Pending", "", "bad reason"])),
    message=maybe(st.text(max_size=40)),
    lastTransitionTime=maybe(st.sampled_from(["2026-12-03T19:17:03Z", "yesterday", ""])),
    observedGeneration=maybe(st.integers(min_value=-2, max_value=2**64)),
)
parents = objects(
    parentRef=maybe(
        objects(
            group=maybe(st.sampled_from(["gateway.networking.k8s.io", ""])),
            kind=maybe(st.sampled_from(["Gateway", "Status"])),
            name=maybe(names),
            namespace=maybe(names),
        )
    ),
    conditions=maybe(st.lists(conditions, max_size=3)),
)
pools = objects(
    apiVersion=maybe(st.just(f"{GROUP}/{VERSION}"), absent_too=False),
    kind=maybe(st.just(KIND), absent_too=False),
    metadata=maybe(
        objects(
            name=maybe(names),
            namespace=maybe(names),
            labels=maybe(st.dictionaries(label_keys, label_values, max_size=3)),
            annotations=maybe(
                st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=2)
            ),
        )
    ),
    spec=maybe(
        objects(
            selector=maybe(st.dictionaries(label_keys, label_values, max_size=4)),
            targetPortNumber=maybe(ports),
            extensionRef=maybe(extension_refs),
        )
    ),
    # Absent half the time (then /mutate adds the pending status); rarely over
    # the limit of 32 parents.
    status=mostly(
        st.just(_ABSENT),
        objects(
            parent=maybe(
                mostly(
                    st.lists(parents, max_size=3), st.lists(parents, min_size=31, max_size=34), 9
                )
            )
        ),
        5,
    ),
)
group_version_kinds = mostly(
    st.just({"group": GROUP, "version": VERSION, "kind": KIND}),
    st.builds(
        lambda g, v, k: {"group": g, "version": v, "kind": k},
        st.text(max_size=5),
        st.text(max_size=5),
        st.text(max_size=5),
    ),
)
uids = st.one_of(st.uuids().map(str), st.text(min_size=1, max_size=40))


@st.composite
def reviews(draw: st.DrawFn) -> dict[str, Any]:
    """A whole AdmissionReview the way kube-apiserver lays one out, with hostile contents."""
    operation = draw(st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]))
    request: dict[str, Any] = {
        "uid": draw(uids),
        "kind": draw(group_version_kinds),
        "resource": {"group": GROUP, "version": VERSION, "resource": "inferencepools"},
        "subResource": draw(mostly(st.sampled_from(["", "", "status"]), st.just("scale"), 9)),
        "name": draw(st.one_of(names, st.just(""))),
        "namespace": draw(st.one_of(names, st.just(""))),
        "operation": operation,
        "userInfo": {"username": draw(st.text(max_size=20)), "groups": ["system:authenticated"]},
        "object": None if operation == "DELETE" else draw(mostly(pools, json_values, 9)),
        "oldObject": draw(mostly(pools, json_values)) if operation != "CREATE" else None,
        "dryRun": draw(st.booleans()),
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def mutations(body: bytes) -> st.SearchStrategy[bytes]:
    """The body with a few bytes changed, cut short, or spliced: near misses of a valid review."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(body)
        for _ in range(draw(st.integers(1, 4))):
            where = draw(st.integers(0, max(0, len(data) - 1)))
            action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
            if action == "flip" and data:
                data[where] = draw(st.integers(0, 255))
            elif action == "cut":
                del data[where:]
            elif action == "insert":
                data[where:where] = draw(st.binary(min_size=1, max_size=8))
            elif data:
                del data[where : where + draw(st.integers(1, 16))]
        return bytes(data)

    return mutate()


# --- the invariants --------------------------------------------------------------------


def check_answer(endpoint: str, sent: bytes, status: int, body: bytes) -> None:
    """The invariants of one answer to ``sent``."""
    assert status in (200, 400), (status, body)
    answer = json.loads(body)
    if status == 400:
        assert set(answer) == {"code", "message"}
        assert answer["code"] == 400
        event("HTTP 400")
        return

    # A review was parsed: the answer is a review with its uid (the last
    # uid in the body, as Go's decoder would read it).
    request = json.loads(sent)["request"]
    assert (answer["apiVersion"], answer["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    response = answer["response"]
    assert response["uid"] == request["uid"]
    status_block = response.get("status")
    if status_block is not None:
        assert status_block["code"] != 500, status_block
        assert response["allowed"] is False
        if status_block["code"] == 422:
            causes = status_block["details"]["causes"]
            assert causes, status_block
            assert all(cause["field"] for cause in causes), causes

    patch = response.get("patch")
    code = status_block["code"] if status_block is not None else 200
    event(f"{endpoint}: {'patched' if patch else 'allowed' if response['allowed'] else code}")
    if endpoint == "validate":
        assert "patch" not in response and "patchType" not in response
    elif patch is None:
        assert "patchType" not in response
    else:
        assert response["patchType"] == "JSONPatch"
        check_patch(request, json.loads(base64.b64decode(patch)))


def check_patch(request: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    """The patch applies to the object exactly as received, and is all there is to default."""
    received = request["object"]
    patched = jsonpatch.apply_patch(received, operations)
    again = dict(request, object=patched)
    answer = decided("mutate", encoded({**VALID_REVIEW, "request": again}))
    assert answer[0] == 200
    assert "patch" not in json.loads(answer[1])["response"], "defaulting is not idempotent"


def encoded(document: Any) -> bytes:
    return json.dumps(document).encode()


# --- in process, through the ASGI app ----------------------------------------------------

_LOOP = asyncio.new_event_loop()
_APP = create_app(
    Settings(),
    CertificateStore(Path("/nonexistent/tls.crt"), Path("/nonexistent/tls.key")),
    Metrics(),
)
_CLIENT = httpx.AsyncClient(transport=httpx.ASGITransport(app=_APP), base_url="https://webhook")
HEADERS = {"Content-Type": "application/json"}


def decided(endpoint: str, body: bytes) -> tuple[int, bytes]:
    """POST the body to the app in this process; the status and body of its answer."""
    response = _LOOP.run_until_complete(
        _CLIENT.post(f"/{endpoint}?timeout=10s", content=body, headers=HEADERS)
    )
    return response.status_code, response.content


@pytest.fixture(scope="module", autouse=True)
def _close_the_app() -> Iterator[None]:
    yield
    _LOOP.run_until_complete(_CLIENT.aclose())
    _LOOP.close()


@fuzz_settings(EXAMPLES)
@given(endpoint=st.sampled_from(["mutate", "validate"]), review=reviews())
def test_every_generated_review_is_answered_with_its_uid_and_a_patch_that_applies(
    endpoint: str, review: dict[str, Any]
) -> None:
    body = encoded(review)
    check_answer(endpoint, body, *decided(endpoint, body))


@fuzz_settings(EXAMPLES // 2)
@given(endpoint=st.sampled_from(["mutate", "validate"]), body=st.binary(max_size=512))
def test_arbitrary_bytes_get_400_or_a_review(endpoint: str, body: bytes) -> None:
    status, answer = decided(endpoint, body)
    assert status == 400 or body.strip(), answer
    check_answer(endpoint, body, status, answer)


@fuzz_settings(EXAMPLES // 2)
@given(endpoint=st.sampled_from(["mutate", "validate"]), body=mutations(encoded(VALID_REVIEW)))
def test_a_valid_review_with_bytes_changed_gets_400_or_a_review(endpoint: str, body: bytes) -> None:
    check_answer(endpoint, body, *decided(endpoint, body))


@fuzz_settings(EXAMPLES // 2)
@given(endpoint=st.sampled_from(["mutate", "validate"]), document=json_values)
def test_any_json_document_gets_400_or_a_review(endpoint: str, document: Any) -> None:
    body = encoded(document)
    check_answer(endpoint, body, *decided(endpoint, body))


def test_the_in_process_app_decided_nothing_unexpectedly() -> None:
    # Runs after the properties in this module: none of their reviews failed inside.
    text = _LOOP.run_until_complete(_CLIENT.get("/metrics")).text
    assert "inferencepool_webhook_unexpected_errors_total 0.0" in text


# --- over real TLS -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("fuzz")) as running:
        yield running
        log = running.logs()
    assert "Traceback" not in log


@pytest.fixture(scope="module")
def tls_client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@fuzz_settings(max(EXAMPLES // 10, 20))
@given(endpoint=st.sampled_from(["mutate", "validate"]), review=reviews())
def test_generated_reviews_over_tls_keep_the_invariants(
    tls_client: httpx.Client, endpoint: str, review: dict[str, Any]
) -> None:
    body = encoded(review)
    response = tls_client.post(f"/{endpoint}?timeout=10s", content=body, headers=HEADERS)
    check_answer(endpoint, body, response.status_code, response.content)
    assert response.status_code == 200 or response.headers["content-type"] == "application/json"


@fuzz_settings(max(EXAMPLES // 10, 20))
@given(endpoint=st.sampled_from(["mutate", "validate"]), body=st.binary(max_size=256))
def test_arbitrary_bytes_over_tls_get_400_or_a_review(
    tls_client: httpx.Client, endpoint: str, body: bytes
) -> None:
    response = tls_client.post(f"/{endpoint}?timeout=10s", content=body, headers=HEADERS)
    check_answer(endpoint, body, response.status_code, response.content)
