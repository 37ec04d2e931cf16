from typing import Any

import pytest

from tests.pools import VALID_LABEL_KEYS, condition, extension_ref, parent, pool
from webhook.validation import validate_pool, validate_spec, validate_status

KIND_RULE = (
    "a kind must start with a letter and hold only letters, digits and '-'"
    " (regex used for validation is '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$')"
)
GROUP_RULE = (
    "a group must be empty or a lowercase RFC 1123 subdomain (regex used for validation is"
    " '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')"
)
NAMESPACE_RULE = (
    "a namespace must be a lowercase RFC 1123 label"
    " (regex used for validation is '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')"
)
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or"
    " '.', and must start and end with an alphanumeric character"
    " (regex used for validation is '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')"
)
NAME_PART_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and"
    " end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex"
    " used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
REASON_RULE = (
    "a reason must start with a letter and hold only letters, digits, '_', ',' and ':', ending"
    " with a letter, digit or '_' (regex used for validation is"
    " '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$')"
)
TIME_RULE = 'must be an RFC 3339 date-time such as "2006-01-02T15:04:05Z"'
PORT_RANGE = "must be between 1 and 65535, inclusive"


def messages(obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate_pool(obj)]


def with_status(*parents: Any) -> dict[str, Any]:
    obj = pool()
    obj["status"] = {"parent": list(parents)}
    return obj


def test_a_complete_pool_is_valid() -> None:
    assert messages(pool()) == []


def test_a_pool_without_defaults_is_valid() -> None:
    # Defaulted fields may be absent: the mutating webhook or the CRD fills them.
    assert messages(pool(extensionRef={"name": "epp"})) == []


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (1, []),
        (65535, []),
        (8000.0, []),
        (0, [f"spec.targetPortNumber: Invalid value: 0: {PORT_RANGE}"]),
        (65536, [f"spec.targetPortNumber: Invalid value: 65536: {PORT_RANGE}"]),
        (-1, [f"spec.targetPortNumber: Invalid value: -1: {PORT_RANGE}"]),
        (2**70, [f"spec.targetPortNumber: Invalid value: {2**70}: {PORT_RANGE}"]),
        (65536.0, [f"spec.targetPortNumber: Invalid value: 65536: {PORT_RANGE}"]),
        (True, ['spec.targetPortNumber: Invalid value: "boolean": must be of type integer']),
        (8000.5, ['spec.targetPortNumber: Invalid value: "number": must be of type integer']),
        (float("nan"), ['spec.targetPortNumber: Invalid value: "number": must be of type integer']),
        (float("inf"), ['spec.targetPortNumber: Invalid value: "number": must be of type integer']),
        ("8000", ['spec.targetPortNumber: Invalid value: "string": must be of type integer']),
        ([8000], ['spec.targetPortNumber: Invalid value: "array": must be of type integer']),
        (None, ["spec.targetPortNumber: Required value"]),
    ],
)
def test_target_port_number_must_be_a_port(port: Any, expected: list[str]) -> None:
    assert messages(pool(targetPortNumber=port)) == expected


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (1, []),
        (65535, []),
        (None, []),
        (0, [f"spec.extensionRef.portNumber: Invalid value: 0: {PORT_RANGE}"]),
        (65536, [f"spec.extensionRef.portNumber: Invalid value: 65536: {PORT_RANGE}"]),
        (
            False,
            ['spec.extensionRef.portNumber: Invalid value: "boolean": must be of type integer'],
        ),
    ],
)
def test_extension_port_number_must_be_a_port(port: Any, expected: list[str]) -> None:
    assert messages(pool(extensionRef=extension_ref(portNumber=port))) == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("Service", []),
        ("HTTPRoute", []),
        ("a", []),
        ("K" * 63, []),
        ("x-1", []),
        ("K" * 64, ["spec.extensionRef.kind: Too long: may not be more than 63 characters"]),
        ("", ['spec.extensionRef.kind: Invalid value: "": must be at least 1 characters']),
        ("invalid/kind", [f'spec.extensionRef.kind: Invalid value: "invalid/kind": {KIND_RULE}']),
        ("Service\n", [f'spec.extensionRef.kind: Invalid value: "Service\\n": {KIND_RULE}']),
        ("1Service", [f'spec.extensionRef.kind: Invalid value: "1Service": {KIND_RULE}']),
        ("Service-", [f'spec.extensionRef.kind: Invalid value: "Service-": {KIND_RULE}']),
        ("Sérvice", [f'spec.extensionRef.kind: Invalid value: "Sérvice": {KIND_RULE}']),
        (7, ['spec.extensionRef.kind: Invalid value: "integer": must be of type string']),
    ],
)
def test_extension_kind_is_a_kubernetes_kind(kind: Any, expected: list[str]) -> None:
    assert messages(pool(extensionRef=extension_ref(kind=kind))) == expected


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("", []),
        ("gateway.networking.k8s.io", []),
        ("foo.example.com", []),
        ("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61, []),
        ("a" * 254, ["spec.extensionRef.group: Too long: may not be more than 253 characters"]),
        (
            "example.com/bar",
            [f'spec.extensionRef.group: Invalid value: "example.com/bar": {GROUP_RULE}'],
        ),
        ("Example.com", [f'spec.extensionRef.group: Invalid value: "Example.com": {GROUP_RULE}']),
        (
            "example.com\n",
            [f'spec.extensionRef.group: Invalid value: "example.com\\n": {GROUP_RULE}'],
        ),
    ],
)
def test_extension_group_is_empty_or_a_subdomain(group: str, expected: list[str]) -> None:
    assert messages(pool(extensionRef=extension_ref(group=group))) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("e", []),
        ("n" * 253, []),
        ("é" * 253, []),
        ("any name: no pattern!", []),
        ("n" * 254, ["spec.extensionRef.name: Too long: may not be more than 253 characters"]),
        ("é" * 254, ["spec.extensionRef.name: Too long: may not be more than 253 characters"]),
        ("", ['spec.extensionRef.name: Invalid value: "": must be at least 1 characters']),
        (None, ["spec.extensionRef.name: Required value"]),
    ],
)
def test_extension_name_is_one_to_253_characters(name: Any, expected: list[str]) -> None:
    assert messages(pool(extensionRef=extension_ref(name=name))) == expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("FailOpen", []),
        ("FailClose", []),
        (
            "failClose",
            [
                'spec.extensionRef.failureMode: Unsupported value: "failClose": supported values:'
                ' "FailOpen", "FailClose"'
            ],
        ),
        (
            "FailClose\n",
            [
                'spec.extensionRef.failureMode: Unsupported value: "FailClose\\n": supported'
                ' values: "FailOpen", "FailClose"'
            ],
        ),
        (
            "",
            [
                'spec.extensionRef.failureMode: Unsupported value: "": supported values:'
                ' "FailOpen", "FailClose"'
            ],
        ),
    ],
)
def test_failure_mode_is_one_of_two_exact_values(mode: str, expected: list[str]) -> None:
    assert messages(pool(extensionRef=extension_ref(failureMode=mode))) == expected


