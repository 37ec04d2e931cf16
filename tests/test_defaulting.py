import copy
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.pools import PENDING_CONDITION, PENDING_STATUS, pool
from webhook.defaulting import default_pool, pointer
from webhook.validation import validate_pool


def bare_pool(**extension: Any) -> dict[str, Any]:
    ref = {"name": "epp", **extension}
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {"name": "p", "annotations": {"a/b~c": "x"}, "managedFields": [{"f:x": {}}]},
        "spec": {"selector": {"app": "x"}, "targetPortNumber": 8000, "extensionRef": ref},
        "unknownTopLevel": {"kept": True},
    }


def apply(obj: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = jsonpatch.apply_patch(obj, patch)
    return result


def test_a_bare_pool_gets_every_default() -> None:
    assert default_pool(bare_pool()) == [
        {"op": "add", "path": "/spec/extensionRef/group", "value": ""},
        {"op": "add", "path": "/spec/extensionRef/kind", "value": "Service"},
        {"op": "add", "path": "/spec/extensionRef/portNumber", "value": 9002},
        {"op": "add", "path": "/spec/extensionRef/failureMode", "value": "FailClose"},
        {"op": "add", "path": "/status", "value": PENDING_STATUS},
    ]


def test_null_defaulted_fields_are_replaced() -> None:
    obj = bare_pool(group=None, kind=None, portNumber=None, failureMode=None)
    obj["status"] = None
    assert default_pool(obj) == [
        {"op": "replace", "path": "/spec/extensionRef/group", "value": ""},
        {"op": "replace", "path": "/spec/extensionRef/kind", "value": "Service"},
        {"op": "replace", "path": "/spec/extensionRef/portNumber", "value": 9002},
        {"op": "replace", "path": "/spec/extensionRef/failureMode", "value": "FailClose"},
        {"op": "replace", "path": "/status", "value": PENDING_STATUS},
    ]


def test_a_complete_pool_gets_no_patch() -> None:
    obj = pool()
    obj["status"] = copy.deepcopy(PENDING_STATUS)
    assert default_pool(obj) == []


def test_present_values_are_kept_even_invalid_ones() -> None:
    obj = bare_pool(group="Bad Group", kind="", failureMode="failclose", portNumber=0)
    obj["status"] = {}
    assert default_pool(obj) == []


@pytest.mark.parametrize(
    ("kind", "expected_port"),
    [("Service", [9002]), (None, [9002]), ("HTTPRoute", []), ("", []), (5, [])],
)
def test_the_port_defaults_only_for_a_service(kind: Any, expected_port: list[int]) -> None:
    obj = bare_pool(kind=kind, group="", failureMode="FailOpen")
    obj["status"] = {}
    ports = [op["value"] for op in default_pool(obj) if op["path"].endswith("/portNumber")]
    assert ports == expected_port


def test_status_parents_get_their_defaults() -> None:
    obj = pool()
    obj["status"] = {
        "parent": [
            {"parentRef": {"name": "gw"}},
            {"parentRef": {"name": "gw2", "kind": "Mesh", "group": ""}, "conditions": None},
            {"parentRef": {"name": "gw3"}, "conditions": []},
            {"conditions": []},
            "not an object",
        ]
    }
    assert default_pool(obj) == [
        {
            "op": "add",
            "path": "/status/parent/0/parentRef/group",
            "value": "gateway.networking.k8s.io",
        },
        {"op": "add", "path": "/status/parent/0/parentRef/kind", "value": "Gateway"},
        {"op": "add", "path": "/status/parent/0/conditions", "value": [PENDING_CONDITION]},
        {"op": "replace", "path": "/status/parent/1/conditions", "value": [PENDING_CONDITION]},
        {
            "op": "add",
            "path": "/status/parent/2/parentRef/group",
            "value": "gateway.networking.k8s.io",
        },
        {"op": "add", "path": "/status/parent/2/parentRef/kind", "value": "Gateway"},
    ]


def test_nothing_is_invented_where_spec_or_extension_ref_is_missing() -> None:
    obj = bare_pool()
    del obj["spec"]["extensionRef"]
    assert default_pool(obj) == [{"op": "add", "path": "/status", "value": PENDING_STATUS}]
    del obj["spec"]
    assert default_pool(obj) == [{"op": "add", "path": "/status", "value": PENDING_STATUS}]
    obj["spec"] = "not an object"
    assert default_pool(obj) == [{"op": "add", "path": "/status", "value": PENDING_STATUS}]


def test_defaulting_can_be_limited_to_status() -> None:
    assert default_pool(bare_pool(), ("status",)) == [
        {"op": "add", "path": "/status", "value": PENDING_STATUS}
    ]


def test_the_patch_leaves_everything_else_untouched_and_is_idempotent() -> None:
    obj = bare_pool()
    obj["spec"]["extensionRef"]["extra"] = [1, {"x": None}]
    before = copy.deepcopy(obj)
    patched = apply(obj, default_pool(obj))
    assert obj == before
    assert patched == {
        **before,
        "spec": {
            **before["spec"],
            "extensionRef": {
                "name": "epp",
                "extra": [1, {"x": None}],
                "group": "",
                "kind": "Service",
                "portNumber": 9002,
                "failureMode": "FailClose",
            },
        },
        "status": PENDING_STATUS,
    }
    assert default_pool(patched) == []


def test_each_patch_carries_its_own_copy_of_a_default() -> None:
    first = default_pool(bare_pool())[-1]["value"]
    first["parent"].clear()
    assert default_pool(bare_pool())[-1]["value"] == PENDING_STATUS


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("spec", "extensionRef", "kind"), "/spec/extensionRef/kind"),
        (("metadata", "annotations", "a/b~c"), "/metadata/annotations/a~1b~0c"),
        (("status", "parent", 3), "/status/parent/3"),
        ((), ""),
    ],
)
def test_pointers_escape_tilde_and_slash(path: tuple[str | int, ...], expected: str) -> None:
    assert pointer(path) == expected


