"""Hostile input against the real server: every case gets a clean answer and the server lives on.

The webhook's port is reachable by anything on the pod network, so each case
here is something a hostile or broken client can send. For ``/mutate`` and
``/validate`` alike, each gets its answer within a second (4xx for a request
that is not a review, a 200 denial naming the field for a bad object), never
a 5xx, a traceback or a hang; after each one the same server still answers a
valid review. Slow clients are the exception to the second: they are cut off
after the server's read timeout, shortened here to 2 s.
"""

import base64
import copy
import json
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pools import PENDING_STATUS
from tests.support import rawhttp
from tests.support.server import (
    APISERVER_HEADERS,
    SAMPLES,
    RunningServer,
    client_context,
    post_review,
    running_server,
)
from webhook.connection import MAX_HEAD_BYTES
from webhook.settings import MAX_BODY_BYTES

ENDPOINTS = ("mutate", "validate")
ANSWER_WITHIN = 1.0
READ_TIMEOUT = 2.0

VALID: dict[str, Any] = json.loads((SAMPLES / "create-valid.json").read_bytes())
UID = VALID["request"]["uid"]
NAME = VALID["request"]["name"]

# What /mutate adds to the valid sample: the defaults it leaves out.
DEFAULTS: list[Any] = [
    {"op": "add", "path": "/spec/extensionRef/group", "value": ""},
    {"op": "add", "path": "/spec/extensionRef/kind", "value": "Service"},
    {"op": "add", "path": "/spec/extensionRef/portNumber", "value": 9002},
    {"op": "add", "path": "/spec/extensionRef/failureMode", "value": "FailClose"},
    {
        "op": "add",
        "path": "/status",
        "value": PENDING_STATUS,
    },
]


# --- building reviews and their expected answers -----------------------------


