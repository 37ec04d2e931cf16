import base64
import copy
import json
from typing import Any

import jsonpatch
import pytest

from tests.pools import PENDING_STATUS, body, condition, extension_ref, parent, pool, review
from webhook.ratchet import unchanged
from webhook.review import Endpoint, decide, encode, parse_review

UID = "e911857d-c318-11e8-bbad-025000000001"
PORT_RANGE = "must be between 1 and 65535, inclusive"


def answer(document: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    """The whole AdmissionReview the engine sends back, decoded."""
    parsed = parse_review(body(document))
    result: dict[str, Any] = json.loads(encode(decide(parsed, endpoint)))
    return result


def allowed(**response: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": UID, "allowed": True, **response},
    }


def denied(status: dict[str, Any], **response: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": UID, "allowed": False, "status": status, **response},
    }


def invalid_status(name: str, causes: list[tuple[str, str, str]]) -> dict[str, Any]:
    texts = [f"{f}: {m}" for _, f, m in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return {
        "metadata": {},
        "status": "Failure",
        "code": 422,
        "reason": "Invalid",
        "message": f'InferencePool.inference.networking.k8s.io "{name}" is invalid: {summary}',
        "details": {
            "name": name,
            "group": "inference.networking.k8s.io",
            "kind": "InferencePool",
            "causes": [{"reason": t, "type": t, "field": f, "message": m} for t, f, m in causes],
        },
    }


def patch_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(response["response"]["patch"]))
    return ops


def test_mutate_sends_the_defaults_as_a_base64_json_patch() -> None:
    obj = pool(extensionRef={"name": "epp", "kind": "Service"})
    result = answer(review(obj), "mutate")
    ops = [
        {"op": "add", "path": "/spec/extensionRef/group", "value": ""},
        {"op": "add", "path": "/spec/extensionRef/portNumber", "value": 9002},
        {"op": "add", "path": "/spec/extensionRef/failureMode", "value": "FailClose"},
        {"op": "add", "path": "/status", "value": PENDING_STATUS},
    ]
    encoded = base64.b64encode(json.dumps(ops, separators=(",", ":")).encode()).decode()
    assert result == allowed(patch=encoded, patchType="JSONPatch")


def test_mutate_sends_no_patch_when_nothing_is_missing() -> None:
    obj = pool()
    obj["status"] = {"parent": [parent()]}
    assert answer(review(obj), "mutate") == allowed()
    assert answer(review(obj, "UPDATE", old=obj), "mutate") == allowed()


def test_mutate_does_not_judge_the_object() -> None:
    obj = pool(targetPortNumber=0)
    obj["status"] = {"parent": [parent()]}
    assert answer(review(obj), "mutate") == allowed()


def test_mutate_on_a_status_write_only_patches_status() -> None:
    obj = pool(extensionRef={"name": "epp"})
    obj["status"] = {"parent": [{"parentRef": {"name": "gw"}, "conditions": []}]}
    result = answer(review(obj, "UPDATE", old=obj, sub_resource="status"), "mutate")
    assert patch_of(result) == [
        {
            "op": "add",
            "path": "/status/parent/0/parentRef/group",
            "value": "gateway.networking.k8s.io",
        },
        {"op": "add", "path": "/status/parent/0/parentRef/kind", "value": "Gateway"},
    ]


def test_validate_allows_a_valid_pool_without_a_patch() -> None:
    assert answer(review(pool()), "validate") == allowed()


def test_validate_denies_with_every_problem_as_a_cause() -> None:
    obj = pool(
        targetPortNumber=0,
        extensionRef={"failureMode": "failclose"},
        selector={"app": "ok"},
    )
    assert answer(review(obj), "validate") == denied(
        invalid_status(
            "pool",
            [
                ("FieldValueInvalid", "spec.targetPortNumber", f"Invalid value: 0: {PORT_RANGE}"),
                ("FieldValueRequired", "spec.extensionRef.name", "Required value"),
                (
                    "FieldValueNotSupported",
                    "spec.extensionRef.failureMode",
                    'Unsupported value: "failclose": supported values: "FailOpen", "FailClose"',
                ),
            ],
        )
    )


def test_a_single_problem_is_not_bracketed() -> None:
    result = answer(review(pool(targetPortNumber=70000)), "validate")
    assert result["response"]["status"]["message"] == (
        'InferencePool.inference.networking.k8s.io "pool" is invalid: '
        f"spec.targetPortNumber: Invalid value: 70000: {PORT_RANGE}"
    )


def test_a_generate_name_create_is_named_from_its_metadata() -> None:
    doc = review(pool(targetPortNumber=0))
    doc["request"]["name"] = ""
    doc["request"]["object"]["metadata"] = {"generateName": "pool-"}
    result = answer(doc, "validate")
    assert result["response"]["status"]["details"]["name"] == ""
    doc["request"]["object"]["metadata"] = {"name": "pool-x1"}
    assert answer(doc, "validate")["response"]["status"]["details"]["name"] == "pool-x1"


def test_a_main_resource_write_ignores_status() -> None:
    obj = pool()
    obj["status"] = {"parent": [parent(f"g{i}") for i in range(33)]}
    assert answer(review(obj), "validate") == allowed()


def test_a_status_write_with_33_parents_is_denied() -> None:
    obj = pool(targetPortNumber=0)
    obj["status"] = {"parent": [parent(f"g{i}") for i in range(33)]}
    old = pool()
    result = answer(review(obj, "UPDATE", old=old, sub_resource="status"), "validate")
    assert result == denied(
        invalid_status(
            "pool",
            [("FieldValueTooMany", "status.parent", "Too many: 33: must have at most 32 items")],
        )
    )


def test_an_update_keeps_old_mistakes_but_denies_new_ones() -> None:
    old = pool(selector={"bad~": "v"}, targetPortNumber=0)
    unchanged_mistakes = copy.deepcopy(old)
    unchanged_mistakes["spec"]["extensionRef"]["failureMode"] = "FailOpen"
    assert answer(review(unchanged_mistakes, "UPDATE", old=old), "validate") == allowed()

    changed = copy.deepcopy(old)
    changed["spec"]["targetPortNumber"] = 70000
    result = answer(review(changed, "UPDATE", old=old), "validate")
    assert [c["field"] for c in result["response"]["status"]["details"]["causes"]] == [
        "spec.targetPortNumber"
    ]

    new_key = copy.deepcopy(old)
    new_key["spec"]["selector"]["worse~"] = "v"
    result = answer(review(new_key, "UPDATE", old=old), "validate")
    assert [c["message"][:24] for c in result["response"]["status"]["details"]["causes"]] == [
        'Invalid value: "worse~":'
    ]


def test_ratcheting_compares_values_strictly() -> None:
    old = pool(targetPortNumber=True)
    new = pool(targetPortNumber=True)
    assert answer(review(new, "UPDATE", old=old), "validate") == allowed()
    # true and 1 differ to the API server, so the old mistake does not cover 1.
    old = pool(extensionRef=extension_ref(portNumber=True))
    new = pool(extensionRef=extension_ref(portNumber=0))
    assert not answer(review(new, "UPDATE", old=old), "validate")["response"]["allowed"]


def test_an_update_that_makes_two_condition_types_equal_is_denied() -> None:
    old = pool()
    old["status"] = {"parent": [parent()]}
    old["status"]["parent"][0]["conditions"] = [
        condition(type="Accepted"),
        condition(type="ResolvedRefs"),
    ]
    # The duplicate is reported at conditions[1].type, whose value the update
    # keeps; it is the changed neighbour that makes it a duplicate.
    new = copy.deepcopy(old)
    new["status"]["parent"][0]["conditions"][0]["type"] = "ResolvedRefs"
    result = answer(review(new, "UPDATE", old=old, sub_resource="status"), "validate")
    assert result == denied(
        invalid_status(
            "pool",
            [
                (
                    "FieldValueDuplicate",
                    "status.parent[0].conditions[1].type",
                    'Duplicate value: "ResolvedRefs"',
                )
            ],
        )
    )
    # A duplicate already stored in a list the update leaves alone is kept.
    assert answer(review(new, "UPDATE", old=new, sub_resource="status"), "validate") == allowed()


@pytest.mark.parametrize("endpoint", ["mutate", "validate"])
def test_an_update_nested_as_deep_as_the_parser_allows_is_decided_like_a_shallow_one(
    endpoint: Endpoint,
) -> None:
    obj, old = pool(), pool(targetPortNumber=9000)
    obj["spec"]["x"] = old["spec"]["x"] = "NESTED"
    text = json.dumps(review(obj, "UPDATE", old=old))
    # Deeper than Python's recursion limit, within the parser's 1024 levels.
    deep = text.replace('"NESTED"', '{"a":' * 1000 + "1" + "}" * 1000)
    shallow = text.replace('"NESTED"', '{"a":1}')
    answers = [
        json.loads(encode(decide(parse_review(t.encode()), endpoint))) for t in (deep, shallow)
    ]
    assert answers[0] == answers[1]
    assert answers[0]["response"]["allowed"] is True


@pytest.mark.parametrize(
    "changed",
    [
        {"a": [1, {"b": 1}], "c": "d"},
        {"a": [1.0, {"b": True}], "c": "d"},
        {"a": [1, {"b": True}]},
        {"a": [1, {"b": True}, 2], "c": "d"},
        {"a": [1, {"b": True}], "c": "e"},
    ],
)
def test_ratcheting_tells_json_values_apart_by_type_and_content(changed: dict[str, Any]) -> None:
    # A missing name is forgiven while the extensionRef holding it is unchanged.
    old = pool(extensionRef={"kind": "Service", "x": {"a": [1, {"b": True}], "c": "d"}})
    same = copy.deepcopy(old)
    same["spec"]["extensionRef"]["x"] = {"c": "d", "a": [1, {"b": True}]}
    same["spec"]["targetPortNumber"] = 9000
    assert answer(review(same, "UPDATE", old=old), "validate")["response"]["allowed"] is True

    new = copy.deepcopy(same)
    new["spec"]["extensionRef"]["x"] = changed
    causes = answer(review(new, "UPDATE", old=old), "validate")["response"]["status"]["details"][
        "causes"
    ]
    assert [(c["field"], c["message"]) for c in causes] == [
        ("spec.extensionRef.name", "Required value")
    ]


def test_a_required_field_missing_before_and_after_does_not_block_an_update() -> None:
    old = pool(extensionRef={"kind": "Service"})
    new = pool(extensionRef={"kind": "Service"}, targetPortNumber=9000)
    assert answer(review(new, "UPDATE", old=old), "validate") == allowed()
    # Changing the object that lacks the field makes the field's absence new.
    new = pool(extensionRef={"kind": "HTTPRoute"})
    result = answer(review(new, "UPDATE", old=old), "validate")
    assert result["response"]["status"]["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "type": "FieldValueRequired",
            "field": "spec.extensionRef.name",
            "message": "Required value",
        }
    ]