@pytest.mark.parametrize(
    "key",
    [
        *VALID_LABEL_KEYS,
        "k" * 63,
        "p" * 189 + "/" + "n" * 63,
    ],
)
def test_selector_keys_that_are_qualified_names_are_valid(key: str) -> None:
    assert messages(pool(selector={key: "v"})) == []


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("example~", [f'spec.selector: Invalid value: "example~": {NAME_PART_RULE}']),
        ("example.com.", [f'spec.selector: Invalid value: "example.com.": {NAME_PART_RULE}']),
        ("app\n", [f'spec.selector: Invalid value: "app\\n": {NAME_PART_RULE}']),
        (
            "k" * 64,
            [
                f'spec.selector: Invalid value: "{"k" * 64}": name part must be no more than 63 characters'
            ],
        ),
        (
            "p" * 190 + "/" + "n" * 63,
            [
                f'spec.selector: Invalid value: "{("p" * 190 + "/" + "n" * 63)[:127]}...:'
                " must be no more than 253 characters"
            ],
        ),
        ("", ['spec.selector: Invalid value: "": must be at least 1 characters']),
        (
            "a\\xb/c",
            [
                'spec.selector: Invalid value: "a\\\\xb/c": prefix part a lowercase RFC 1123 subdomain'
                " must consist of lower case alphanumeric characters, '-' or '.', and must start and"
                " end with an alphanumeric character (e.g. 'example.com', regex used for validation"
                " is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ],
        ),
    ],
)
def test_selector_keys_that_are_not_qualified_names_are_reported_on_the_selector(
    key: str, expected: list[str]
) -> None:
    assert messages(pool(selector={key: "v"})) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("MyValue", []),
        ("my.name", []),
        ("123-my-value", []),
        ("", []),
        ("v" * 63, []),
        ("v" * 64, ["spec.selector[app]: Too long: may not be more than 63 characters"]),
        ("-v", [f'spec.selector[app]: Invalid value: "-v": {VALUE_RULE}']),
        ("v\n", [f'spec.selector[app]: Invalid value: "v\\n": {VALUE_RULE}']),
        ("a b", [f'spec.selector[app]: Invalid value: "a b": {VALUE_RULE}']),
        (3, ['spec.selector[app]: Invalid value: "integer": must be of type string']),
        (None, ['spec.selector[app]: Invalid value: "null": must be of type string']),
    ],
)
def test_selector_values_are_label_values(value: Any, expected: list[str]) -> None:
    assert messages(pool(selector={"app": value})) == expected


