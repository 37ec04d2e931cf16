"""The ``check`` command, run as users run it: a subprocess reading real files."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.pools import PENDING_STATUS

GOOD = """\
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: good, namespace: ml}
spec:
  selector: {app: vllm}
  targetPortNumber: 8000
  extensionRef: {name: epp}
"""
BAD = """\
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: bad}
spec:
  selector: {app: vllm}
  targetPortNumber: 0
  extensionRef: {name: epp, failureMode: failclose, colour: red}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: epp}
spec: {ports: [{port: 0}]}
"""
PORT_ERROR = "spec.targetPortNumber: Invalid value: 0: must be between 1 and 65535, inclusive"
MODE_ERROR = (
    'spec.extensionRef.failureMode: Unsupported value: "failclose": supported values:'
    ' "FailOpen", "FailClose"'
)


def check(*args: str, stdin: str = "", cwd: Path | None = None) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "webhook", "check", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_valid_pools_exit_0_silently(tmp_path: Path) -> None:
    path = write(tmp_path, "pool.yaml", GOOD)
    assert check(path) == (0, "", "")


def test_each_problem_is_a_line_naming_file_document_pool_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "pools.yaml", "---\n".join([SERVICE, GOOD, BAD]))
    assert check(path) == (
        1,
        f"{path}:3: bad: {PORT_ERROR}\n"
        f"{path}:3: bad: {MODE_ERROR}\n"
        f'{path}:3: bad: warning: unknown field "spec.extensionRef.colour"\n',
        "",
    )


def test_directories_are_walked_for_yaml_and_json_files(tmp_path: Path) -> None:
    write(tmp_path, "a/good.yaml", GOOD)
    bad = yaml.safe_load(BAD)
    bad["metadata"]["namespace"] = "team"
    bad_path = write(tmp_path, "a/b/bad.json", json.dumps(bad))
    write(tmp_path, "a/b/notes.txt", "targetPortNumber: 0")
    assert check(str(tmp_path / "a")) == (
        1,
        f"{bad_path}:1: team/bad: {PORT_ERROR}\n"
        f"{bad_path}:1: team/bad: {MODE_ERROR}\n"
        f'{bad_path}:1: team/bad: warning: unknown field "spec.extensionRef.colour"\n',
        "",
    )


def test_standard_input_is_read_for_a_dash_or_no_path() -> None:
    assert check(stdin=BAD)[:2] == check("-", stdin=BAD)[:2]
    assert check(stdin=BAD)[1].startswith(f"-:1: bad: {PORT_ERROR}\n")


def test_other_kinds_and_versions_are_skipped(tmp_path: Path) -> None:
    older = GOOD.replace("/v1\n", "/v1alpha2\n").replace(
        "targetPortNumber: 8000", "targetPortNumber: 0"
    )
    path = write(tmp_path, "mixed.yaml", "---\n".join([SERVICE, older]))
    assert check(path) == (
        0,
        f"{path}:2: ml/good: warning: inference.networking.k8s.io/v1alpha2 is not checked:"
        " only inference.networking.k8s.io/v1 is\n",
        "",
    )


def test_timestamps_stay_strings_as_kubectl_reads_them(tmp_path: Path) -> None:
    pool = GOOD + textwrap.dedent(
        """\
        status:
          parent:
          - parentRef: {name: gw}
            conditions:
            - {type: Accepted, status: "True", reason: Ok, message: "", lastTransitionTime: 2026-01-01T00:00:00Z}
        """
    )
    assert check(write(tmp_path, "p.yaml", pool)) == (0, "", "")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"a: [1,\n",
            "cannot decode: while parsing a flow node did not find expected node content,"
            " line 2, column 1",
        ),
        (
            b"\xff\xfe",
            "cannot read: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
        (
            b"{",
            "cannot decode: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
    ],
)
def test_unreadable_input_exits_2_after_checking_the_rest(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    broken = tmp_path / ("broken.json" if content == b"{" else "broken.yaml")
    broken.write_bytes(content)
    bad = write(tmp_path, "bad.yaml", BAD)
    status, out, err = check(str(broken), bad)
    assert (status, out.splitlines()[0], err) == (
        2,
        f"{bad}:1: bad: {PORT_ERROR}",
        f"{broken}: {problem}\n",
    )


def test_a_document_that_is_not_an_object_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- just\n- a list\n---\n" + GOOD)
    assert check(path) == (2, "", f"{path}:1: not a Kubernetes object\n")


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert check(str(missing)) == (2, "", f"{missing}: cannot read: No such file or directory\n")


def test_unknown_options_are_a_usage_error_with_exit_2() -> None:
    status, out, err = check("--output", "xml")
    assert (status, out) == (2, "")
    assert "invalid choice: 'xml'" in err


def test_json_output_has_one_result_per_pool(tmp_path: Path) -> None:
    path = write(tmp_path, "pools.yaml", "---\n".join([GOOD, BAD]))
    status, out, err = check("--output", "json", path)
    assert (status, err) == (1, "")
    assert json.loads(out) == [
        {
            "file": path,
            "document": 1,
            "namespace": "ml",
            "name": "good",
            "valid": True,
            "errors": [],
            "warnings": [],
        },
        {
            "file": path,
            "document": 2,
            "namespace": "",
            "name": "bad",
            "valid": False,
            "errors": [
                {
                    "type": "FieldValueInvalid",
                    "field": "spec.targetPortNumber",
                    "message": PORT_ERROR.split(": ", 1)[1],
                },
                {
                    "type": "FieldValueNotSupported",
                    "field": "spec.extensionRef.failureMode",
                    "message": MODE_ERROR.split(": ", 1)[1],
                },
            ],
            "warnings": ['unknown field "spec.extensionRef.colour"'],
        },
    ]


def test_defaulted_output_prints_valid_pools_with_defaults_and_problems_on_stderr(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "pools.yaml", "---\n".join([GOOD, BAD]))
    status, out, err = check("-o", "defaulted", path)
    assert (status, err) == (
        1,
        f"{path}:2: bad: {PORT_ERROR}\n{path}:2: bad: {MODE_ERROR}\n"
        f'{path}:2: bad: warning: unknown field "spec.extensionRef.colour"\n',
    )
    documents: list[Any] = list(yaml.safe_load_all(out))
    assert documents == [
        {
            "apiVersion": "inference.networking.k8s.io/v1",
            "kind": "InferencePool",
            "metadata": {"name": "good", "namespace": "ml"},
            "spec": {
                "selector": {"app": "vllm"},
                "targetPortNumber": 8000,
                "extensionRef": {
                    "name": "epp",
                    "group": "",
                    "kind": "Service",
                    "portNumber": 9002,
                    "failureMode": "FailClose",
                },
            },
            "status": PENDING_STATUS,
        }
    ]
    assert check(write(tmp_path, "again.yaml", out)) == (0, "", "")


def test_the_pre_commit_hook_runs_check_on_manifest_files() -> None:
    hooks = yaml.safe_load(Path(".pre-commit-hooks.yaml").read_text())
    assert hooks == [
        {
            "id": "inferencepool-check",
            "name": "check InferencePool manifests",
            "description": "Validate InferencePool manifests with the admission webhook's rules.",
            "entry": "inferencepool-webhook check",
            "language": "python",
            "types_or": ["yaml", "json"],
        }
    ]


def test_check_and_the_engine_load_nothing_of_the_web_stack() -> None:
    code = (
        "import sys, webhook.cli, webhook.review, webhook.commands.check;"
        "webhook.cli.build_parser();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('fastapi', 'starlette', 'uvicorn', 'httptools', 'prometheus_client')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"


def test_yaml_anchors_aliases_merge_keys_and_tags_read_as_kubectl_reads_them(
    tmp_path: Path,
) -> None:
    text = textwrap.dedent(
        """\
        apiVersion: inference.networking.k8s.io/v1
        kind: InferencePool
        metadata: {name: anchored}
        spec:
          selector: &labels {app: vllm, tier: "1"}
          targetPortNumber: !!int "0"
          extensionRef:
            <<: {kind: Service, group: ""}
            name: epp
            failureMode: *labels
        """
    )
    path = write(tmp_path, "anchors.yaml", text)
    status, out, err = check("-o", "json", path)
    assert (status, err) == (1, "")
    assert json.loads(out)[0]["errors"] == [
        {
            "type": "FieldValueInvalid",
            "field": "spec.targetPortNumber",
            "message": "Invalid value: 0: must be between 1 and 65535, inclusive",
        },
        {
            "type": "FieldValueTypeInvalid",
            "field": "spec.extensionRef.failureMode",
            "message": 'Invalid value: "object": must be of type string',
        },
    ]


def test_self_referencing_aliases_are_judged_without_looping(tmp_path: Path) -> None:
    text = "apiVersion: inference.networking.k8s.io/v1\nkind: InferencePool\nmetadata: {name: loop}\nspec: &s {selector: *s}\nstatus: &t {parent: [*t]}\n"
    path = write(tmp_path, "loop.yaml", text)
    assert check(path) == (
        1,
        f"{path}:1: loop: spec.targetPortNumber: Required value\n"
        f"{path}:1: loop: spec.extensionRef: Required value\n"
        f'{path}:1: loop: spec.selector[selector]: Invalid value: "object": must be of type string\n'
        f"{path}:1: loop: status.parent[0].parentRef: Required value\n"
        f'{path}:1: loop: warning: unknown field "status.parent[0].parent"\n',
        "",
    )
