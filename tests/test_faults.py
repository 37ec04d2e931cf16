"""Faults under load: certificates changing on disk, SIGTERM, a worker killed.

Each scenario keeps a steady load on the real server (keep-alive clients
plus one client that opens a new TLS connection for every review) while the
fault happens, and counts every request that did not get HTTP 200.
"""

import datetime
import ipaddress
import logging
import os
import signal
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from tests.support import rawhttp
from tests.support.server import (
    APISERVER_HEADERS,
    SAMPLES,
    running_server,
)
from webhook import certs

# The figures of each scenario, shown with ``pytest -o log_cli=true --log-cli-level=INFO``.
logger = logging.getLogger(__name__)

REVIEW = (SAMPLES / "create-valid.json").read_bytes()
PATH = "/validate?timeout=10s"


def unverified() -> ssl.SSLContext:
    """A client context that takes any certificate, for watching which one is served."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def served_certificate(port: int) -> bytes:
    with rawhttp.connect(port, unverified()) as sock:
        der = sock.getpeercert(binary_form=True)
    assert der is not None
    return der


def der_of(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def metric(client: httpx.Client, name: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics")


@dataclass
class Load:
    """Threads posting the review until stopped; what each request ended as, with its time."""

    url: str
    context: ssl.SSLContext
    keep_alive_clients: int = 8
    outcomes: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> "Load":
        kinds = [True] * self.keep_alive_clients + [False]
        self._threads = [threading.Thread(target=self._run, args=(k,)) for k in kinds]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, keep_alive: bool) -> None:
        client = self._client()
        # Bounded: every scenario stops its load within seconds; this is a backstop.
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            if not keep_alive:
                client.close()
                client = self._client()
            sent = time.monotonic()
            try:
                response = client.post(PATH, content=REVIEW, headers=APISERVER_HEADERS)
                outcome = "200" if response.status_code == 200 else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
                client.close()
                client = self._client()
                time.sleep(0.01)
            self.outcomes.append((sent, outcome))
        client.close()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.context, timeout=10)

    def failures(self, since: float = 0.0, until: float = float("inf")) -> list[str]:
        return [o for t, o in self.outcomes if since <= t < until and o != "200"]

    def answered(self) -> int:
        return sum(1 for _, o in self.outcomes if o == "200")


# --- certificates ----------------------------------------------------------------------


def test_a_pair_replaced_on_disk_under_load_is_served_within_the_reload_interval_with_no_failure(
    tmp_path: Path,
) -> None:
    # The default interval: the promise is the new pair within 2 s of the write.
    with running_server(tmp_path) as server:
        old_ca = (server.cert_dir / "ca.crt").read_bytes()
        context = ssl.create_default_context(cadata=old_ca.decode())
        replacement = certs.issue(["localhost"], ["127.0.0.1"], 30)
        context.load_verify_locations(cadata=replacement.ca_pem.decode())
        with Load(server.url, context) as load:
            time.sleep(1)
            # What ``certs --force`` does: each file renamed into place.
            certs.write(replacement, server.cert_dir, force=True)
            written = time.monotonic()
            while served_certificate(server.port) != der_of(replacement.cert_pem):
                assert time.monotonic() - written < 3, server.logs()
                time.sleep(0.05)
            switched = time.monotonic() - written
            time.sleep(1)
        with httpx.Client(base_url=server.url, verify=context) as client:
            reloads = metric(client, "inferencepool_webhook_certificate_reloads_total")
    logger.info(
        "pair replaced: %d answered, failures %s, new certificate served after %.2fs",
        load.answered(),
        load.failures(),
        switched,
    )
    assert load.failures() == []
    assert load.answered() > 200
    assert switched < 2.5
    assert reloads >= 1.0


def short_lived_pair(directory: Path, seconds: float) -> bytes:
    """A self-signed pair for localhost valid for ``seconds`` from now; the certificate PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "short-lived")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(seconds=seconds))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tls.crt").write_bytes(pem)
    (directory / "ca.crt").write_bytes(pem)
    key_file = directory / "tls.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return pem