def test_selector_value_errors_name_prefixed_keys_in_brackets() -> None:
    assert messages(pool(selector={"app.kubernetes.io/name": "-x"})) == [
        f'spec.selector[app.kubernetes.io/name]: Invalid value: "-x": {VALUE_RULE}'
    ]


def test_an_empty_selector_is_valid() -> None:
    assert messages(pool(selector={})) == []


@pytest.mark.parametrize(
    ("spec_field", "value", "expected"),
    [
        ("selector", None, ["spec.selector: Required value"]),
        ("selector", ["app"], ['spec.selector: Invalid value: "array": must be of type object']),
        ("extensionRef", None, ["spec.extensionRef: Required value"]),
        (
            "extensionRef",
            "epp",
            ['spec.extensionRef: Invalid value: "string": must be of type object'],
        ),
    ],
)
def test_required_spec_fields_and_their_types(
    spec_field: str, value: Any, expected: list[str]
) -> None:
    assert messages(pool(**{spec_field: value})) == expected


def test_a_missing_spec_field_and_a_null_one_are_both_required() -> None:
    obj = pool()
    del obj["spec"]["selector"]
    obj["spec"]["targetPortNumber"] = None
    assert messages(obj) == [
        "spec.selector: Required value",
        "spec.targetPortNumber: Required value",
    ]


def test_every_problem_is_reported_not_just_the_first() -> None:
    obj = pool(
        selector={"example~": "ok", "app": "-bad"},
        targetPortNumber=0,
        extensionRef={"kind": "", "failureMode": "failclose", "portNumber": 70000},
    )
    assert messages(obj) == [
        f'spec.selector: Invalid value: "example~": {NAME_PART_RULE}',
        f'spec.selector[app]: Invalid value: "-bad": {VALUE_RULE}',
        f"spec.targetPortNumber: Invalid value: 0: {PORT_RANGE}",
        "spec.extensionRef.name: Required value",
        'spec.extensionRef.kind: Invalid value: "": must be at least 1 characters',
        f"spec.extensionRef.portNumber: Invalid value: 70000: {PORT_RANGE}",
        'spec.extensionRef.failureMode: Unsupported value: "failclose": supported values:'
        ' "FailOpen", "FailClose"',
    ]


def test_a_spec_that_is_not_an_object_is_a_type_error() -> None:
    obj = pool()
    obj["spec"] = "x"
    assert messages(obj) == ['spec: Invalid value: "string": must be of type object']


def test_a_pool_without_spec_has_no_spec_errors() -> None:
    obj = pool()
    del obj["spec"]
    assert (messages(obj), validate_spec(obj)) == ([], [])


# --- status ------------------------------------------------------------------


def test_32_parents_are_allowed_and_33_are_too_many() -> None:
    parents = [parent(f"g{i}") for i in range(33)]
    assert messages(with_status(*parents[:32])) == []
    assert messages(with_status(*parents)) == [
        "status.parent: Too many: 33: must have at most 32 items"
    ]


def test_8_conditions_are_allowed_and_9_are_too_many() -> None:
    conditions = [condition(type=f"Type{i}") for i in range(9)]
    eight = parent()
    eight["conditions"] = conditions[:8]
    nine = parent()
    nine["conditions"] = conditions
    assert messages(with_status(eight)) == []
    assert messages(with_status(nine)) == [
        "status.parent[0].conditions: Too many: 9: must have at most 8 items"
    ]


def test_condition_types_must_be_unique_within_a_parent() -> None:
    p = parent()
    p["conditions"] = [condition(), condition(type="ResolvedRefs"), condition()]
    assert messages(with_status(p, parent("other"))) == [
        'status.parent[0].conditions[2].type: Duplicate value: "Accepted"'
    ]


def test_a_parent_needs_a_parent_ref_with_a_name() -> None:
    assert messages(with_status({"conditions": []}, {"parentRef": {"kind": "Gateway"}})) == [
        "status.parent[0].parentRef: Required value",
        "status.parent[1].parentRef.name: Required value",
    ]


