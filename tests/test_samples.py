import base64
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.pools import PENDING_STATUS
from tests.support.server import REPO, SAMPLES, RunningServer, post_review, running_server

SELECTOR_KEY_MESSAGE = (
    "Invalid value: \"example~\": name part must consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
    "'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def uid(n: int) -> str:
    return f"0b6a5f9e-1c2d-4e3f-8a9b-00000000000{n}"


def allowed(n: int, patch: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if patch is None:
        return {"uid": uid(n), "allowed": True}
    return {"uid": uid(n), "allowed": True, "patch": patch, "patchType": "JSONPatch"}


def invalid(n: int, causes: list[tuple[str, str, str]]) -> dict[str, Any]:
    texts = [f"{field}: {message}" for field, _, message in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return {
        "uid": uid(n),
        "allowed": False,
        "status": {
            "metadata": {},
            "status": "Failure",
            "code": 422,
            "reason": "Invalid",
            "message": 'InferencePool.inference.networking.k8s.io "vllm-llama3-8b-instruct" '
            f"is invalid: {summary}",
            "details": {
                "name": "vllm-llama3-8b-instruct",
                "group": "inference.networking.k8s.io",
                "kind": "InferencePool",
                "causes": [
                    {"reason": kind, "type": kind, "field": field, "message": message}
                    for field, kind, message in causes
                ],
            },
        },
    }


EXPECTED = {
    ("create-valid.json", "mutate"): allowed(
        1,
        [
            {"op": "add", "path": "/spec/extensionRef/group", "value": ""},
            {"op": "add", "path": "/spec/extensionRef/kind", "value": "Service"},
            {"op": "add", "path": "/spec/extensionRef/portNumber", "value": 9002},
            {"op": "add", "path": "/spec/extensionRef/failureMode", "value": "FailClose"},
            {"op": "add", "path": "/status", "value": PENDING_STATUS},
        ],
    ),
    ("create-valid.json", "validate"): allowed(1),
    ("create-invalid.json", "mutate"): allowed(
        2,
        [
            {"op": "add", "path": "/spec/extensionRef/group", "value": ""},
            {"op": "add", "path": "/spec/extensionRef/portNumber", "value": 9002},
            {"op": "add", "path": "/status", "value": PENDING_STATUS},
        ],
    ),
    ("create-invalid.json", "validate"): invalid(
        2,
        [
            ("spec.selector", "FieldValueInvalid", SELECTOR_KEY_MESSAGE),
            (
                "spec.targetPortNumber",
                "FieldValueInvalid",
                "Invalid value: 0: must be between 1 and 65535, inclusive",
            ),
            ("spec.extensionRef.name", "FieldValueRequired", "Required value"),
            (
                "spec.extensionRef.failureMode",
                "FieldValueNotSupported",
                'Unsupported value: "failclose": supported values: "FailOpen", "FailClose"',
            ),
        ],
    ),
    ("update.json", "mutate"): allowed(3),
    ("update.json", "validate"): allowed(3),
    ("status-update-too-many-parents.json", "mutate"): allowed(4),
    ("status-update-too-many-parents.json", "validate"): invalid(
        4, [("status.parent", "FieldValueTooMany", "Too many: 33: must have at most 32 items")]
    ),
    ("delete.json", "mutate"): allowed(5),
    ("delete.json", "validate"): allowed(5),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("samples")) as running:
        yield running


def test_every_sample_has_an_expected_decision_on_both_endpoints() -> None:
    assert sorted({name for name, _ in EXPECTED}) == sorted(p.name for p in SAMPLES.glob("*.json"))


@pytest.mark.parametrize(("sample", "endpoint"), EXPECTED, ids=[f"{s}-{e}" for s, e in EXPECTED])
def test_each_sample_gets_its_exact_decision_from_the_server(
    server: RunningServer, sample: str, endpoint: str
) -> None:
    with server.client() as client:
        response = post_review(client, endpoint, (SAMPLES / sample).read_bytes())
    assert response.status_code == 200, response.text
    review = response.json()
    answer = review["response"]
    if "patch" in answer:
        answer["patch"] = json.loads(base64.b64decode(answer["patch"]))
    assert (review["apiVersion"], review["kind"], answer) == (
        "admission.k8s.io/v1",
        "AdmissionReview",
        EXPECTED[sample, endpoint],
    )


def readme_curl_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme, flags=re.DOTALL)
    joined = [block.replace("\\\n", " ") for block in blocks]
    return [
        line.strip() for block in joined for line in block.splitlines() if line.startswith("curl")
    ]


def test_the_readme_curl_commands_work_against_a_running_server(server: RunningServer) -> None:
    commands = readme_curl_commands()
    assert len(commands) >= 5
    for command in commands:
        # The README targets `make run`; here the same commands go to this test's server.
        args = shlex.split(
            command.replace("https://127.0.0.1:9443", server.url).replace(
                "certs/ca.crt", str(server.ca_file)
            )
        )
        result = subprocess.run(args, cwd=REPO, capture_output=True, check=False)
        assert result.returncode == 0, (command, result.stderr)
        body = json.loads(result.stdout)
        assert body.get("kind") == "AdmissionReview" or body.get("status") in ("ok", "ready"), body