# --- properties over generated pools -------------------------------------------

_text = st.text(max_size=12)
_json_leaf = st.none() | st.booleans() | st.integers(-5, 70000) | _text
_anything = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A property that is absent (None here, dropped below), null, or a value."""
    return st.one_of(st.just("<absent>"), st.none(), value)


_extension_ref = st.fixed_dictionaries(
    {
        "name": _maybe(st.sampled_from(["epp", ""]) | _anything),
        "group": _maybe(st.sampled_from(["", "example.com", "Bad"]) | _anything),
        "kind": _maybe(st.sampled_from(["Service", "HTTPRoute", ""]) | _anything),
        "portNumber": _maybe(st.integers(-1, 70000) | _anything),
        "failureMode": _maybe(st.sampled_from(["FailOpen", "FailClose", "x"]) | _anything),
    },
    optional={"unknown/~field": _anything},
)
_parent = st.fixed_dictionaries(
    {
        "parentRef": _maybe(
            st.fixed_dictionaries(
                {
                    "name": _maybe(st.sampled_from(["gw", ""])),
                    "group": _maybe(st.sampled_from(["", "gateway.networking.k8s.io"])),
                    "kind": _maybe(st.sampled_from(["Gateway", "Status"])),
                }
            )
            | _anything
        ),
        "conditions": _maybe(st.lists(st.just(PENDING_CONDITION), max_size=2) | _anything),
    }
)
_pool = st.fixed_dictionaries(
    {
        "apiVersion": st.just("inference.networking.k8s.io/v1"),
        "metadata": st.just({"name": "p"}),
        "spec": _maybe(
            st.fixed_dictionaries(
                {
                    "selector": _maybe(st.dictionaries(st.sampled_from(["app", "bad~"]), _text)),
                    "targetPortNumber": _maybe(st.integers(0, 70000) | _anything),
                    "extensionRef": _maybe(_extension_ref | _anything),
                }
            )
            | _anything
        ),
        "status": _maybe(st.fixed_dictionaries({"parent": _maybe(st.lists(_parent, max_size=3))})),
    }
)


def _drop_absent(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_absent(v) for k, v in value.items() if v != "<absent>"}
    if isinstance(value, list):
        return [_drop_absent(v) for v in value]
    return value


def generated_pools() -> st.SearchStrategy[dict[str, Any]]:
    """Pools with every field absent, null, valid or of any JSON shape."""
    return _pool.map(_drop_absent)


@settings(max_examples=400, deadline=None)
@given(generated_pools())
def test_the_patch_always_applies_and_is_idempotent(obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    patch = default_pool(obj)
    patched = apply(obj, patch)
    assert obj == before
    assert default_pool(patched) == []
    assert all(op["op"] in ("add", "replace") for op in patch)


@settings(max_examples=400, deadline=None)
@given(generated_pools())
def test_defaulting_never_makes_a_pool_less_valid(obj: dict[str, Any]) -> None:
    patched = apply(obj, default_pool(obj))
    before = {str(e) for e in validate_pool(obj)}
    after = {str(e) for e in validate_pool(patched)}
    assert after <= before
    if not before:
        assert after == set()
