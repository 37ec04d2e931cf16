import json
import shlex
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.server import (
    SAMPLES,
    free_port,
    make_certs,
    post_review,
    running_server,
    webhook_command,
)
from webhook.review import decide, encode, parse_review


def test_the_first_serve_creates_development_certificates_and_prints_a_working_curl(
    tmp_path: Path,
) -> None:
    (tmp_path / "samples").symlink_to(SAMPLES)
    with running_server(tmp_path, generate_certs=False) as server:
        log = server.logs()
        created = [line for line in log.splitlines() if "created a development CA" in line]
        assert len(created) == 1, log
        assert created[0].endswith(
            f"INFO webhook.serve: no certificate in {server.cert_dir}: created a development CA "
            "and a serving certificate for localhost, 127.0.0.1, ::1"
        )
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in server.cert_dir.iterdir()}
        assert modes == {"ca.crt": 0o644, "tls.crt": 0o644, "tls.key": 0o600}

        [command] = [
            line.removeprefix("try: ") for line in log.splitlines() if line.startswith("try: ")
        ]
        assert command == (
            f"curl --cacert {server.cert_dir}/ca.crt -H 'Content-Type: application/json' "
            f"--data-binary @samples/create-valid.json "
            f"'https://127.0.0.1:{server.port}/validate?timeout=10s'"
        )
        result = subprocess.run(
            [*shlex.split(command), "--silent", "--show-error"],
            cwd=tmp_path,
            capture_output=True,
            check=False,
        )
    body = (SAMPLES / "create-valid.json").read_bytes()
    assert (result.returncode, result.stdout) == (0, encode(decide(parse_review(body), "validate")))


def test_a_second_serve_keeps_the_certificates_it_finds(tmp_path: Path) -> None:
    make_certs(tmp_path / "certs")
    before = (tmp_path / "certs" / "tls.crt").read_bytes()
    with running_server(tmp_path, generate_certs=False) as server:
        assert "created a development CA" not in server.logs()
    assert (tmp_path / "certs" / "tls.crt").read_bytes() == before


def run_serve(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        webhook_command("serve", *args),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env=env,
    )


def a_lone_certificate(directory: Path) -> None:
    make_certs(directory)
    (directory / "tls.key").unlink()


def a_file(directory: Path) -> None:
    directory.write_text("")


@pytest.mark.parametrize(
    ("make_cert_dir", "problem"),
    [
        (
            a_lone_certificate,
            "certs/tls.crt and certs/tls.key cannot be served: [Errno 2] No such file or directory",
        ),
        (
            # Where nothing can be written, as a Pod whose Secret is not mounted.
            a_file,
            "no certificate in certs and none can be created there: [Errno 17] File exists: 'certs'",
        ),
    ],
)
def test_a_cert_dir_that_cannot_serve_stops_serve_with_one_line(
    tmp_path: Path, make_cert_dir: Callable[[Path], None], problem: str
) -> None:
    make_cert_dir(tmp_path / "certs")
    result = run_serve(tmp_path, "--port", str(free_port()))
    assert result.returncode == 1
    assert result.stderr.endswith(f"ERROR webhook.serve: cannot start: {problem}\n"), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "port: Input should be less than or equal to 65535"),
        (["--workers", "0"], "workers: Input should be greater than or equal to 1"),
    ],
)
def test_out_of_range_settings_are_refused_with_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_serve(tmp_path, *args)
    assert (result.returncode, result.stderr) == (2, f"inferencepool-webhook serve: {message}\n")
    assert not (tmp_path / "certs").exists()


def test_an_unknown_log_format_is_a_usage_error(tmp_path: Path) -> None:
    result = run_serve(tmp_path, "--log-format", "xml")
    assert result.returncode == 2
    assert (
        "argument --log-format: invalid choice: 'xml' (choose from 'text', 'json')" in result.stderr
    )


def test_environment_variables_configure_the_server_when_no_flag_is_given(tmp_path: Path) -> None:
    env = {"INFERENCEPOOL_WEBHOOK_LOG_FORMAT": "json", "INFERENCEPOOL_WEBHOOK_LOG_LEVEL": "debug"}
    with running_server(tmp_path, env=env) as server:
        with server.client() as client:
            body = (SAMPLES / "create-valid.json").read_bytes()
            assert post_review(client, "mutate", body).status_code == 200
        assert server.stop() == 0
        lines = [json.loads(line) for line in server.logs().splitlines()]
    assert {line["level"] for line in lines} >= {"info", "debug"}
    assert [line["uid"] for line in lines if line["logger"] == "webhook.reviews"] == [
        json.loads(body)["request"]["uid"]
    ]


def test_the_help_names_every_setting_with_its_environment_variable() -> None:
    result = subprocess.run(
        webhook_command("serve", "--help"), capture_output=True, text=True, check=False
    )
    flat = " ".join(result.stdout.split())
    for flag, env in [
        ("--host", "INFERENCEPOOL_WEBHOOK_HOST"),
        ("--port", "INFERENCEPOOL_WEBHOOK_PORT"),
        ("--cert-dir", "INFERENCEPOOL_WEBHOOK_CERT_DIR"),
        ("--workers", "INFERENCEPOOL_WEBHOOK_WORKERS"),
        ("--log-format", "INFERENCEPOOL_WEBHOOK_LOG_FORMAT"),
        ("--log-level", "INFERENCEPOOL_WEBHOOK_LOG_LEVEL"),
        ("--max-body-bytes", "INFERENCEPOOL_WEBHOOK_MAX_BODY_BYTES"),
        ("--graceful-timeout", "INFERENCEPOOL_WEBHOOK_GRACEFUL_TIMEOUT"),
    ]:
        assert flag in flat
        assert f"env {env}," in flat