def test_parent_ref_fields_follow_the_reference() -> None:
    bad = parent("", group="Gateway.Networking", kind="Gate way", namespace="example.com")
    assert messages(with_status(bad)) == [
        'status.parent[0].parentRef.group: Invalid value: "Gateway.Networking": ' + GROUP_RULE,
        f'status.parent[0].parentRef.kind: Invalid value: "Gate way": {KIND_RULE}',
        'status.parent[0].parentRef.name: Invalid value: "": must be at least 1 characters',
        f'status.parent[0].parentRef.namespace: Invalid value: "example.com": {NAMESPACE_RULE}',
    ]


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        ("example", []),
        ("n" * 63, []),
        (
            "n" * 64,
            ["status.parent[0].parentRef.namespace: Too long: may not be more than 63 characters"],
        ),
        (
            "",
            [
                'status.parent[0].parentRef.namespace: Invalid value: "": must be at least 1 characters'
            ],
        ),
    ],
)
def test_parent_namespace_is_a_label(namespace: str, expected: list[str]) -> None:
    assert messages(with_status(parent(namespace=namespace))) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, []),
        ({"type": "example.com/Ready", "observedGeneration": 0}, []),
        ({"reason": "R" * 1024, "message": "m" * 32768}, []),
        ({"type": "T" * 316}, []),
        ({"type": "Ready?"}, ['status.parent[0].conditions[0].type: Invalid value: "Ready?": a condition type must be a qualified name such as \'Accepted\' or \'example.com/Ready\' (regex used for validation is \'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$\')']),
        ({"type": "T" * 317}, ["status.parent[0].conditions[0].type: Too long: may not be more than 316 characters"]),
        ({"status": "Yes"}, ['status.parent[0].conditions[0].status: Unsupported value: "Yes": supported values: "True", "False", "Unknown"']),
        ({"reason": "R" * 1025}, ["status.parent[0].conditions[0].reason: Too long: may not be more than 1024 characters"]),
        ({"reason": ""}, ['status.parent[0].conditions[0].reason: Invalid value: "": must be at least 1 characters']),
        ({"reason": "Not ready"}, [f'status.parent[0].conditions[0].reason: Invalid value: "Not ready": {REASON_RULE}']),
        ({"message": "m" * 32769}, ["status.parent[0].conditions[0].message: Too long: may not be more than 32768 characters"]),
        ({"message": ""}, []),
        ({"lastTransitionTime": "2026-02-30T00:00:00Z"}, [f'status.parent[0].conditions[0].lastTransitionTime: Invalid value: "2026-02-30T00:00:00Z": {TIME_RULE}']),
        ({"lastTransitionTime": 0}, ['status.parent[0].conditions[0].lastTransitionTime: Invalid value: "integer": must be of type string']),
        ({"observedGeneration": -1}, ["status.parent[0].conditions[0].observedGeneration: Invalid value: -1: must be greater than or equal to 0"]),
        ({"observedGeneration": 2**63}, [f"status.parent[0].conditions[0].observedGeneration: Invalid value: {2**63}: must be less than or equal to 9223372036854775807"]),
        ({"type": None, "status": None, "reason": None, "message": None, "lastTransitionTime": None}, [
            "status.parent[0].conditions[0].type: Required value",
            "status.parent[0].conditions[0].status: Required value",
            "status.parent[0].conditions[0].lastTransitionTime: Required value",
            "status.parent[0].conditions[0].reason: Required value",
            "status.parent[0].conditions[0].message: Required value",
        ]),
    ],
)  # fmt: skip
def test_conditions_follow_metav1_condition(fields: dict[str, Any], expected: list[str]) -> None:
    p = parent()
    p["conditions"] = [condition(**fields)]
    assert messages(with_status(p)) == expected


def test_status_of_the_wrong_shape_is_a_type_error() -> None:
    assert messages(with_status("gateway", None)) == [
        'status.parent[0]: Invalid value: "string": must be of type object',
        'status.parent[1]: Invalid value: "null": must be of type object',
    ]
    obj = pool()
    obj["status"] = {"parent": {"parentRef": {}}}
    assert messages(obj) == ['status.parent: Invalid value: "object": must be of type array']


def test_spec_and_status_are_validated_apart() -> None:
    obj = with_status(*[parent(f"g{i}") for i in range(33)])
    obj["spec"]["targetPortNumber"] = 0
    assert [str(e) for e in validate_spec(obj)] == [
        f"spec.targetPortNumber: Invalid value: 0: {PORT_RANGE}"
    ]
    assert [str(e) for e in validate_status(obj)] == [
        "status.parent: Too many: 33: must have at most 32 items"
    ]


def test_error_fields_and_types_are_those_of_kubernetes_causes() -> None:
    obj = pool(targetPortNumber="80", selector={"bad~": "v"}, extensionRef={})
    assert [(e.type.cause, e.field, e.message) for e in validate_pool(obj)] == [
        (
            "FieldValueInvalid",
            "spec.selector",
            f'Invalid value: "bad~": {NAME_PART_RULE}',
        ),
        (
            "FieldValueTypeInvalid",
            "spec.targetPortNumber",
            'Invalid value: "string": must be of type integer',
        ),
        ("FieldValueRequired", "spec.extensionRef.name", "Required value"),
    ]