def test_an_update_with_an_unusable_old_object_is_judged_without_ratcheting() -> None:
    result = answer(review(pool(targetPortNumber=0), "UPDATE", old="garbage"), "validate")
    assert result["response"]["status"]["details"]["causes"][0]["field"] == "spec.targetPortNumber"


@pytest.mark.parametrize("endpoint", ["mutate", "validate"])
@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_are_allowed_without_a_patch(endpoint: Endpoint, operation: str) -> None:
    assert answer(review(None, operation, old=pool(targetPortNumber=0)), endpoint) == allowed()


@pytest.mark.parametrize("endpoint", ["mutate", "validate"])
def test_dry_run_is_decided_like_any_other_write(endpoint: Endpoint) -> None:
    plain, dry = review(pool(targetPortNumber=0)), review(pool(targetPortNumber=0))
    dry["request"]["dryRun"] = True
    assert answer(dry, endpoint) == answer(plain, endpoint)


@pytest.mark.parametrize("endpoint", ["mutate", "validate"])
@pytest.mark.parametrize(
    ("kind", "resource", "sub_resource", "what"),
    [
        (("", "v1", "Pod"), ("", "v1", "pods"), "", "core/v1 Pod"),
        (
            ("inference.networking.k8s.io", "v1alpha2", "InferencePool"),
            ("inference.networking.k8s.io", "v1alpha2", "inferencepools"),
            "",
            "inference.networking.k8s.io/v1alpha2 InferencePool",
        ),
        (
            ("inference.networking.k8s.io", "v1", "InferencePool"),
            ("inference.networking.k8s.io", "v1", "inferencepools/scale"),
            "",
            "inference.networking.k8s.io/v1 inferencepools/scale",
        ),
        (
            ("inference.networking.k8s.io", "v1", "InferencePool"),
            ("inference.networking.k8s.io", "v1", "inferencepools"),
            "scale",
            "subresource 'scale' of inferencepools",
        ),
    ],
)
def test_a_review_for_something_else_is_denied_as_misdirected(
    endpoint: Endpoint,
    kind: tuple[str, str, str],
    resource: tuple[str, str, str],
    sub_resource: str,
    what: str,
) -> None:
    doc = review(pool(), sub_resource=sub_resource)
    doc["request"]["kind"] = dict(zip(("group", "version", "kind"), kind, strict=True))
    doc["request"]["resource"] = dict(zip(("group", "version", "resource"), resource, strict=True))
    assert answer(doc, endpoint) == denied(
        {
            "metadata": {},
            "status": "Failure",
            "code": 400,
            "reason": "BadRequest",
            "message": "this webhook admits inference.networking.k8s.io/v1 InferencePool and its"
            f" status only, not {what}: check the rules of the webhook configuration",
        }
    )