def test_a_corrupt_certificate_under_load_keeps_the_old_pair_until_it_expires_and_then_not_ready(
    tmp_path: Path,
) -> None:
    lifetime = 8.0
    original = short_lived_pair(tmp_path / "certs", lifetime)
    expires = time.monotonic() + lifetime
    not_after = x509.load_pem_x509_certificate(original).not_valid_after_utc.timestamp()
    args = ("--reload-interval", "0.2")
    with running_server(tmp_path, *args, generate_certs=False) as server:
        checks = httpx.Client(base_url=server.url, verify=unverified())
        with Load(server.url, unverified()) as load:
            time.sleep(0.5)
            # A botched rotation: the certificate file overwritten with garbage.
            (server.cert_dir / "tls.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n")
            deadline = time.monotonic() + 3
            name = "inferencepool_webhook_certificate_reload_failures_total"
            while metric(checks, name) < 1:
                assert time.monotonic() < deadline, server.logs()
                time.sleep(0.05)
            time.sleep(1)
            load.stop()
        still_served = served_certificate(server.port)
        ready_before = checks.get("/readyz").status_code
        expiry = metric(checks, "inferencepool_webhook_certificate_expiry_timestamp_seconds")
        failures = metric(checks, name)

        time.sleep(max(0.0, expires - time.monotonic()) + 0.5)
        readiness = checks.get("/readyz")
        review = checks.post(PATH, content=REVIEW, headers=APISERVER_HEADERS)
        checks.close()
        log = server.logs()
    logger.info(
        "corrupt certificate: %d answered, failures %s, readiness after expiry %d",
        load.answered(),
        load.failures(),
        readiness.status_code,
    )
    assert load.failures() == []
    assert load.answered() > 100
    assert (still_served, ready_before, expiry, failures) == (der_of(original), 200, not_after, 1.0)
    assert (readiness.status_code, readiness.json()) == (
        503,
        {"code": 503, "message": "no valid, unexpired serving certificate is loaded"},
    )
    # Not ready, but a client that still trusts the pair is still answered.
    assert review.status_code == 200
    failed_lines = [line for line in log.splitlines() if "certificate reload failed" in line]
    assert len(failed_lines) == 1, log
    assert "keeping the previous certificate" in failed_lines[0]
    assert "garbage" not in log


# --- SIGTERM ---------------------------------------------------------------------------


def test_sigterm_under_load_fails_no_request_sent_before_it_and_exits_0_within_the_grace_period(
    tmp_path: Path,
) -> None:
    with running_server(tmp_path, "--graceful-timeout", "10") as server:
        with Load(server.url, ssl.create_default_context(cafile=str(server.ca_file))) as load:
            time.sleep(1.5)
            # Requests sent in the last moments before the signal are in flight;
            # every one sent before it must be answered.
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            status = server.process.wait(15)
            exited = time.monotonic() - signalled
            load.stop()
        log = server.logs()
    before = [o for t, o in load.outcomes if t < signalled]
    logger.info(
        "SIGTERM: %d sent before it, failures among them %s; exit %d after %.2fs; after it %s",
        len(before),
        [o for o in before if o != "200"],
        status,
        exited,
        sorted({o for t, o in load.outcomes if t >= signalled}),
    )

    assert [o for o in before if o != "200"] == []
    assert len(before) > 200
    assert (status, exited < 10) == (0, True), log
    # After the signal the listener is gone: new connections are refused, which
    # kube-apiserver sees as a failed call to this replica only.
    after = {o for t, o in load.outcomes if t > signalled + 0.5}
    assert after <= {"ConnectError"}
    assert "Traceback" not in log


# --- workers ---------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def test_a_killed_worker_is_replaced_while_the_other_keeps_serving(tmp_path: Path) -> None:
    with running_server(tmp_path, "--workers", "2") as server:
        deadline = time.monotonic() + 10
        while len(workers := children(server.process.pid)) < 2:
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.1)
        context = ssl.create_default_context(cafile=str(server.ca_file))
        with Load(server.url, context) as load:
            time.sleep(1)
            killed_at = time.monotonic()
            os.kill(workers[0], signal.SIGKILL)
            while len(replaced := children(server.process.pid)) < 2 or replaced == workers:
                assert time.monotonic() - killed_at < 10, server.logs()
                time.sleep(0.05)
            replaced_after = time.monotonic() - killed_at
            # Ready again: the new worker answers on its own connections.
            time.sleep(2)
        assert server.stop() == 0
        log = server.logs()
    lost = load.failures()
    logger.info(
        "worker killed: %d answered, failures %s, replaced after %.2fs",
        load.answered(),
        lost,
        replaced_after,
    )
    # Only requests on connections the killed worker held can fail; every
    # client reconnects and is answered by the surviving or the new worker.
    assert len(lost) <= load.keep_alive_clients + 1, lost
    assert load.failures(since=killed_at + 0.5) == []
    # The supervisor looks every 0.5 s and pings each live worker on the way
    # (up to 5 s each): typically 0.5 s, bounded by 0.5 + 5 s with two workers.
    assert replaced_after < 6, log
    assert workers[0] not in replaced and workers[1] in replaced
    assert f"Child process [{workers[0]}] died" in log
