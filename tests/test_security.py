"""Security properties of the running server and of how it is installed.

TLS 1.2 and newer with forward-secret AEAD suites only; one listening
socket, and it speaks TLS; private keys 0600 and never in a log; request
bodies never in a log; nothing written outside the cert dir; dependencies
installed from a lock file with hashes.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import rawhttp
from tests.support.server import (
    REPO,
    SAMPLES,
    RunningServer,
    client_context,
    free_port,
    make_certs,
    post_review,
    running_server,
    wait_until_ready,
    webhook_command,
)

MARKER = "canary-7f3a9c-do-not-log"
VALID: dict[str, object] = json.loads((SAMPLES / "create-valid.json").read_bytes())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("security"), "--log-level", "debug") as running:
        yield running


# --- TLS ----------------------------------------------------------------------------


def handshake(server: RunningServer, context: ssl.SSLContext) -> str:
    """The protocol a handshake settles on, or the reason it is refused."""
    try:
        with rawhttp.connect(server.port, context) as sock:
            return sock.version() or "none"
    except ssl.SSLError as exc:
        return f"refused: {exc.reason}"


def pinned(
    server: RunningServer, version: ssl.TLSVersion, ciphers: str | None = None
) -> ssl.SSLContext:
    context = client_context(server.ca_file)
    with warnings.catch_warnings():
        # Deprecated on purpose: these clients play outdated ones.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


# asyncio may close a refused handshake before the alert is flushed.
REFUSED = {
    "refused: TLSV1_ALERT_PROTOCOL_VERSION",
    "refused: UNEXPECTED_EOF_WHILE_READING",
    "refused: SSLV3_ALERT_HANDSHAKE_FAILURE",
}


def test_tls_1_0_is_refused(server: RunningServer) -> None:
    context = pinned(server, ssl.TLSVersion.TLSv1, "DEFAULT:@SECLEVEL=0")
    assert handshake(server, context) in REFUSED


@pytest.mark.parametrize(
    "cipher",
    [
        # No forward secrecy: static RSA or ECDH key exchange.
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
        # Forward secret, but CBC rather than AEAD.
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA384",
    ],
)
def test_tls_1_2_suites_without_forward_secrecy_or_aead_are_refused(
    server: RunningServer, cipher: str
) -> None:
    context = pinned(server, ssl.TLSVersion.TLSv1_2, f"{cipher}:@SECLEVEL=0")
    assert handshake(server, context) in REFUSED


def test_the_server_listens_on_one_tcp_socket_and_it_speaks_only_tls(
    server: RunningServer,
) -> None:
    inodes = set()
    for fd in Path(f"/proc/{server.process.pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            # State 0A is LISTEN.
            if fields[3] == "0A" and fields[9] in inodes:
                listening.append(int(fields[1].rsplit(":", 1)[1], 16))
    assert listening == [server.port]

    # Plain HTTP on that port gets no HTTP answer: the TLS layer drops it.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}")
        reply = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(4096):
                reply += chunk
    assert b"HTTP/1" not in reply


# --- what the logs never hold ---------------------------------------------------------


def with_marker(where: str) -> bytes:
    """The valid sample with the marker placed in a spot of the request."""
    document = json.loads(json.dumps(VALID))
    pool = document["request"]["object"]
    if where == "annotation":
        pool["metadata"]["annotations"] = {"example.com/secret": MARKER}
    elif where == "selector":
        pool["spec"]["selector"] = {"app": MARKER}
    elif where == "invalid value":
        pool["spec"]["extensionRef"]["name"] = MARKER.upper()
    elif where == "old object":
        document["request"]["operation"] = "UPDATE"
        document["request"]["oldObject"] = json.loads(json.dumps(pool))
        document["request"]["oldObject"]["spec"]["selector"] = {"app": MARKER}
    return json.dumps(document).encode()


BODIES = {
    "annotation": with_marker("annotation"),
    "selector": with_marker("selector"),
    "invalid value": with_marker("invalid value"),
    "old object": with_marker("old object"),
    "malformed JSON": b'{"apiVersion": "' + MARKER.encode() + b'", ',
    "not a review": json.dumps({"kind": MARKER}).encode(),
    "wrong uid type": with_marker("annotation").replace(
        b'"uid": "0b6a5f9e-1c2d-4e3f-8a9b-000000000001"', b'"uid": ["' + MARKER.encode() + b'"]'
    ),
}


@pytest.mark.parametrize("endpoint", ["mutate", "validate"])
@pytest.mark.parametrize("name", BODIES)
def test_request_bodies_never_reach_the_log_even_at_debug(
    server: RunningServer, endpoint: str, name: str
) -> None:
    with server.client() as client:
        response = post_review(client, endpoint, BODIES[name])
    assert response.status_code in (200, 400)
    assert MARKER not in server.logs()
    assert MARKER.upper() not in server.logs()


def test_debug_logs_do_carry_the_review_lines_the_marker_test_looks_through(
    server: RunningServer,
) -> None:
    # Guards the test above against passing on an empty log.
    with server.client() as client:
        post_review(client, "validate", BODIES["annotation"])
    assert "webhook.reviews" in server.logs()
    assert "allowed=True" in server.logs()


def key_material(key_file: Path) -> list[str]:
    """The base64 lines of a PEM key: what a leaked key would show in a log."""
    return [
        line for line in key_file.read_text().splitlines() if line and not line.startswith("-----")
    ]


def test_development_keys_are_created_0600_and_never_logged_even_under_a_lax_umask(
    tmp_path: Path,
) -> None:
    previous = os.umask(0)
    try:
        with running_server(tmp_path, "--log-level", "debug", generate_certs=False) as server:
            output = server.logs()
            modes = {p.name: p.stat().st_mode & 0o777 for p in server.cert_dir.iterdir()}
            secret = key_material(server.cert_dir / "tls.key")
            assert server.stop() == 0
            output = server.logs()
    finally:
        os.umask(previous)
    assert modes == {"ca.crt": 0o644, "tls.crt": 0o644, "tls.key": 0o600}
    assert "created a development CA" in output
    assert [line for line in secret if line in output] == []
    assert "PRIVATE KEY" not in output


def test_a_key_that_cannot_be_loaded_is_not_echoed_in_the_error(tmp_path: Path) -> None:
    make_certs(tmp_path / "certs")
    key_file = tmp_path / "certs" / "tls.key"
    secret = key_material(key_file)
    # The right key, truncated: loading fails, and the error must not quote it.
    key_file.write_text("\n".join(key_file.read_text().splitlines()[:2]) + "\n")
    result = subprocess.run(
        webhook_command("serve", "--port", str(free_port()), "--cert-dir", str(tmp_path / "certs")),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "cannot start" in output
    assert [line for line in secret if line[:20] in output] == []


# --- write access ------------------------------------------------------------------------


def _can_make_read_only_namespaces() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount --make-rprivate / && mount -o remount,bind,ro /"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


READ_ONLY = pytest.mark.skipif(
    not _can_make_read_only_namespaces(),
    reason="needs root and unshare to give the server a read-only file system",
)


@contextlib.contextmanager
def serve_on_a_read_only_system(
    workdir: Path, cert_dir: Path, *, cert_dir_writable: bool, args: tuple[str, ...] = ()
) -> Iterator[RunningServer]:
    """``serve`` in a mount namespace where every file system is read-only but the cert dir.

    The working directory, HOME and TMPDIR are all read-only there, as in a
    container with ``readOnlyRootFilesystem`` and a mounted Secret.
    """
    port = free_port()
    command = " ".join(
        webhook_command("serve", "--port", str(port), "--cert-dir", str(cert_dir), *args)
    )
    writable = f"mount --bind {cert_dir} {cert_dir} && " if cert_dir_writable else ""
    script = (
        f"mount --make-rprivate / && {writable}"
        "mount -o remount,bind,ro / && mount -o remount,bind,ro /dev/shm && "
        f"exec {command}"
    )
    log_file = workdir / "server.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            ["unshare", "--mount", "sh", "-c", script],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={**os.environ, "HOME": str(workdir), "TMPDIR": str(workdir)},
        )
    server = RunningServer(process=process, port=port, cert_dir=cert_dir, log_file=log_file)
    try:
        wait_until_ready(server)
        yield server
    finally:
        server.stop()


@READ_ONLY
def test_the_server_runs_on_a_read_only_file_system_with_a_read_only_mounted_secret(
    tmp_path: Path,
) -> None:
    cert_dir = tmp_path / "secret"
    make_certs(cert_dir)
    with serve_on_a_read_only_system(tmp_path, cert_dir, cert_dir_writable=False) as server:
        with server.client() as client:
            answers = [
                post_review(client, e, json.dumps(VALID).encode()) for e in ("mutate", "validate")
            ]
            ready = client.get("/readyz").status_code
        assert server.stop() == 0
        log = server.logs()
    assert ([a.status_code for a in answers], ready) == ([200, 200], 200), log
    assert "Traceback" not in log
    # Nothing new in the working directory or the secret but the harness's own log.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret", "server.log"]
    assert sorted(p.name for p in cert_dir.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]


@READ_ONLY
def test_two_workers_run_on_a_read_only_file_system(tmp_path: Path) -> None:
    cert_dir = tmp_path / "secret"
    make_certs(cert_dir)
    args = ("--workers", "2")
    with serve_on_a_read_only_system(
        tmp_path, cert_dir, cert_dir_writable=False, args=args
    ) as server:
        with server.client() as client:
            answers = [
                post_review(client, "validate", json.dumps(VALID).encode()) for _ in range(10)
            ]
        assert server.stop() == 0
        log = server.logs()
    assert [a.status_code for a in answers] == [200] * 10, log
    assert log.count("Started server process") == 2, log
    assert "Traceback" not in log


@READ_ONLY
def test_development_certificates_are_the_only_files_the_server_writes(tmp_path: Path) -> None:
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    with serve_on_a_read_only_system(tmp_path, cert_dir, cert_dir_writable=True) as server:
        context = client_context(cert_dir / "ca.crt")
        with httpx.Client(base_url=server.url, verify=context) as client:
            answer = post_review(client, "validate", json.dumps(VALID).encode())
        assert server.stop() == 0
        log = server.logs()
    assert answer.status_code == 200, log
    assert sorted(p.name for p in cert_dir.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    assert "Traceback" not in log


# --- dependencies -----------------------------------------------------------------------

LOCK = REPO / "requirements.lock"
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")


def locked() -> dict[str, list[str]]:
    """Each package in the lock file with the hashes it may be installed from."""
    packages: dict[str, list[str]] = {}
    current = ""
    for line in LOCK.read_text().splitlines():
        match = _REQUIREMENT.match(line)
        if match:
            current = match.group(1).lower().replace("_", "-")
            packages[current] = []
        elif "--hash=sha256:" in line:
            packages[current].append(line.split("--hash=sha256:")[1].strip(" \\"))
    return packages


def declared() -> list[str]:
    """The distribution names pyproject.toml asks for, runtime and test extras."""
    import tomllib  # noqa: PLC0415

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return sorted(
        re.split(r"[<>=!~\[; ]", n, maxsplit=1)[0].lower().replace("_", "-") for n in names
    )


def test_every_declared_dependency_is_pinned_in_the_lock_with_sha256_hashes() -> None:
    packages = locked()
    assert [name for name in declared() if name not in packages] == []
    assert [name for name, hashes in packages.items() if not hashes] == []
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for hashes in packages.values() for h in hashes)


def test_the_lock_names_no_machine_specific_index() -> None:
    text = LOCK.read_text()
    assert [line for line in text.splitlines() if line.startswith("--")] == []


def test_the_makefile_installs_from_the_lock_with_hashes_required() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^LOCK\s*:=\s*requirements\.lock$", makefile, re.MULTILINE)
    installs = [line.strip() for line in makefile.splitlines() if "pip install" in line]
    assert installs[:2] == [
        "$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)",
        "$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .",
    ]