@pytest.mark.parametrize("endpoint", ["mutate", "validate"])
@pytest.mark.parametrize(("obj", "shown"), [(None, "null"), ("pool", "str"), ([1], "list")])
def test_a_create_whose_object_is_not_an_object_is_denied(
    endpoint: Endpoint, obj: Any, shown: str
) -> None:
    assert answer(review(obj), endpoint) == denied(
        {
            "metadata": {},
            "status": "Failure",
            "code": 400,
            "reason": "BadRequest",
            "message": f"request.object must be an InferencePool object, not {shown}",
        }
    )


def test_a_review_with_nulls_and_without_kind_or_resource_is_still_decided() -> None:
    doc = review(pool(targetPortNumber=0))
    request = doc["request"]
    del request["kind"], request["resource"]
    request.update(name=None, namespace=None, subResource=None, dryRun=None, userInfo=None)
    del request["userInfo"]
    causes = answer(doc, "validate")["response"]["status"]["details"]["causes"]
    assert [c["field"] for c in causes] == ["spec.targetPortNumber"]


def test_warnings_come_with_an_allowed_pool() -> None:
    obj = pool(selector={}, extensionRef=extension_ref(kind="HTTPRoute", portNumber=80), extra=1)
    assert answer(review(obj), "validate") == allowed(
        warnings=[
            "spec.selector is empty: it selects every Pod in the namespace",
            'spec.extensionRef.portNumber is set but kind is "HTTPRoute": a port is only used with kind Service',
            'unknown field "spec.extra"',
        ]
    )


