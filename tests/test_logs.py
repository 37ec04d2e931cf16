import json
from pathlib import Path
from typing import Any

from tests.support.server import FIXTURES, SAMPLES, post_review, running_server

ALLOWED = FIXTURES / "create-apply.validate.json"
GENERATED = FIXTURES / "create-generatename.mutate.json"
DENIED = SAMPLES / "create-invalid.json"


def review_lines(log: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in log.splitlines()]
    return [e for e in entries if e["logger"] == "webhook.reviews"]


def test_json_logs_carry_one_line_per_review_with_its_references(tmp_path: Path) -> None:
    with running_server(tmp_path, "--log-format", "json", "--log-level", "debug") as server:
        with server.client() as client:
            for path, endpoint in [
                (ALLOWED, "validate"),
                (GENERATED, "mutate"),
                (DENIED, "validate"),
            ]:
                assert post_review(client, endpoint, path.read_bytes()).status_code == 200
        assert server.stop() == 0
        lines = review_lines(server.logs())

    for line in lines:
        assert isinstance(line.pop("time"), str)
        assert 0 < line.pop("durationMs") < 1000
        line.pop("message")
    assert lines == [
        {
            "level": "debug",
            "logger": "webhook.reviews",
            "uid": json.loads(ALLOWED.read_bytes())["request"]["uid"],
            "endpoint": "validate",
            "operation": "CREATE",
            "namespace": "default",
            "name": "vllm-llama3-8b-instruct",
            "subResource": "",
            "user": "admin",
            "allowed": True,
            "code": 200,
        },
        {
            "level": "debug",
            "logger": "webhook.reviews",
            "uid": json.loads(GENERATED.read_bytes())["request"]["uid"],
            "endpoint": "mutate",
            "operation": "CREATE",
            "namespace": "default",
            "name": "",
            "subResource": "",
            "user": "admin",
            "allowed": True,
            "code": 200,
        },
        {
            "level": "info",
            "logger": "webhook.reviews",
            "uid": "0b6a5f9e-1c2d-4e3f-8a9b-000000000002",
            "endpoint": "validate",
            "operation": "CREATE",
            "namespace": "default",
            "name": "vllm-llama3-8b-instruct",
            "subResource": "",
            "user": "jane@example.com",
            "allowed": False,
            "code": 422,
        },
    ]


def test_at_info_only_denials_are_logged_as_one_text_line(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        with server.client() as client:
            assert post_review(client, "validate", ALLOWED.read_bytes()).status_code == 200
            assert post_review(client, "validate", DENIED.read_bytes()).status_code == 200
        assert server.stop() == 0
        log = server.logs()
    lines = [line for line in log.splitlines() if " webhook.reviews: " in line]
    assert len(lines) == 1, log
    prefix = (
        "INFO webhook.reviews: review 0b6a5f9e-1c2d-4e3f-8a9b-000000000002 validate CREATE "
        "default/vllm-llama3-8b-instruct by jane@example.com: allowed=False code=422 in "
    )
    assert prefix in lines[0]
    assert lines[0].endswith("ms")
    # The object's content stays out of the log.
    assert "example~" not in log
    assert "failclose" not in log


def test_control_characters_from_a_request_cannot_forge_log_lines(tmp_path: Path) -> None:
    review = json.loads(DENIED.read_bytes())
    review["request"]["userInfo"]["username"] = "mallory\nINFO webhook.reviews: review forged"
    with running_server(tmp_path) as server:
        with server.client() as client:
            body = json.dumps(review).encode()
            assert post_review(client, "validate", body).status_code == 200
        assert server.stop() == 0
        log = server.logs()
    assert "by mallory\\nINFO webhook.reviews: review forged: allowed=False" in log
    assert [
        line for line in log.splitlines() if "review forged" in line and "mallory" not in line
    ] == []
