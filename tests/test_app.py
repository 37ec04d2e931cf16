import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import rawhttp
from tests.support.server import (
    APISERVER_HEADERS,
    FIXTURES,
    RunningServer,
    client_context,
    post_review,
    running_server,
)
from webhook.review import MalformedReviewError, decide, encode, parse_review
from webhook.settings import MAX_BODY_BYTES

CAPTURED = sorted(FIXTURES.glob("*.json"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("app")) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def endpoint_of(path: Path) -> str:
    endpoint = path.name.split(".")[-2]
    assert endpoint in ("mutate", "validate")
    return endpoint


def expected_answer(body: bytes, endpoint: str) -> bytes:
    assert endpoint in ("mutate", "validate")
    return encode(decide(parse_review(body), endpoint))  # type: ignore[arg-type]


def malformed_message(body: bytes) -> str:
    with pytest.raises(MalformedReviewError) as error:
        parse_review(body)
    return str(error.value)


@pytest.mark.parametrize("fixture", CAPTURED, ids=[p.name for p in CAPTURED])
def test_every_captured_request_gets_the_engines_decision_with_its_uid(
    client: httpx.Client, fixture: Path
) -> None:
    body = fixture.read_bytes()
    endpoint = endpoint_of(fixture)
    response = post_review(client, endpoint, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    sent = json.loads(body)
    assert (answer["apiVersion"], answer["kind"], answer["response"]["uid"]) == (
        sent["apiVersion"],
        sent["kind"],
        sent["request"]["uid"],
    )
    assert response.content == expected_answer(body, endpoint)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(
    "fixture",
    ["create-apply.mutate.json", "update-status-patch.validate.json", "delete.mutate.json"],
)
def test_curl_with_the_apiservers_headers_gets_the_engines_decision(
    server: RunningServer, fixture: str
) -> None:
    path = FIXTURES / fixture
    endpoint = endpoint_of(path)
    headers = [
        arg for name, value in APISERVER_HEADERS.items() for arg in ("-H", f"{name}: {value}")
    ]
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--http1.1",
            "--cacert",
            str(server.ca_file),
            *headers,
            "--data-binary",
            f"@{path}",
            "--write-out",
            "\n%{http_code}",
            f"{server.url}/{endpoint}?timeout=10s",
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    body, _, code = result.stdout.rpartition(b"\n")
    assert (code, body) == (b"200", expected_answer(path.read_bytes(), endpoint))


MALFORMED = {
    "empty body": b"",
    "only whitespace": b" \n\t ",
    "not JSON": b"apiVersion: admission.k8s.io/v1",
    "truncated JSON": b'{"apiVersion": "admission.k8s.io/v1", "kind": "Admission',
    "a JSON array": b"[]",
    "no request": b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}',
    "request without uid": json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                **{k: v for k, v in json.loads(CAPTURED[0].read_bytes())["request"].items()},
                "uid": "",
            },
        }
    ).encode(),
    "not an AdmissionReview": b'{"apiVersion": "v1", "kind": "ConfigMap", "data": {}}',
    "an older review version": json.dumps(
        {**json.loads(CAPTURED[0].read_bytes()), "apiVersion": "admission.k8s.io/v1beta1"}
    ).encode(),
}


@pytest.mark.parametrize("endpoint", ["mutate", "validate"])
@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_review_gets_400_with_a_short_json_error(
    client: httpx.Client, endpoint: str, body: bytes
) -> None:
    response = post_review(client, endpoint, body)
    assert (response.status_code, response.json()) == (
        400,
        {"code": 400, "message": malformed_message(body)},
    ), response.text
    assert response.headers["content-type"] == "application/json"


