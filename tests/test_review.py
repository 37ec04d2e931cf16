import json
from typing import Any

import pytest

from tests.pools import body, fixture, pool, review
from webhook.review import MalformedReviewError, decide, encode, parse_review

NOT_A_REVIEW = "not an admission.k8s.io/v1 AdmissionReview"


def envelope(**request: Any) -> bytes:
    base: dict[str, Any] = {
        "uid": "u",
        "kind": {"version": "v1", "kind": "X"},
        "resource": {"version": "v1", "resource": "x"},
        "operation": "CREATE",
    }
    base.update(request)
    return body({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": base})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty body: expected an admission.k8s.io/v1 AdmissionReview"),
        (b" \r\n\t", "empty body: expected an admission.k8s.io/v1 AdmissionReview"),
        (b"{", "body is not valid JSON: unexpected end of data: line 1 column 2 (char 1)"),
        (b"[]", f"{NOT_A_REVIEW}: the body must be a JSON object"),
        (b'"review"', f"{NOT_A_REVIEW}: the body must be a JSON object"),
        (b'{"a": NaN}', "body is not valid JSON: unexpected character, expected a JSON value: line 1 column 7 (char 6)"),
        (b'{"a": Infinity}', "body is not valid JSON: unexpected character, expected a JSON value: line 1 column 7 (char 6)"),
        (b"\xef\xbb\xbf{}", "body is not valid JSON: UTF-8 byte order mark (BOM) is not supported: line 1 column 1 (char 0)"),
        (b'{"a": "\xff"}', "body is not valid JSON: str is not valid UTF-8: surrogates not allowed: line 1 column 1 (char 0)"),
        (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "body is not valid JSON: depth limit exceeded: line 1 column 1030 (char 1029)"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}', f"{NOT_A_REVIEW}: request: Field required"),
        (b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}', f"{NOT_A_REVIEW}: apiVersion: Input should be 'admission.k8s.io/v1'"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "Pod", "request": {}}', f"{NOT_A_REVIEW}: kind: Input should be 'AdmissionReview'"),
        (envelope(uid=""), f"{NOT_A_REVIEW}: request.uid: String should have at least 1 character"),
        (envelope(uid=7), f"{NOT_A_REVIEW}: request.uid: Input should be a valid string"),
        (envelope(operation="PATCH"), f"{NOT_A_REVIEW}: request.operation: Input should be 'CREATE', 'UPDATE', 'DELETE' or 'CONNECT'"),
        (envelope(dryRun="true"), f"{NOT_A_REVIEW}: request.dryRun: Input should be a valid boolean"),
        (envelope(kind="InferencePool"), f"{NOT_A_REVIEW}: request.kind: Input should be a valid dictionary or instance of GroupVersionKind"),
    ],
)  # fmt: skip
def test_a_body_that_is_not_a_review_is_malformed_with_a_short_reason(
    raw: bytes, message: str
) -> None:
    with pytest.raises(MalformedReviewError) as caught:
        parse_review(raw)
    assert str(caught.value) == message


def test_a_malformed_review_message_never_echoes_the_body() -> None:
    secret = "s3cr3t-token-value"
    with pytest.raises(MalformedReviewError) as caught:
        parse_review(envelope(uid=7, object={"data": secret}, userInfo={"username": secret * 2}))
    assert secret not in str(caught.value)


def test_every_field_of_a_captured_review_is_read() -> None:
    request = parse_review(fixture("update-status-patch.validate.json")).request
    assert (
        request.uid,
        request.operation,
        request.subResource,
        request.name,
        request.namespace,
        request.userInfo.username,
        request.userInfo.groups,
        request.dryRun,
        request.object["spec"]["targetPortNumber"],
        request.oldObject["metadata"]["name"],
    ) == (
        "7e2891b5-e512-4faf-b83b-11f958890975",
        "UPDATE",
        "status",
        "vllm-llama3-8b-instruct",
        "default",
        "admin",
        ["system:masters", "system:authenticated"],
        False,
        8001,
        "vllm-llama3-8b-instruct",
    )


def test_fields_a_newer_api_server_adds_are_ignored() -> None:
    document = review(pool())
    document["request"]["futureField"] = {"x": 1}
    document["futureTopLevel"] = True
    response = json.loads(encode(decide(parse_review(body(document)), "validate")))
    assert response == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": document["request"]["uid"], "allowed": True},
    }
