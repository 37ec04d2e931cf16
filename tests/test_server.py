import json
import socket
import time
from pathlib import Path

import pytest

from tests.support import rawhttp
from tests.support.server import FIXTURES, client_context, post_review, running_server
from webhook.review import decide, encode, parse_review

REVIEW = (FIXTURES / "update-replace-put.mutate.json").read_bytes()
ANSWER = encode(decide(parse_review(REVIEW), "mutate"))


def test_sigterm_finishes_reviews_in_flight_closes_idle_connections_and_exits_0(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path) as server:
        context = client_context(server.ca_file)
        idle = rawhttp.connect(server.port, context)
        idle.sendall(rawhttp.request_head("POST", "/mutate?timeout=10s", len(REVIEW)) + REVIEW)
        assert rawhttp.read_response(idle).status == 200

        # Half of each body sent: these reviews are in flight when SIGTERM comes.
        half = len(REVIEW) // 2
        in_flight = [rawhttp.connect(server.port, context) for _ in range(8)]
        for sock in in_flight:
            sock.sendall(rawhttp.request_head("POST", "/mutate?timeout=10s", len(REVIEW)))
            sock.sendall(REVIEW[:half])
        time.sleep(0.2)

        server.process.send_signal(15)
        assert rawhttp.closed_by_peer(idle, timeout=2)
        time.sleep(0.3)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2)
        assert server.process.poll() is None

        for sock in in_flight:
            sock.sendall(REVIEW[half:])
        answers = [rawhttp.read_response(sock) for sock in in_flight]
        assert [(a.status, a.headers["connection"], a.body) for a in answers] == [
            (200, "close", ANSWER)
        ] * len(in_flight)
        assert all(rawhttp.closed_by_peer(sock, timeout=2) for sock in in_flight)
        for sock in [idle, *in_flight]:
            sock.close()

        assert server.process.wait(10) == 0
        log = server.logs()
    assert "Traceback" not in log
    assert "Finished server process" in log


def test_two_workers_share_the_port_and_stop_together_on_sigterm(tmp_path: Path) -> None:
    with running_server(tmp_path, "--workers", "2") as server:
        with server.client() as client:
            answers = [post_review(client, "mutate", REVIEW) for _ in range(20)]
        assert [(a.status_code, a.content) for a in answers] == [(200, ANSWER)] * 20
        assert server.stop() == 0
        log = server.logs()
    assert log.count("Started server process") == 2
    assert "Traceback" not in log


def test_a_graceful_shutdown_logs_no_review_content(tmp_path: Path) -> None:
    with running_server(tmp_path, "--log-level", "debug") as server:
        with server.client() as client:
            assert post_review(client, "mutate", REVIEW).status_code == 200
        assert server.stop() == 0
        log = server.logs()
    uid = json.loads(REVIEW)["request"]["uid"]
    assert uid in log
    assert "vllm-llama3-8b-instruct-epp" not in log
    assert "managedFields" not in log