def review(change: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The valid sample review, changed by ``change`` (which gets the whole review)."""
    document = copy.deepcopy(VALID)
    if change is not None:
        change(document)
    return document


def encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def pool_change(**spec: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["request"]["object"]["spec"].update(spec)

    return change


def problem(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def answer(response: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def allowed(uid: str = UID) -> dict[str, Any]:
    return answer({"uid": uid, "allowed": True})


def defaulted(uid: str = UID, ops: list[Any] = DEFAULTS) -> dict[str, Any]:
    """An allowed answer with a patch, the patch shown decoded (see :func:`readable`)."""
    return answer({"uid": uid, "allowed": True, "patch": ops, "patchType": "JSONPatch"})


def readable(body: bytes) -> Any:
    """A JSON answer with its base64 patch, if any, decoded to the list of operations."""
    document = json.loads(body)
    response = document.get("response") if isinstance(document, dict) else None
    if isinstance(response, dict) and "patch" in response:
        response["patch"] = json.loads(base64.b64decode(response["patch"]))
    return document


def bad_request(message: str) -> dict[str, Any]:
    status = {
        "metadata": {},
        "status": "Failure",
        "code": 400,
        "reason": "BadRequest",
        "message": message,
    }
    return answer({"uid": UID, "allowed": False, "status": status})


def invalid(field: str, reason: str, detail: str) -> dict[str, Any]:
    """A 422 denial of the sample pool with one cause."""
    status = {
        "metadata": {},
        "status": "Failure",
        "code": 422,
        "reason": "Invalid",
        "message": f'InferencePool.inference.networking.k8s.io "{NAME}" is invalid: '
        f"{field}: {detail}",
        "details": {
            "name": NAME,
            "group": "inference.networking.k8s.io",
            "kind": "InferencePool",
            "causes": [{"reason": reason, "type": reason, "field": field, "message": detail}],
        },
    }
    return answer({"uid": UID, "allowed": False, "status": status})


def at(marker: str, offset: int = 0) -> str:
    """Where orjson reports a problem: ``offset`` characters past ``marker`` in the sample."""
    char = SAMPLE_TEXT.index(marker) + offset
    return f"line 1 column {char + 1} (char {char})"


def not_json(detail: str) -> dict[str, Any]:
    return problem(400, f"body is not valid JSON: {detail}")


NOT_AN_OBJECT = problem(
    400, "not an admission.k8s.io/v1 AdmissionReview: the body must be a JSON object"
)
OUT_OF_RANGE = "must be between 1 and 65535, inclusive"


def deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


def with_annotations(annotations: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["request"]["object"]["metadata"]["annotations"] = annotations

    return change


def with_labels(count: int) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        labels = {f"label-{i}": "v" for i in range(count)}
        document["request"]["object"]["metadata"]["labels"] = labels

    return change


def with_request(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["request"].update(copy.deepcopy(fields))

    return change


def pool(**spec: Any) -> dict[str, Any]:
    changed: dict[str, Any] = copy.deepcopy(VALID["request"]["object"])
    changed["spec"].update(spec)
    return changed


def padded_to(size: int) -> bytes:
    """The valid review, padded with trailing whitespace to exactly ``size`` bytes."""
    body = encoded(review())
    return body + b" " * (size - len(body))


VALID_BODY = encoded(review())
SAMPLE_TEXT = VALID_BODY.decode()
GENERATION = '"generation": 1'
POD = {"group": "", "version": "v1", "kind": "Pod"}
PODS = {"group": "", "version": "v1", "resource": "pods"}
POD_DENIAL = bad_request(
    "this webhook admits inference.networking.k8s.io/v1 InferencePool and its status only, "
    "not core/v1 Pod: check the rules of the webhook configuration"
)

# name: (body, status, answer from /mutate, answer from /validate)
Case = tuple[bytes, int, dict[str, Any], dict[str, Any]]


def same(body: bytes, status: int, expected: dict[str, Any]) -> Case:
    return (body, status, expected, expected)


CASES: dict[str, Case] = {
    "empty body": same(
        b"", 400, problem(400, "empty body: expected an admission.k8s.io/v1 AdmissionReview")
    ),
    "not JSON": same(
        b"hello world",
        400,
        not_json("unexpected character, expected a JSON value: line 1 column 1 (char 0)"),
    ),
    "YAML": same(
        b"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\n",
        400,
        not_json("unexpected character, expected a JSON value: line 1 column 1 (char 0)"),
    ),
    "a JSON array": same(b"[]", 400, NOT_AN_OBJECT),
    "a JSON string": same(b'"AdmissionReview"', 400, NOT_AN_OBJECT),
    "a JSON number": same(b"42", 400, NOT_AN_OBJECT),
    "JSON null": same(b"null", 400, NOT_AN_OBJECT),
    "JSON true": same(b"true", 400, NOT_AN_OBJECT),
    "invalid UTF-8 in a string": same(
        VALID_BODY.replace(b"jane@example.com", b"jane\xff\xfe"),
        400,
        not_json("str is not valid UTF-8: surrogates not allowed: line 1 column 1 (char 0)"),
    ),
    "a lone UTF-16 surrogate escape": same(
        VALID_BODY.replace(b"jane@example.com", b"\\ud800"),
        400,
        not_json(f"no low surrogate in string: {at('jane@example.com')}"),
    ),
    "a UTF-8 byte-order mark": same(
        b"\xef\xbb\xbf" + VALID_BODY,
        400,
        not_json("UTF-8 byte order mark (BOM) is not supported: line 1 column 1 (char 0)"),
    ),
    "NaN": same(
        VALID_BODY.replace(b'"generation": 1', b'"generation": NaN'),
        400,
        not_json(f"unexpected character, expected a JSON value: {at(GENERATION, 14)}"),
    ),
    "Infinity": same(
        VALID_BODY.replace(b'"generation": 1', b'"generation": Infinity'),
        400,
        not_json(f"unexpected character, expected a JSON value: {at(GENERATION, 14)}"),
    ),
    "-Infinity": same(
        VALID_BODY.replace(b'"generation": 1', b'"generation": -Infinity'),
        400,
        not_json(f"no digit after sign: {at(GENERATION, 15)}"),
    ),
    "1e999": same(
        VALID_BODY.replace(b'"generation": 1', b'"generation": 1e999'),
        400,
        not_json(f"number is infinity when parsed as double: {at(GENERATION, 14)}"),
    ),
    "an integer port beyond 64 bits": (
        encoded(review(pool_change(targetPortNumber=2**70))),
        200,
        defaulted(),
        invalid(
            "spec.targetPortNumber",
            "FieldValueInvalid",
            f"Invalid value: {2**70}: {OUT_OF_RANGE}",
        ),
    ),
    "the largest 64-bit integer as a port": (
        encoded(review(pool_change(targetPortNumber=2**64 - 1))),
        200,
        defaulted(),
        invalid(
            "spec.targetPortNumber",
            "FieldValueInvalid",
            f"Invalid value: {2**64 - 1}: {OUT_OF_RANGE}",
        ),
    ),
    "an integer beyond 64 bits where the uid belongs": same(
        VALID_BODY.replace(f'"uid": "{UID}"'.encode(), b'"uid": 123456789012345678901234567890'),
        400,
        problem(
            400,
            "not an admission.k8s.io/v1 AdmissionReview: request.uid: Input should be a valid string",
        ),
    ),
    # The last of duplicate keys wins, as in Go's encoding/json that wrote the review.
    "a duplicate uid": (
        VALID_BODY.replace(f'"uid": "{UID}"'.encode(), b'"uid": "first", "uid": "second"'),
        200,
        defaulted("second"),
        allowed("second"),
    ),
    "a duplicate port whose last value is valid": (
        VALID_BODY.replace(
            b'"targetPortNumber": 8000', b'"targetPortNumber": 0, "targetPortNumber": 8000'
        ),
        200,
        defaulted(),
        allowed(),
    ),
    "a duplicate port whose last value is invalid": (
        VALID_BODY.replace(
            b'"targetPortNumber": 8000', b'"targetPortNumber": 8000, "targetPortNumber": 0'
        ),
        200,
        defaulted(),
        invalid("spec.targetPortNumber", "FieldValueInvalid", f"Invalid value: 0: {OUT_OF_RANGE}"),
    ),
    "a body nested 100,000 levels deep": same(
        deep(100_000),
        400,
        not_json("depth limit exceeded: line 1 column 5122 (char 5121)"),
    ),
    "an object nested 100,000 levels deep": same(
        VALID_BODY.replace(b'"generation": 1', b'"generation": ' + b"[" * 100_000 + b"]" * 100_000),
        400,
        not_json(f"depth limit exceeded: {at(GENERATION, 14 + 1021)}"),
    ),
    "a 1 MB annotation": (
        encoded(review(with_annotations({"example.com/big": "x" * 1_000_000}))),
        200,
        defaulted(),
        allowed(),
    ),
    "a 1 MB name": (
        encoded(review(pool_change(extensionRef={"name": "x" * 1_000_000}))),
        200,
        defaulted(),
        invalid(
            "spec.extensionRef.name",
            "FieldValueTooLong",
            "Too long: may not be more than 253 characters",
        ),
    ),
    "a 1 MB selector value": (
        encoded(review(pool_change(selector={"app": "x" * 1_000_000}))),
        200,
        defaulted(),
        invalid(
            "spec.selector[app]",
            "FieldValueTooLong",
            "Too long: may not be more than 63 characters",
        ),
    ),
    "60,000 labels": (encoded(review(with_labels(60_000))), 200, defaulted(), allowed()),
    "a body just under the size limit": (padded_to(MAX_BODY_BYTES), 200, defaulted(), allowed()),
    "a Pod": same(
        encoded(
            review(with_request(kind=POD, requestKind=POD, resource=PODS, requestResource=PODS))
        ),
        200,
        POD_DENIAL,
    ),
    "an object that is a list": same(
        encoded(review(with_request(object=[VALID["request"]["object"]]))),
        200,
        bad_request("request.object must be an InferencePool object, not list"),
    ),
    "an object that is a string": same(
        encoded(review(with_request(object="InferencePool"))),
        200,
        bad_request("request.object must be an InferencePool object, not str"),
    ),
    "an object that is a number": same(
        encoded(review(with_request(object=8000))),
        200,
        bad_request("request.object must be an InferencePool object, not int"),
    ),
    "a null object on CREATE": same(
        encoded(review(with_request(object=None))),
        200,
        bad_request("request.object must be an InferencePool object, not null"),
    ),
    "a spec that is a list": (
        encoded(review(with_request(object={**VALID["request"]["object"], "spec": [1]}))),
        200,
        defaulted(ops=DEFAULTS[-1:]),
        invalid("spec", "FieldValueTypeInvalid", 'Invalid value: "array": must be of type object'),
    ),
    # Ratcheting needs an oldObject that is an object; any other is ignored, so
    # every problem of the new object counts.
    "an oldObject that is a string": (
        encoded(review(with_request(operation="UPDATE", oldObject="junk"))),
        200,
        defaulted(),
        allowed(),
    ),
    "an oldObject that is a string beside an invalid object": (
        encoded(
            review(
                with_request(operation="UPDATE", oldObject="junk", object=pool(targetPortNumber=0))
            )
        ),
        200,
        defaulted(),
        invalid("spec.targetPortNumber", "FieldValueInvalid", f"Invalid value: 0: {OUT_OF_RANGE}"),
    ),
    "an invalid oldObject whose problem the update keeps": (
        encoded(
            review(
                with_request(
                    operation="UPDATE",
                    oldObject=pool(targetPortNumber=0),
                    object=pool(targetPortNumber=0),
                )
            )
        ),
        200,
        defaulted(),
        allowed(),
    ),
    "an invalid oldObject and an update that brings a new problem": (
        encoded(
            review(
                with_request(
                    operation="UPDATE",
                    oldObject=pool(targetPortNumber=70000),
                    object=pool(targetPortNumber=0),
                )
            )
        ),
        200,
        defaulted(),
        invalid("spec.targetPortNumber", "FieldValueInvalid", f"Invalid value: 0: {OUT_OF_RANGE}"),
    ),
    "a DELETE whose oldObject is a list": same(
        encoded(review(with_request(operation="DELETE", object=None, oldObject=[1]))),
        200,
        allowed(),
    ),
}


# --- the server and what every case must leave behind -------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("hostile")
    with running_server(workdir, "--read-timeout", str(READ_TIMEOUT)) as running:
        yield running
        log = running.logs()
    assert "Traceback" not in log
    assert " ERROR " not in log


@pytest.fixture
def context(server: RunningServer) -> ssl.SSLContext:
    return client_context(server.ca_file)


@pytest.fixture(autouse=True)
def still_serving(server: RunningServer) -> Iterator[None]:
    """After each case: the same process, on a fresh connection, answers a valid review."""
    pid = server.process.pid
    yield
    with server.client() as client:
        response = post_review(client, "validate", VALID_BODY)
    assert (server.process.poll(), server.process.pid) == (None, pid)
    assert (response.status_code, response.json()) == (200, allowed()), response.text


def send_raw(server: RunningServer, context: ssl.SSLContext, data: bytes) -> rawhttp.RawResponse:
    with rawhttp.connect(server.port, context) as sock:
        sock.sendall(data)
        return rawhttp.read_response(sock)


def answered_within(sock: ssl.SSLSocket, seconds: float) -> bool:
    """Whether the server has started to answer within ``seconds``, without consuming it."""
    readable, _, _ = select.select([sock], [], [], seconds)
    return bool(readable) or sock.pending() > 0


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


# --- bodies --------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("name", CASES)
def test_a_hostile_body_gets_its_exact_answer_within_a_second(
    server: RunningServer, context: ssl.SSLContext, endpoint: str, name: str
) -> None:
    body, status, from_mutate, from_validate = CASES[name]
    head = rawhttp.request_head("POST", f"/{endpoint}?timeout=10s", len(body))
    response, elapsed = timed(lambda: send_raw(server, context, head + body))
    expected = from_mutate if endpoint == "mutate" else from_validate
    assert (response.status, readable(response.body)) == (status, expected), response.body[:2000]
    assert response.headers["content-type"] == "application/json"
    assert elapsed < ANSWER_WITHIN


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_one_byte_over_the_limit_gets_413_before_it_is_read(
    server: RunningServer, context: ssl.SSLContext, endpoint: str
) -> None:
    body = padded_to(MAX_BODY_BYTES + 1)
    head = rawhttp.request_head("POST", f"/{endpoint}?timeout=10s", len(body))
    with rawhttp.connect(server.port, context) as sock:
        started = time.monotonic()
        sock.sendall(head)
        response = rawhttp.read_response(sock)
        elapsed = time.monotonic() - started
        assert rawhttp.closed_by_peer(sock, timeout=2)
    assert (response.status, response.headers["connection"], json.loads(response.body)) == (
        413,
        "close",
        problem(
            413,
            f"body of {MAX_BODY_BYTES + 1} bytes is over the limit of {MAX_BODY_BYTES} bytes",
        ),
    )
    assert elapsed < ANSWER_WITHIN


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_chunked_body_one_byte_over_the_limit_gets_413(
    server: RunningServer, endpoint: str
) -> None:
    body = padded_to(MAX_BODY_BYTES + 1)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    with server.client() as client:
        response, elapsed = timed(
            lambda: client.post(
                f"/{endpoint}?timeout=10s", content=chunks(), headers=APISERVER_HEADERS
            )
        )
    assert (response.status_code, response.json()) == (
        413,
        problem(
            413, f"body of over {MAX_BODY_BYTES} bytes is over the limit of {MAX_BODY_BYTES} bytes"
        ),
    )
    assert elapsed < ANSWER_WITHIN


# --- framing: Content-Length, chunks, slow clients ------------------------------


UVICORN_400 = (400, "text/plain; charset=utf-8", b"Invalid HTTP request received.")


def head_with(endpoint: str, *lines: str, query: str = "timeout=10s") -> bytes:
    request = [f"POST /{endpoint}?{query} HTTP/1.1", "Host: localhost", *lines]
    return ("\r\n".join(request) + "\r\n\r\n").encode()


def refused_by_the_parser(server: RunningServer, context: ssl.SSLContext, data: bytes) -> None:
    """The HTTP parser refuses the request with uvicorn's plain 400 and closes the connection."""
    with rawhttp.connect(server.port, context) as sock:
        started = time.monotonic()
        sock.sendall(data)
        response = rawhttp.read_response(sock)
        elapsed = time.monotonic() - started
        closed = rawhttp.closed_by_peer(sock, timeout=2)
    assert (response.status, response.headers["content-type"], response.body) == UVICORN_400
    assert (response.headers["connection"], closed) == ("close", True)
    assert elapsed < ANSWER_WITHIN


JSON_TYPE = "Content-Type: application/json"

# Framing a request-smuggling proxy or a broken client could send: the parser
# refuses each before the app sees it.
BAD_FRAMING = {
    "Content-Length shorter than the body": (f"Content-Length: {len(VALID_BODY) - 10}",),
    "two different Content-Lengths": (f"Content-Length: {len(VALID_BODY)}", "Content-Length: 5"),
    "a negative Content-Length": ("Content-Length: -5",),
    "a hexadecimal Content-Length": ("Content-Length: 0x10",),
    "both Content-Length and chunked": (
        f"Content-Length: {len(VALID_BODY)}",
        "Transfer-Encoding: chunked",
    ),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("name", BAD_FRAMING)
def test_a_body_whose_framing_lies_is_refused_by_the_parser(
    server: RunningServer, context: ssl.SSLContext, endpoint: str, name: str
) -> None:
    refused_by_the_parser(
        server, context, head_with(endpoint, JSON_TYPE, *BAD_FRAMING[name]) + VALID_BODY
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_broken_chunk_size_is_refused_by_the_parser(
    server: RunningServer, context: ssl.SSLContext, endpoint: str
) -> None:
    head = head_with(endpoint, JSON_TYPE, "Transfer-Encoding: chunked")
    refused_by_the_parser(server, context, head + b"zz\r\n" + VALID_BODY)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_content_length_longer_than_the_body_gets_408_at_the_callers_timeout(
    server: RunningServer, context: ssl.SSLContext, endpoint: str
) -> None:
    head = head_with(
        endpoint, JSON_TYPE, f"Content-Length: {len(VALID_BODY) + 100}", query="timeout=1s"
    )
    response, elapsed = timed(lambda: send_raw(server, context, head + VALID_BODY))
    assert (response.status, response.headers["connection"], json.loads(response.body)) == (
        408,
        "close",
        problem(408, "body not received within 1s"),
    )
    assert 0.9 < elapsed < 1 + ANSWER_WITHIN


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_chunked_body_that_never_ends_gets_408_at_the_read_timeout(
    server: RunningServer, context: ssl.SSLContext, endpoint: str
) -> None:
    # No ?timeout=: the server's own read timeout bounds the body.
    head = (
        f"POST /{endpoint} HTTP/1.1\r\nHost: localhost\r\n{JSON_TYPE}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with rawhttp.connect(server.port, context) as sock:
        started = time.monotonic()
        sock.sendall(head + b"10\r\n" + VALID_BODY[:16] + b"\r\n")
        # One more chunk every 0.2 s, never the last one, until the server answers.
        offset = 16
        while not answered_within(sock, 0.2):
            assert time.monotonic() - started < READ_TIMEOUT + ANSWER_WITHIN
            sock.sendall(b"1\r\n" + VALID_BODY[offset : offset + 1] + b"\r\n")
            offset += 1
        response = rawhttp.read_response(sock)
        elapsed = time.monotonic() - started
    assert (response.status, response.headers["connection"], json.loads(response.body)) == (
        408,
        "close",
        problem(408, f"body not received within {READ_TIMEOUT:g}s"),
    )
    assert READ_TIMEOUT - 0.1 < elapsed < READ_TIMEOUT + ANSWER_WITHIN


def test_headers_sent_one_byte_a_second_are_cut_off_with_408_at_the_read_timeout(
    server: RunningServer, context: ssl.SSLContext
) -> None:
    head = head_with("validate", JSON_TYPE, f"Content-Length: {len(VALID_BODY)}")
    with rawhttp.connect(server.port, context) as sock:
        sock.settimeout(1.0)
        started = time.monotonic()
        reply = b""
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
                reply = sock.recv(65536)
                break
            except TimeoutError:
                continue
            finally:
                assert time.monotonic() - started < READ_TIMEOUT + 2
        elapsed = time.monotonic() - started
        closed = rawhttp.closed_by_peer(sock, timeout=1)
    assert reply == (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"content-length: 63\r\nconnection: close\r\n\r\n"
        + json.dumps(problem(408, f"request head not received within {READ_TIMEOUT:g}s")).encode()
    )
    assert closed
    assert READ_TIMEOUT - 0.1 < elapsed < READ_TIMEOUT + ANSWER_WITHIN + 0.1


def test_a_connection_that_never_sends_a_request_is_closed_at_the_read_timeout(
    server: RunningServer, context: ssl.SSLContext
) -> None:
    with rawhttp.connect(server.port, context) as sock:
        started = time.monotonic()
        closed = rawhttp.closed_by_peer(sock, timeout=READ_TIMEOUT + ANSWER_WITHIN)
        elapsed = time.monotonic() - started
    assert closed
    assert READ_TIMEOUT - 0.1 < elapsed < READ_TIMEOUT + ANSWER_WITHIN


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        # The first bytes of a TLS record holding a ClientHello, and no more.
        b"\x16\x03\x01\x02\x00\x01",
    ],
    ids=["nothing", "part of a client hello"],
)
def test_a_tls_handshake_that_never_completes_is_dropped_at_the_read_timeout(
    server: RunningServer, sent: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        received = sock.recv(4096)
        elapsed = time.monotonic() - started
    assert received == b""
    assert READ_TIMEOUT - 0.1 < elapsed < READ_TIMEOUT + ANSWER_WITHIN


def test_an_idle_keep_alive_connection_outlives_the_read_timeout(
    server: RunningServer, context: ssl.SSLContext
) -> None:
    # The head deadline starts with a request, not with idleness: kube-apiserver
    # reuses connections that sat idle for up to 90 s.
    head = rawhttp.request_head("POST", "/validate?timeout=10s", len(VALID_BODY))
    with rawhttp.connect(server.port, context) as sock:
        sock.sendall(head + VALID_BODY)
        first = rawhttp.read_response(sock)
        time.sleep(READ_TIMEOUT + 0.5)
        sock.sendall(head + VALID_BODY)
        second = rawhttp.read_response(sock)
    assert [(r.status, json.loads(r.body)) for r in (first, second)] == [(200, allowed())] * 2


def test_a_request_head_over_64_kib_gets_431_and_is_not_buffered(
    server: RunningServer, context: ssl.SSLContext
) -> None:
    with rawhttp.connect(server.port, context) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nX-Filler: ")
        sent = 0
        try:
            # Bounded: 64 MiB of one header line, far past the limit; the
            # server closes long before, once the kernel's buffers are full.
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"a" * 16384)
                sent += 16384
        except (ssl.SSLError, OSError):
            pass
        response = rawhttp.read_response(sock)
        elapsed = time.monotonic() - started
    assert (response.status, response.headers["connection"], json.loads(response.body)) == (
        431,
        "close",
        problem(431, f"request head is over the limit of {MAX_HEAD_BYTES} bytes"),
    )
    assert sent < 16 * 1024 * 1024
    assert elapsed < ANSWER_WITHIN


def test_an_http_2_preface_is_refused_by_the_parser(
    server: RunningServer, context: ssl.SSLContext
) -> None:
    refused_by_the_parser(server, context, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")


def test_a_tls_handshake_with_garbage_closes_only_that_connection(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /validate HTTP/1.1\r\nHost: localhost\r\n\r\n")
        started = time.monotonic()
        closed = sock.recv(65536) == b""
        elapsed = time.monotonic() - started
    assert closed
    assert elapsed < ANSWER_WITHIN


# --- methods and content types -------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "CONNECT", "TRACE"])
def test_a_method_other_than_post_gets_405_in_the_json_channel(
    server: RunningServer, endpoint: str, method: str
) -> None:
    with server.client() as client:
        response, elapsed = timed(
            lambda: client.request(
                method, f"/{endpoint}", content=VALID_BODY, headers=APISERVER_HEADERS
            )
        )
    assert (response.status_code, response.headers["allow"], response.json()) == (
        405,
        "POST",
        problem(405, f"method {method} is not allowed on /{endpoint}: expected POST"),
    )
    assert elapsed < ANSWER_WITHIN


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_head_gets_405_without_a_body(server: RunningServer, endpoint: str) -> None:
    with server.client() as client:
        response = client.head(f"/{endpoint}")
    assert (response.status_code, response.headers["allow"], response.content) == (405, "POST", b"")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_unknown_method_is_refused_by_the_parser(
    server: RunningServer, context: ssl.SSLContext, endpoint: str
) -> None:
    data = f"BREW /{endpoint} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".encode()
    refused_by_the_parser(server, context, data)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "content_type",
    [
        "application/json-patch+json",
        "application/jsonx",
        "application/x-json",
        "multipart/form-data; boundary=x",
        "application/vnd.kubernetes.protobuf",
        "json",
    ],
)
def test_a_content_type_that_is_not_json_gets_415(
    server: RunningServer, context: ssl.SSLContext, endpoint: str, content_type: str
) -> None:
    head = rawhttp.request_head("POST", f"/{endpoint}?timeout=10s", len(VALID_BODY), content_type)
    response, elapsed = timed(lambda: send_raw(server, context, head + VALID_BODY))
    assert (response.status, json.loads(response.body)) == (
        415,
        problem(415, f"{content_type} is not supported: expected application/json"),
    )
    assert elapsed < ANSWER_WITHIN


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_gzip_body_is_not_decoded_and_gets_415(
    server: RunningServer, context: ssl.SSLContext, endpoint: str
) -> None:
    import gzip  # noqa: PLC0415

    body = gzip.compress(VALID_BODY)
    head = head_with(endpoint, JSON_TYPE, "Content-Encoding: gzip", f"Content-Length: {len(body)}")
    response = send_raw(server, context, head + body)
    assert (response.status, json.loads(response.body)) == (
        415,
        problem(415, "content encoding gzip is not supported: send the body uncompressed"),
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_identity_content_encoding_is_accepted(
    server: RunningServer, context: ssl.SSLContext, endpoint: str
) -> None:
    head = head_with(
        endpoint, JSON_TYPE, "Content-Encoding: identity", f"Content-Length: {len(VALID_BODY)}"
    )
    response = send_raw(server, context, head + VALID_BODY)
    expected = defaulted() if endpoint == "mutate" else allowed()
    assert (response.status, readable(response.body)) == (200, expected)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_json_content_type_in_upper_case_is_accepted(
    server: RunningServer, context: ssl.SSLContext, endpoint: str
) -> None:
    head = rawhttp.request_head(
        "POST", f"/{endpoint}?timeout=10s", len(VALID_BODY), "Application/JSON; charset=UTF-8"
    )
    response = send_raw(server, context, head + VALID_BODY)
    expected = defaulted() if endpoint == "mutate" else allowed()
    assert (response.status, readable(response.body)) == (200, expected)


# --- many hostile clients at once ----------------------------------------------


def test_valid_reviews_are_answered_while_slow_clients_hold_connections(
    server: RunningServer, context: ssl.SSLContext
) -> None:
    slow = [rawhttp.connect(server.port, context) for _ in range(50)]
    try:
        for sock in slow:
            sock.sendall(b"POST /validate HTTP/1.1\r\nHost: local")
        with server.client() as client:
            answers, elapsed = timed(
                lambda: [post_review(client, "validate", VALID_BODY) for _ in range(20)]
            )
        assert [(a.status_code, a.json()) for a in answers] == [(200, allowed())] * 20
        assert elapsed < ANSWER_WITHIN
    finally:
        for sock in slow:
            sock.close()


def test_no_hostile_case_counted_an_unexpected_error(server: RunningServer) -> None:
    with httpx.Client(verify=client_context(server.ca_file)) as client:
        text = client.get(f"{server.url}/metrics").text
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("inferencepool_webhook_unexpected_errors_total")
    ]
    assert counted == ["inferencepool_webhook_unexpected_errors_total 0.0"]
    assert 'inferencepool_webhook_rejected_requests_total{code="500"} 0.0' in text


def test_the_hostile_bodies_are_of_the_sizes_they_claim() -> None:
    sizes = {name: len(case[0]) for name, case in CASES.items()}
    assert sizes["a body just under the size limit"] == MAX_BODY_BYTES
    assert sizes["a 1 MB annotation"] > 1_000_000
    assert sizes["a body nested 100,000 levels deep"] == 100_000 * 6 + 1


# --- a review that takes long to decide -----------------------------------------

NAME_PART_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and"
    " end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc',"
    " regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def test_a_review_full_of_mistakes_does_not_stall_health_checks(
    server: RunningServer, context: ssl.SSLContext
) -> None:
    keys = 150_000
    body = encoded(review(pool_change(selector={f"k{i}~": "v" for i in range(keys)})))
    head = rawhttp.request_head("POST", "/validate?timeout=10s", len(body))
    result: list[rawhttp.RawResponse] = []
    sender = threading.Thread(target=lambda: result.append(send_raw(server, context, head + body)))

    health_seconds: list[float] = []
    with server.client() as client:
        sender.start()
        while sender.is_alive():
            response, elapsed = timed(lambda: client.get("/healthz"))
            assert response.status_code == 200
            health_seconds.append(elapsed)
            time.sleep(0.02)
    sender.join()

    causes = [
        {
            "reason": "FieldValueInvalid",
            "type": "FieldValueInvalid",
            "field": "spec.selector",
            "message": f'Invalid value: "k{i}~": {NAME_PART_RULE}',
        }
        for i in range(2048)
    ]
    texts = [f"spec.selector: {c['message']}" for c in causes]
    message = ", ".join([*texts, f"and {keys - 2048} more errors"])
    status = {
        "metadata": {},
        "status": "Failure",
        "code": 422,
        "reason": "Invalid",
        "message": f'InferencePool.inference.networking.k8s.io "{NAME}" is invalid: [{message}]',
        "details": {
            "name": NAME,
            "group": "inference.networking.k8s.io",
            "kind": "InferencePool",
            "causes": causes,
        },
    }
    assert (result[0].status, readable(result[0].body)) == (
        200,
        answer({"uid": UID, "allowed": False, "status": status}),
    )
    # Health checks were answered all along, each well within a probe's timeout.
    assert len(health_seconds) >= 3, health_seconds
    assert max(health_seconds) < 0.5, health_seconds


# --- connections reset by the client -------------------------------------------


def resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_connections_reset_after_a_review_do_not_pile_up_in_memory(
    server: RunningServer, context: ssl.SSLContext
) -> None:
    def reset_after_one_review() -> None:
        with rawhttp.connect(server.port, context) as sock:
            sock.sendall(rawhttp.request_head("POST", "/validate", len(VALID_BODY)) + VALID_BODY)
            assert rawhttp.read_response(sock).status == 200
            # Close with a reset, as a crashed or hostile client does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    for _ in range(20):
        reset_after_one_review()
    before = resident_kib(server.process.pid)
    for _ in range(400):
        reset_after_one_review()
    time.sleep(0.5)
    grown = resident_kib(server.process.pid) - before
    # A connection with its TLS layer costs about 60 KiB: kept until the
    # keep-alive time ran out, 400 resets would hold about 24 MiB.
    assert grown < 6 * 1024, f"resident memory grew by {grown} KiB"


def test_idle_tls_connections_cost_little_memory_each(tmp_path: Path) -> None:
    connections = 200
    with running_server(tmp_path) as fresh:
        context = client_context(fresh.ca_file)
        before = resident_kib(fresh.process.pid)
        sockets = [rawhttp.connect(fresh.port, context) for _ in range(connections)]
        try:
            time.sleep(0.5)
            per_connection = (resident_kib(fresh.process.pid) - before) / connections
        finally:
            for sock in sockets:
                sock.close()
    # With asyncio's default 256 KiB read buffer a connection cost about 280 KiB.
    assert per_connection < 100, f"{per_connection:.0f} KiB per idle connection"
