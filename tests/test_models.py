import copy
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import ValidationError

from tests.pools import condition, parent, pool
from tests.test_defaulting import generated_pools
from webhook.models import Condition, InferencePool
from webhook.validation import validate_pool


def model_accepts(obj: dict[str, Any]) -> bool:
    try:
        InferencePool.model_validate(obj)
    except ValidationError:
        return False
    return True


def test_a_valid_pool_reads_as_typed_objects() -> None:
    obj = pool(targetPortNumber=8000.0)
    obj["status"] = {"parent": [parent("gw", namespace="team")]}
    typed = InferencePool.model_validate(obj)
    assert typed.spec is not None
    assert typed.status is not None
    assert typed.status.parent is not None
    assert (
        typed.spec.targetPortNumber,
        typed.spec.selector,
        typed.spec.extensionRef.model_dump(),
        typed.status.parent[0].parentRef.model_dump(),
        typed.status.parent[0].conditions,
    ) == (
        8000,
        {"app": "vllm"},
        {
            "failureMode": "FailClose",
            "group": "",
            "kind": "Service",
            "name": "epp",
            "portNumber": 9002,
        },
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "gw",
            "namespace": "team",
        },
        [Condition.model_validate(condition())],
    )


@pytest.mark.parametrize(
    "change",
    [
        {"targetPortNumber": 0},
        {"targetPortNumber": "8000"},
        {"targetPortNumber": True},
        {"selector": {"example~": "v"}},
        {"selector": {"app": "-v"}},
        {"extensionRef": {"name": "epp", "kind": "Service\n"}},
        {"extensionRef": {"name": "epp", "failureMode": "failClose"}},
        {"extensionRef": {"kind": "Service"}},
    ],
)
def test_the_models_reject_what_the_rules_reject(change: dict[str, Any]) -> None:
    obj = pool(**change)
    assert (model_accepts(obj), validate_pool(obj) == []) == (False, False)


def test_duplicate_condition_types_are_rejected_by_both() -> None:
    obj = pool()
    doubled = parent()
    doubled["conditions"] = [condition(), copy.deepcopy(condition())]
    obj["status"] = {"parent": [doubled]}
    assert (model_accepts(obj), validate_pool(obj) == []) == (False, False)


@settings(max_examples=400, deadline=None)
@given(generated_pools())
def test_the_models_and_the_rules_agree_on_every_generated_pool(obj: dict[str, Any]) -> None:
    assert model_accepts(obj) == (validate_pool(obj) == [])