def test_a_top_level_field_the_schema_does_not_know_is_warned_about() -> None:
    obj = pool()
    obj["sepc"] = {"targetPortNumber": 1}
    assert answer(review(obj), "validate") == allowed(warnings=['unknown field "sepc"'])


def test_a_pool_without_spec_is_allowed_with_a_warning() -> None:
    obj = pool()
    del obj["spec"]
    assert answer(review(obj), "validate") == allowed(
        warnings=["spec is missing: the pool selects no Pods and names no endpoint picker"]
    )


def test_warnings_come_with_a_denial_too() -> None:
    result = answer(review(pool(selector={}, targetPortNumber=0)), "validate")
    assert result["response"]["warnings"] == [
        "spec.selector is empty: it selects every Pod in the namespace"
    ]


def test_a_status_write_warns_about_the_leftover_placeholder_parent() -> None:
    obj = pool()
    placeholder = parent("default", kind="Status")
    obj["status"] = {"parent": [placeholder, parent("gw")], "extra": {}}
    result = answer(review(obj, "UPDATE", old=obj, sub_resource="status"), "validate")
    assert result == allowed(
        warnings=[
            "status.parent still lists the placeholder parent (kind Status, name default) next to real parents: the controller should remove it",
            'unknown field "status.extra"',
        ]
    )
    obj["status"] = {"parent": [placeholder]}
    assert answer(review(obj, "UPDATE", old=obj, sub_resource="status"), "validate") == allowed()