def test_a_review_without_uid_is_refused_for_its_missing_uid(client: httpx.Client) -> None:
    response = post_review(client, "validate", MALFORMED["request without uid"])
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "not an admission.k8s.io/v1 AdmissionReview: request.uid:"
    )


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/mutate"), ("PUT", "/validate"), ("DELETE", "/mutate")]
)
def test_a_wrong_method_gets_405_naming_the_expected_one(
    client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert (response.status_code, response.headers["allow"], response.json()) == (
        405,
        "POST",
        {"code": 405, "message": f"method {method} is not allowed on {path}: expected POST"},
    )


@pytest.mark.parametrize(
    ("content_type", "received"),
    [
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("application/yaml", "application/yaml"),
        (None, "no content type"),
    ],
)
def test_a_body_that_is_not_json_gets_415(
    server: RunningServer, content_type: str | None, received: str
) -> None:
    head = rawhttp.request_head("POST", "/validate?timeout=10s", 2, content_type or "")
    if content_type is None:
        head = head.replace(b"Content-Type: \r\n", b"")
    with rawhttp.connect(server.port, client_context(server.ca_file)) as sock:
        sock.sendall(head + b"{}")
        response = rawhttp.read_response(sock)
    assert (response.status, json.loads(response.body)) == (
        415,
        {"code": 415, "message": f"{received} is not supported: expected application/json"},
    )


def test_a_json_content_type_with_a_charset_is_accepted(client: httpx.Client) -> None:
    body = CAPTURED[0].read_bytes()
    headers = {**APISERVER_HEADERS, "Content-Type": "application/json; charset=utf-8"}
    response = post_review(client, endpoint_of(CAPTURED[0]), body, headers)
    assert response.status_code == 200, response.text


def test_a_declared_oversize_body_gets_413_before_it_is_sent(server: RunningServer) -> None:
    declared = 100 * 1024 * 1024
    with rawhttp.connect(server.port, client_context(server.ca_file)) as sock:
        started = time.monotonic()
        sock.sendall(rawhttp.request_head("POST", "/validate?timeout=10s", declared))
        sock.sendall(b'{"apiVersion": ')
        response = rawhttp.read_response(sock)
        elapsed = time.monotonic() - started
        assert rawhttp.closed_by_peer(sock, timeout=5)
    assert (response.status, response.headers["connection"], json.loads(response.body)) == (
        413,
        "close",
        {
            "code": 413,
            "message": f"body of {declared} bytes is over the limit of {MAX_BODY_BYTES} bytes",
        },
    )
    assert elapsed < 2


def test_a_chunked_body_is_cut_off_with_413_once_it_passes_the_limit(
    client: httpx.Client,
) -> None:
    chunk = b" " * 65536
    sent = [0]

    def endless() -> Iterator[bytes]:
        # Bounded only so that a broken server fails the test instead of hanging it.
        while sent[0] < 8 * MAX_BODY_BYTES:
            sent[0] += len(chunk)
            yield chunk

    response = client.post("/mutate?timeout=10s", content=endless(), headers=APISERVER_HEADERS)
    assert (response.status_code, response.headers["connection"], response.json()) == (
        413,
        "close",
        {
            "code": 413,
            "message": f"body of over {MAX_BODY_BYTES} bytes is over the limit of "
            f"{MAX_BODY_BYTES} bytes",
        },
    )
    assert MAX_BODY_BYTES < sent[0] < 8 * MAX_BODY_BYTES


def test_a_body_that_does_not_arrive_within_the_timeout_gets_408(server: RunningServer) -> None:
    with rawhttp.connect(server.port, client_context(server.ca_file)) as sock:
        started = time.monotonic()
        sock.sendall(rawhttp.request_head("POST", "/validate?timeout=1s", 1000))
        sock.sendall(b"{")
        response = rawhttp.read_response(sock)
        elapsed = time.monotonic() - started
    assert (response.status, json.loads(response.body)) == (
        408,
        {"code": 408, "message": "body not received within 1s"},
    )
    assert 0.9 < elapsed < 3


@pytest.mark.parametrize("timeout", ["10s", "500ms", "1m30s", "2.5s"])
def test_go_durations_are_accepted_as_timeouts(client: httpx.Client, timeout: str) -> None:
    body = CAPTURED[0].read_bytes()
    response = client.post(f"/mutate?timeout={timeout}", content=body, headers=APISERVER_HEADERS)
    assert response.status_code == 200, response.text


def test_a_timeout_that_is_not_a_duration_gets_400(client: httpx.Client) -> None:
    body = CAPTURED[0].read_bytes()
    response = client.post("/mutate?timeout=soon", content=body, headers=APISERVER_HEADERS)
    assert (response.status_code, response.json()) == (
        400,
        {"code": 400, "message": "timeout 'soon' is not a duration: expected a value such as 10s"},
    )


@pytest.mark.parametrize("path", ["/", "/mutate/", "/docs", "/openapi.json", "/admission"])
def test_an_unknown_path_gets_404_in_the_json_error_channel(
    client: httpx.Client, path: str
) -> None:
    response = client.post(path, content=b"{}", headers=APISERVER_HEADERS)
    assert (response.status_code, response.json()) == (
        404,
        {"code": 404, "message": f"no such path {path}: expected /mutate or /validate"},
    )


def test_health_and_readiness_answer_200(client: httpx.Client) -> None:
    assert [(r.status_code, r.json()) for r in (client.get("/healthz"), client.get("/readyz"))] == [
        (200, {"status": "ok"}),
        (200, {"status": "ready"}),
    ]


def test_many_reviews_share_one_keep_alive_connection(server: RunningServer) -> None:
    body = CAPTURED[0].read_bytes()
    endpoint = endpoint_of(CAPTURED[0])
    with rawhttp.connect(server.port, client_context(server.ca_file)) as sock:
        for _ in range(50):
            sock.sendall(rawhttp.request_head("POST", f"/{endpoint}?timeout=10s", len(body)) + body)
            response = rawhttp.read_response(sock)
            assert (response.status, response.body) == (200, expected_answer(body, endpoint))
