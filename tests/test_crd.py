"""The InferencePool CRD: its identity, that its schema is structural, and that it agrees with the webhook.

kube-apiserver validates a pool against the CRD's OpenAPI schema before the
validating webhook sees it, so the two must give the same verdict on every
rule a schema can express. The schema is evaluated here with a JSON-schema
validator that matches patterns the way the API server does (RE2, where ``$``
is the end of the text) and enforces list-map keys, and each verdict is held
against the webhook's own decision on the same object.
"""

import base64
import copy
import datetime
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonpatch
import jsonschema
import pytest
import re2  # type: ignore[import-untyped]
import yaml

from tests.kustomize import MANIFESTS
from tests.pools import PENDING_STATUS, VALID_LABEL_KEYS
from webhook import review, schema
from webhook.admission import AdmissionResponse

CRD = yaml.safe_load((MANIFESTS / "crd" / "inferencepools.yaml").read_text())
(VERSION,) = CRD["spec"]["versions"]
SCHEMA: dict[str, Any] = VERSION["schema"]["openAPIV3Schema"]

Pool = dict[str, Any]


# --- a JSON-schema validator with the API server's semantics -----------------


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if isinstance(instance, str) and re2.search(pattern, instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _list_map_keys(validator: Any, keys: list[str], instance: Any, schema: Any) -> Iterator[Any]:
    if not isinstance(instance, list):
        return
    seen = [tuple(item.get(k) for k in keys) for item in instance if isinstance(item, dict)]
    if len(seen) != len(set(seen)):
        yield jsonschema.ValidationError(f"duplicate entries for list-map keys {keys}")


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _RFC3339.fullmatch(value) is None:
        return False
    datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


# Draft 7 for its integer type, which, like the API server, takes 8000.0 as
# an integer; the OpenAPI keywords used by CRDs mean the same there.
CRDValidator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft7Validator,
    validators={"pattern": _pattern, "x-kubernetes-list-map-keys": _list_map_keys},
)


def crd_accepts(pool: Pool) -> bool:
    return bool(CRDValidator(SCHEMA, format_checker=FORMATS).is_valid(pool))


# --- the webhook's decision ------------------------------------------------