def test_warnings_are_cut_to_what_the_api_server_keeps() -> None:
    obj = pool(**{f"field{'x' * 300}{i}": 1 for i in range(40)})
    warnings = answer(review(obj), "validate")["response"]["warnings"]
    assert [len(w) for w in warnings] == [256] * 16
    assert warnings[0] == f'unknown field "spec.field{"x" * 300}0"'[:253] + "..."


def test_a_denial_lists_at_most_2048_causes_and_counts_the_rest() -> None:
    obj = pool(selector={f"bad~{i}": "v" for i in range(2100)})
    status = answer(review(obj), "validate")["response"]["status"]
    assert [c["message"].partition(": name part")[0] for c in status["details"]["causes"]] == [
        f'Invalid value: "bad~{i}"' for i in range(2048)
    ]
    assert status["message"].endswith(", and 52 more errors]")


def test_every_problem_of_a_full_status_is_listed() -> None:
    bad_condition = {
        "type": "-",
        "status": "Maybe",
        "observedGeneration": -1,
        "lastTransitionTime": "yesterday",
        "reason": "",
        "message": "m" * 32769,
    }
    bad_ref = {"group": "G", "kind": "-", "name": "", "namespace": "N"}
    obj = pool()
    obj["status"] = {
        "parent": [{"parentRef": bad_ref, "conditions": [bad_condition] * 8} for _ in range(32)]
    }
    causes = answer(review(obj, "UPDATE", old=pool(), sub_resource="status"), "validate")[
        "response"
    ]["status"]["details"]["causes"]
    # 4 reference fields, 8 conditions of 6 fields, 7 duplicate types: 59 a parent.
    assert len(causes) == 32 * 59
    assert [c["field"] for c in causes[:12]] == [
        "status.parent[0].parentRef.group",
        "status.parent[0].parentRef.kind",
        "status.parent[0].parentRef.name",
        "status.parent[0].parentRef.namespace",
        "status.parent[0].conditions[0].type",
        "status.parent[0].conditions[0].status",
        "status.parent[0].conditions[0].observedGeneration",
        "status.parent[0].conditions[0].lastTransitionTime",
        "status.parent[0].conditions[0].reason",
        "status.parent[0].conditions[0].message",
        "status.parent[0].conditions[1].type",
        "status.parent[0].conditions[1].status",
    ]


def test_the_patch_applies_to_the_exact_object_received() -> None:
    obj = pool(extensionRef={"name": "epp", "unknown": {"a/b": "~"}})
    obj["metadata"]["annotations"] = {"example.com/x~y": "z"}
    result = answer(review(obj), "mutate")
    patched = jsonpatch.apply_patch(obj, patch_of(result))
    assert patched["spec"]["extensionRef"] == {
        "name": "epp",
        "unknown": {"a/b": "~"},
        "group": "",
        "kind": "Service",
        "portNumber": 9002,
        "failureMode": "FailClose",
    }
    assert patched["metadata"] == obj["metadata"]


def nested(levels: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(levels):
        value = {"a": [value]}
    return value


@pytest.mark.parametrize("levels", [3, 600])
@pytest.mark.parametrize(
    ("leaf", "other", "same"),
    [(1, 1, True), (1, True, False), (1, 1.0, False), ("1", 1, False), (1, 2, False)],
)
def test_a_part_is_unchanged_only_if_it_is_the_same_json_at_any_depth(
    levels: int, leaf: Any, other: Any, same: bool
) -> None:
    # 600 levels is past what orjson writes, so the comparison walks instead.
    old, new = pool(), pool()
    old["spec"]["x"], new["spec"]["x"] = nested(levels, leaf), nested(levels, other)
    assert unchanged(new, old, "spec") is same