def engine(pool: Pool, endpoint: review.Endpoint) -> AdmissionResponse:
    """The webhook's decision on ``pool``, asked as kube-apiserver asks.

    A pool with a status comes as an update of the status subresource from a
    valid pool; any other as a create of the pool.
    """
    status_write = "status" in pool
    request = {
        "uid": "0d1f2a3b-0000-4000-8000-000000000000",
        "kind": {"group": "inference.networking.k8s.io", "version": "v1", "kind": "InferencePool"},
        "resource": {
            "group": "inference.networking.k8s.io",
            "version": "v1",
            "resource": "inferencepools",
        },
        "subResource": "status" if status_write else "",
        "name": pool.get("metadata", {}).get("name", ""),
        "namespace": "default",
        "operation": "UPDATE" if status_write else "CREATE",
        "userInfo": {"username": "kubernetes-admin"},
        "object": pool,
        "oldObject": valid_pool() if status_write else None,
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return review.decide(review.parse_review(json.dumps(body).encode()), endpoint)


def engine_fields(pool: Pool) -> list[str]:
    """The fields the validating webhook names for ``pool``; empty when it admits it."""
    response = engine(pool, "validate")
    if response.allowed:
        return []
    assert response.status is not None and response.status.details is not None
    return [cause.field for cause in response.status.details.causes]


def engine_defaulted(pool: Pool) -> Pool:
    """``pool`` with the mutating webhook's patch applied."""
    response = engine(pool, "mutate")
    assert response.allowed, response
    if response.patch is None:
        return pool
    patched: Pool = jsonpatch.apply_patch(pool, json.loads(base64.b64decode(response.patch)))
    return patched


def crd_defaulted(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with the schema's defaults filled, as kube-apiserver fills them.

    Defaults go into absent properties of objects that exist, and apply again
    inside a default just inserted.
    """
    if isinstance(value, dict) and "properties" in schema:
        out = dict(value)
        for name, child in schema["properties"].items():
            if name not in out and "default" in child:
                out[name] = copy.deepcopy(child["default"])
            if name in out:
                out[name] = crd_defaulted(out[name], child)
        return out
    if isinstance(value, list) and "items" in schema:
        return [crd_defaulted(item, schema["items"]) for item in value]
    return value


# --- the table -------------------------------------------------------------


def valid_pool() -> Pool:
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {"name": "pool", "namespace": "default"},
        "spec": {
            "selector": {"app": "vllm"},
            "targetPortNumber": 8000,
            "extensionRef": {"name": "epp"},
        },
    }


def condition(**fields: Any) -> dict[str, Any]:
    return {
        "type": "Accepted",
        "status": "True",
        "reason": "Accepted",
        "message": "",
        "lastTransitionTime": "2025-01-01T00:00:00Z",
        **fields,
    }


def parent(**fields: Any) -> dict[str, Any]:
    return {"parentRef": {"name": "gateway"}, "conditions": [condition()], **fields}


def with_spec(**fields: Any) -> Pool:
    pool = valid_pool()
    for name, value in fields.items():
        if value is ...:
            del pool["spec"][name]
        else:
            pool["spec"][name] = value
    return pool


def with_ref(**fields: Any) -> Pool:
    pool = valid_pool()
    for name, value in fields.items():
        if value is ...:
            del pool["spec"]["extensionRef"][name]
        else:
            pool["spec"]["extensionRef"][name] = value
    return pool


def with_status(*parents: dict[str, Any]) -> Pool:
    pool = valid_pool()
    pool["status"] = {"parent": list(parents)}
    return pool


# (what, pool, the one field both must reject, or None when both accept)
AGREEMENT: list[tuple[str, Pool, str | None]] = [
    ("a minimal pool", valid_pool(), None),
    (
        "every extensionRef field set",
        with_ref(group="", kind="Service", portNumber=9002, failureMode="FailOpen"),
        None,
    ),
    ("an integer written as 8000.0", with_spec(targetPortNumber=8000.0), None),
    ("the highest port", with_spec(targetPortNumber=65535), None),
    ("port 0", with_spec(targetPortNumber=0), "spec.targetPortNumber"),
    ("port 65536", with_spec(targetPortNumber=65536), "spec.targetPortNumber"),
    ("a port written as a string", with_spec(targetPortNumber="8000"), "spec.targetPortNumber"),
    ("no selector", with_spec(selector=...), "spec.selector"),
    ("no targetPortNumber", with_spec(targetPortNumber=...), "spec.targetPortNumber"),
    ("no extensionRef", with_spec(extensionRef=...), "spec.extensionRef"),
    ("no extensionRef name", with_ref(name=...), "spec.extensionRef.name"),
    ("an empty extensionRef name", with_ref(name=""), "spec.extensionRef.name"),
    ("a name of 253 characters", with_ref(name="é" * 253), None),
    ("a name of 254 characters", with_ref(name="n" * 254), "spec.extensionRef.name"),
    ("a group of the API reference", with_ref(group="gateway.networking.k8s.io"), None),
    ("a group with a slash", with_ref(group="example.com/bar"), "spec.extensionRef.group"),
    ("a group in upper case", with_ref(group="Example.com"), "spec.extensionRef.group"),
    ("a group of 254 characters", with_ref(group="a" * 254), "spec.extensionRef.group"),
    ("kind HTTPRoute", with_ref(kind="HTTPRoute"), None),
    ("an empty kind", with_ref(kind=""), "spec.extensionRef.kind"),
    ("a kind with a slash", with_ref(kind="invalid/kind"), "spec.extensionRef.kind"),
    ("a kind with a trailing newline", with_ref(kind="Service\n"), "spec.extensionRef.kind"),
    ("a kind of 64 characters", with_ref(kind="K" * 64), "spec.extensionRef.kind"),
    ("port number 0", with_ref(portNumber=0), "spec.extensionRef.portNumber"),
    (
        "failure mode in lower case",
        with_ref(failureMode="failclose"),
        "spec.extensionRef.failureMode",
    ),
    (
        "label values of the API reference",
        with_spec(selector={"a": "MyValue", "b": "my.name", "c": "123-my-value", "d": ""}),
        None,
    ),
    ("a label value starting with a dash", with_spec(selector={"app": "-v"}), "spec.selector[app]"),
    ("a label value with a newline", with_spec(selector={"app": "v\n"}), "spec.selector[app]"),
    ("a label value of 64 characters", with_spec(selector={"app": "v" * 64}), "spec.selector[app]"),
    ("a label value that is a number", with_spec(selector={"app": 3}), "spec.selector[app]"),
    ("a selector that is a list", with_spec(selector=["app"]), "spec.selector"),
    ("a status with a parent", with_status(parent()), None),
    (
        "a fully described parent",
        with_status(
            parent(
                parentRef={"group": "", "kind": "Gateway", "name": "gw", "namespace": "infra"},
                conditions=[condition(observedGeneration=3), condition(type="example.com/Ready")],
            )
        ),
        None,
    ),
    ("32 parents", with_status(*[parent()] * 32), None),
    ("33 parents", with_status(*[parent()] * 33), "status.parent"),
    (
        "a parent without parentRef",
        with_status({"conditions": [condition()]}),
        "status.parent[0].parentRef",
    ),
    (
        "a parentRef without name",
        with_status(parent(parentRef={"kind": "Gateway"})),
        "status.parent[0].parentRef.name",
    ),
    (
        "a parent namespace with a dot",
        with_status(parent(parentRef={"name": "g", "namespace": "example.com"})),
        "status.parent[0].parentRef.namespace",
    ),
    (
        "9 conditions",
        with_status(parent(conditions=[condition(type=f"T{i}") for i in range(9)])),
        "status.parent[0].conditions",
    ),
    (
        "two conditions of one type",
        with_status(parent(conditions=[condition(), condition()])),
        "status.parent[0].conditions[1].type",
    ),
    (
        "a condition status Maybe",
        with_status(parent(conditions=[condition(status="Maybe")])),
        "status.parent[0].conditions[0].status",
    ),
    (
        "an empty reason",
        with_status(parent(conditions=[condition(reason="")])),
        "status.parent[0].conditions[0].reason",
    ),
    (
        "a reason starting with a digit",
        with_status(parent(conditions=[condition(reason="1Bad")])),
        "status.parent[0].conditions[0].reason",
    ),
    (
        "a time that is not RFC 3339",
        with_status(parent(conditions=[condition(lastTransitionTime="yesterday")])),
        "status.parent[0].conditions[0].lastTransitionTime",
    ),
    (
        "a negative observedGeneration",
        with_status(parent(conditions=[condition(observedGeneration=-1)])),
        "status.parent[0].conditions[0].observedGeneration",
    ),
    (
        "a message over 32768 characters",
        with_status(parent(conditions=[condition(message="m" * 32769)])),
        "status.parent[0].conditions[0].message",
    ),
    (
        "a condition type of 317 characters",
        with_status(parent(conditions=[condition(type="T" * 317)])),
        "status.parent[0].conditions[0].type",
    ),
    (
        "a condition without a message",
        with_status(parent(conditions=[{k: v for k, v in condition().items() if k != "message"}])),
        "status.parent[0].conditions[0].message",
    ),
]


@pytest.mark.parametrize(
    ("pool", "field"), [(p, f) for _, p, f in AGREEMENT], ids=[w for w, _, _ in AGREEMENT]
)
def test_the_crd_schema_and_the_webhook_give_the_same_verdict(
    pool: Pool, field: str | None
) -> None:
    expected = [] if field is None else [field]
    assert (crd_accepts(copy.deepcopy(pool)), engine_fields(pool)) == (field is None, expected)


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("example~", "spec.selector"),
        ("example.com.", "spec.selector"),
        ("a/b/c", "spec.selector"),
        ("k" * 64, "spec.selector"),
        ("Example.com/name", "spec.selector"),
    ],
)
def test_the_webhook_alone_checks_selector_keys_which_a_crd_schema_cannot_constrain(
    key: str, field: str
) -> None:
    pool = with_spec(selector={key: "v"})
    assert (crd_accepts(pool), engine_fields(pool)) == (True, [field])


@pytest.mark.parametrize("key", VALID_LABEL_KEYS)
def test_selector_keys_of_the_api_reference_pass_both(key: str) -> None:
    pool = with_spec(selector={key: "v"})
    assert (crd_accepts(pool), engine_fields(pool)) == (True, [])


# --- defaults --------------------------------------------------------------


def test_the_webhook_defaults_what_the_crd_defaults_and_the_service_port_it_cannot() -> None:
    pool = valid_pool()
    by_crd = crd_defaulted(pool, SCHEMA)
    by_crd["spec"]["extensionRef"]["portNumber"] = 9002
    assert engine_defaulted(pool) == by_crd


@pytest.mark.parametrize(
    "pool",
    [
        with_ref(kind="HTTPRoute"),
        with_ref(kind=""),
        with_ref(group="example.com", kind="Service", portNumber=9000, failureMode="FailOpen"),
    ],
    ids=["another kind", "an empty kind", "every field set"],
)
def test_the_webhook_and_the_crd_default_a_pool_alike_when_no_service_port_is_missing(
    pool: Pool,
) -> None:
    assert engine_defaulted(pool) == crd_defaulted(pool, SCHEMA)


def test_the_webhook_and_the_crd_default_a_status_alike() -> None:
    # A status write: the webhook leaves spec alone there, the schema does not.
    pool = with_status({"parentRef": {"name": "gateway"}}, parent())
    assert engine_defaulted(pool)["status"] == crd_defaulted(pool, SCHEMA)["status"]


# --- field by field --------------------------------------------------------

# The keywords that constrain or default a value; descriptions and list types
# say nothing the webhook enforces.
KEYWORDS = (
    "type",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
    "format",
    "minimum",
    "maximum",
    "required",
    "maxItems",
    "x-kubernetes-list-map-keys",
    "default",
)
INT64_MAX = 2**63 - 1


def rules_of_schema(
    rule: schema.Rule, path: str, default: Any = schema.NO_DEFAULT
) -> dict[str, Any]:
    """What the webhook's schema says of every field, in the CRD's keywords."""
    node: dict[str, Any] = {} if default is schema.NO_DEFAULT else {"default": default}
    children: dict[str, Any] = {}
    if isinstance(rule, schema.String):
        node |= {"type": "string", "minLength": rule.min_length, "maxLength": rule.max_length}
        node |= {"pattern": rule.pattern, "format": rule.format}
        node |= {"enum": list(rule.enum) if rule.enum else None}
    elif isinstance(rule, schema.Integer):
        node |= {"type": "integer", "minimum": rule.minimum, "format": rule.format}
        # int64's own range needs no maximum in a schema.
        node |= {"maximum": None if rule.maximum == INT64_MAX else rule.maximum}
    elif isinstance(rule, schema.Object):
        node |= {"type": "object", "required": sorted(rule.required)}
        for name, prop in rule.properties.items():
            # A default that depends on a sibling is the mutating webhook's alone.
            inherited = prop.default if prop.default_when is None else schema.NO_DEFAULT
            children |= rules_of_schema(prop.rule, _child(path, name), inherited)
    elif isinstance(rule, schema.Array):
        keys = [rule.unique_by] if rule.unique_by else None
        node |= {"type": "array", "maxItems": rule.max_items, "x-kubernetes-list-map-keys": keys}
        children = rules_of_schema(rule.items, f"{path}[]")
    else:
        # Map keys have no place in an OpenAPI schema; the webhook checks them.
        node |= {"type": "object"}
        children = rules_of_schema(rule.values, f"{path}[*]")
    return {path: _meaningful(node)} | children


def rules_of_crd(node: dict[str, Any], path: str) -> dict[str, Any]:
    """What the CRD's schema says of every field, in the same form."""
    found = {path: _meaningful({k: node.get(k) for k in KEYWORDS})}
    if "required" in node:
        found[path]["required"] = sorted(node["required"])
    for name, child in node.get("properties", {}).items():
        found |= rules_of_crd(child, _child(path, name))
    if isinstance(node.get("additionalProperties"), dict):
        found |= rules_of_crd(node["additionalProperties"], f"{path}[*]")
    if "items" in node:
        found |= rules_of_crd(node["items"], f"{path}[]")
    return found


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _meaningful(node: dict[str, Any]) -> dict[str, Any]:
    # An absent keyword, a zero minLength and an empty required list say nothing.
    return {
        k: v
        for k, v in node.items()
        if v is not None and (k, v) not in (("minLength", 0), ("required", []))
    }


def test_the_crd_states_every_rule_and_default_of_the_webhooks_schema_field_by_field() -> None:
    assert rules_of_crd(SCHEMA, "") == rules_of_schema(schema.INFERENCE_POOL, "")


# --- the examples ----------------------------------------------------------


def example(name: str) -> Pool:
    pool: Pool = yaml.safe_load((MANIFESTS / "examples" / name).read_text())
    return pool


def test_the_example_pool_is_admitted_and_stored_with_its_defaults() -> None:
    pool = example("inferencepool.yaml")
    assert (crd_accepts(pool), engine_fields(pool), engine_defaulted(pool)["spec"]) == (
        True,
        [],
        {
            "selector": {"app": "vllm-llama3-8b-instruct"},
            "targetPortNumber": 8000,
            "extensionRef": {
                "name": "vllm-llama3-8b-instruct-epp",
                "group": "",
                "kind": "Service",
                "portNumber": 9002,
                "failureMode": "FailClose",
            },
        },
    )


def test_the_invalid_example_passes_the_schema_and_is_refused_by_the_webhook() -> None:
    pool = example("inferencepool-invalid.yaml")
    response = engine(pool, "validate")
    assert response.status is not None
    assert (crd_accepts(pool), response.allowed, response.status.message.split(": ")[:3]) == (
        True,
        False,
        [
            'InferencePool.inference.networking.k8s.io "vllm-broken" is invalid',
            "spec.selector",
            "Invalid value",
        ],
    )


# --- the CRD itself --------------------------------------------------------


def test_the_crd_serves_and_stores_namespaced_v1_inferencepools_with_a_status_subresource() -> None:
    spec = {k: v for k, v in CRD["spec"].items() if k != "versions"}
    version = {k: v for k, v in VERSION.items() if k != "schema"}
    assert (CRD["metadata"]["name"], spec, version) == (
        "inferencepools.inference.networking.k8s.io",
        {
            "group": "inference.networking.k8s.io",
            "scope": "Namespaced",
            "names": {
                "kind": "InferencePool",
                "listKind": "InferencePoolList",
                "plural": "inferencepools",
                "singular": "inferencepool",
            },
        },
        {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}},
    )


def _nodes(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")


def test_the_schema_is_structural() -> None:
    # kube-apiserver refuses a CRD whose every node does not say its type, and
    # prunes, defaults and validates only what the schema types.
    untyped = [path for path, node in _nodes(SCHEMA, "") if "type" not in node]
    metadata = SCHEMA["properties"]["metadata"]
    assert (untyped, metadata) == ([], {"type": "object"})


def test_every_default_fits_the_schema_it_is_the_default_of() -> None:
    # kube-apiserver refuses a CRD whose defaults its own schema would reject.
    misfits = [
        path
        for path, node in _nodes(SCHEMA, "")
        if "default" in node
        and not CRDValidator(
            {k: v for k, v in node.items() if k != "default"}, format_checker=FORMATS
        ).is_valid(node["default"])
    ]
    assert misfits == []


def test_an_absent_status_defaults_to_one_pending_parent() -> None:
    assert SCHEMA["properties"]["status"]["default"] == PENDING_STATUS


def test_the_validator_here_reads_patterns_as_the_api_server_does() -> None:
    # Python's re would let "Service\n" through `...$`; RE2, like Go, does not.
    kind = SCHEMA["properties"]["spec"]["properties"]["extensionRef"]["properties"]["kind"]
    validator = CRDValidator(kind, format_checker=FORMATS)
    assert [validator.is_valid(v) for v in ("Service", "Service\n")] == [True, False]
