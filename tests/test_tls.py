import datetime
import json
import os
import ssl
import threading
import time
import warnings
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client.parser import text_string_to_metric_families

from tests.support import rawhttp
from tests.support.server import (
    FIXTURES,
    client_context,
    make_certs,
    post_review,
    running_server,
)
from webhook import certs
from webhook.tls import CertificateError, CertificateStore, check_pair

REVIEW = (FIXTURES / "create-apply.validate.json").read_bytes()


def served_certificate(port: int) -> bytes:
    """The DER certificate a new connection is served, without verifying it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with rawhttp.connect(port, context) as sock:
        der = sock.getpeercert(binary_form=True)
    assert der is not None
    return der


def pem_to_der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )


def metric_values(client: httpx.Client, name: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} not in /metrics:\n{text}")


def secret_volume(root: Path, version: str) -> None:
    """Point ``root``'s files at ``root/<version>`` the way the kubelet updates a mounted Secret."""
    link = root / "..data"
    staging = root / "..data_tmp"
    staging.unlink(missing_ok=True)
    staging.symlink_to(version)
    os.replace(staging, link)
    for name in (certs.CA_FILE, certs.CERT_FILE, certs.KEY_FILE):
        if not (root / name).is_symlink():
            (root / name).symlink_to(f"..data/{name}")


def test_tls_1_1_is_refused_by_the_server(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        context = client_context(server.ca_file)
        with warnings.catch_warnings():
            # Deprecated on purpose: this client plays an outdated one.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with pytest.raises(ssl.SSLError) as refused:
            rawhttp.connect(server.port, context)
        # The client sent its TLS 1.1 hello (a client unable to offer TLS 1.1
        # fails with NO_PROTOCOLS_AVAILABLE before sending anything); the
        # server answers with a protocol-version alert or, when asyncio closes
        # the failed handshake before the alert is flushed, end of stream.
        assert refused.value.reason in (
            "TLSV1_ALERT_PROTOCOL_VERSION",
            "UNEXPECTED_EOF_WHILE_READING",
        ), refused.value


@pytest.mark.parametrize(
    ("version", "name", "cipher_prefix"),
    [
        (ssl.TLSVersion.TLSv1_2, "TLSv1.2", "ECDHE-ECDSA-AES"),
        (ssl.TLSVersion.TLSv1_3, "TLSv1.3", "TLS_"),
    ],
)
def test_tls_1_2_and_1_3_are_accepted_with_forward_secret_ciphers_over_http_1_1(
    tmp_path: Path, version: ssl.TLSVersion, name: str, cipher_prefix: str
) -> None:
    with running_server(tmp_path) as server:
        context = client_context(server.ca_file)
        context.minimum_version = version
        context.maximum_version = version
        # Offered like Go's HTTP client does; the server must pick HTTP/1.1.
        context.set_alpn_protocols(["h2", "http/1.1"])
        with rawhttp.connect(server.port, context) as sock:
            sock.sendall(
                rawhttp.request_head("POST", "/validate?timeout=10s", len(REVIEW)) + REVIEW
            )
            response = rawhttp.read_response(sock)
            negotiated = (sock.version(), sock.selected_alpn_protocol())
            cipher = sock.cipher()
        assert response.status == 200, response.body
        assert negotiated == (name, "http/1.1")
        assert cipher is not None
        assert cipher[0].startswith(cipher_prefix), cipher


def test_a_rotated_secret_is_served_to_new_connections_while_requests_keep_succeeding(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "certs"
    make_certs(secret / "..v1")
    make_certs(secret / "..v2")
    secret_volume(secret, "..v1")
    trust = client_context(secret / "..v1" / "ca.crt")
    trust.load_verify_locations(secret / "..v2" / "ca.crt")
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def keep_posting(new_connection_each_time: bool) -> None:
        client = httpx.Client(base_url=server.url, verify=trust, timeout=10)
        while not stop.is_set():
            try:
                if new_connection_each_time:
                    client.close()
                    client = httpx.Client(base_url=server.url, verify=trust, timeout=10)
                response = post_review(client, "validate", REVIEW)
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text}")
                answered[0] += 1
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
        client.close()

    with running_server(tmp_path, "--reload-interval", "0.2", generate_certs=False) as server:
        assert served_certificate(server.port) == pem_to_der(secret / "..v1" / "tls.crt")
        threads = [threading.Thread(target=keep_posting, args=(fresh,)) for fresh in (True, False)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)

        secret_volume(secret, "..v2")
        rotated = pem_to_der(secret / "..v2" / "tls.crt")
        deadline = time.monotonic() + 5
        while served_certificate(server.port) != rotated:
            assert time.monotonic() < deadline, "the rotated certificate was not served within 5s"
            time.sleep(0.1)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()

        assert failures == []
        assert answered[0] > 20
        with httpx.Client(base_url=server.url, verify=trust) as client:
            reloads = metric_values(client, "inferencepool_webhook_certificate_reloads_total")
            failed = metric_values(
                client, "inferencepool_webhook_certificate_reload_failures_total"
            )
        assert (reloads, failed) == (1.0, 0.0)


def test_a_broken_new_pair_is_counted_and_the_old_pair_keeps_serving(tmp_path: Path) -> None:
    secret = tmp_path / "certs"
    make_certs(secret / "..v1")
    make_certs(secret / "..v2")
    # A certificate with somebody else's key: what a botched rotation looks like.
    broken = secret / "..broken"
    broken.mkdir()
    for name, source in (("ca.crt", "..v1"), ("tls.crt", "..v1"), ("tls.key", "..v2")):
        (broken / name).write_bytes((secret / source / name).read_bytes())
    secret_volume(secret, "..v1")
    original = pem_to_der(secret / "..v1" / "tls.crt")

    with running_server(tmp_path, "--reload-interval", "0.2", generate_certs=False) as server:
        secret_volume(secret, "..broken")
        with server.client() as client:
            deadline = time.monotonic() + 5
            name = "inferencepool_webhook_certificate_reload_failures_total"
            while metric_values(client, name) < 1:
                assert time.monotonic() < deadline, server.logs()
                time.sleep(0.1)
            time.sleep(0.5)
            assert metric_values(client, name) == 1.0
            assert metric_values(client, "inferencepool_webhook_certificate_reloads_total") == 0.0
            assert post_review(client, "validate", REVIEW).status_code == 200
            assert client.get("/readyz").status_code == 200
        assert served_certificate(server.port) == original
        failure_lines = [
            line for line in server.logs().splitlines() if "certificate reload failed" in line
        ]
        assert len(failure_lines) == 1, server.logs()
        assert "keeping the previous certificate" in failure_lines[0]
        assert "PRIVATE KEY" not in server.logs()


def write_pair(directory: Path, days: int) -> None:
    """A bundle whose certificate ends ``days`` from now (negative: already expired)."""
    bundle = certs.issue(["localhost"], [], 1)
    key = serialization.load_pem_private_key(bundle.key_pem, password=None)
    old = x509.load_pem_x509_certificate(bundle.cert_pem)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.subject)
        .public_key(old.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert = builder.sign(key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(bundle.key_pem)


def test_a_store_with_an_expired_certificate_is_not_ready(tmp_path: Path) -> None:
    write_pair(tmp_path, days=-1)
    store = CertificateStore(tmp_path / "tls.crt", tmp_path / "tls.key")
    store.load()
    assert (store.loaded, store.ready()) == (True, False)


def test_an_expired_replacement_is_refused_and_the_valid_pair_stays(tmp_path: Path) -> None:
    write_pair(tmp_path, days=10)
    store = CertificateStore(tmp_path / "tls.crt", tmp_path / "tls.key")
    store.load()
    before = store.current
    write_pair(tmp_path, days=-1)
    # Seen once, the files might be mid-rotation; seen again unchanged, they
    # are a failed reload.
    assert store.reload() is False
    assert (store.current, store.reloads, store.reload_failures) == (before, 0, 0)
    assert store.reload() is False
    assert (store.current, store.reloads, store.reload_failures, store.ready()) == (
        before,
        0,
        1,
        True,
    )
    # The same broken files are not counted again at every check.
    assert store.reload() is False
    assert store.reload_failures == 1


def test_two_passing_glitches_apart_are_not_two_strikes(tmp_path: Path) -> None:
    write_pair(tmp_path, days=10)
    store = CertificateStore(tmp_path / "tls.crt", tmp_path / "tls.key")
    store.load()
    key = (tmp_path / "tls.key").read_bytes()
    for _ in range(2):
        (tmp_path / "tls.key").unlink()
        assert store.reload() is False
        (tmp_path / "tls.key").write_bytes(key)
        assert store.reload() is False
    assert (store.reloads, store.reload_failures) == (0, 0)


def test_a_check_between_the_certificate_and_the_key_of_a_rotation_is_no_failure(
    tmp_path: Path,
) -> None:
    write_pair(tmp_path / "old", days=10)
    write_pair(tmp_path / "new", days=10)
    for name in ("tls.crt", "tls.key"):
        (tmp_path / name).write_bytes((tmp_path / "old" / name).read_bytes())
    store = CertificateStore(tmp_path / "tls.crt", tmp_path / "tls.key")
    store.load()
    before = store.current

    (tmp_path / "tls.crt").write_bytes((tmp_path / "new" / "tls.crt").read_bytes())
    assert store.reload() is False
    assert (store.current, store.reloads, store.reload_failures) == (before, 0, 0)

    (tmp_path / "tls.key").write_bytes((tmp_path / "new" / "tls.key").read_bytes())
    assert store.reload() is True
    assert (store.reloads, store.reload_failures) == (1, 0)
    assert store.current.context is not before.context


def test_unchanged_files_are_not_reloaded(tmp_path: Path) -> None:
    write_pair(tmp_path, days=10)
    store = CertificateStore(tmp_path / "tls.crt", tmp_path / "tls.key")
    store.load()
    assert (store.reload(), store.reloads, store.reload_failures) == (False, 0, 0)


@pytest.mark.parametrize(
    ("cert", "key", "problem"),
    [
        (b"not a certificate", None, "cannot be served"),
        (
            None,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "cannot be served",
        ),
    ],
)
def test_a_pair_that_cannot_be_loaded_raises_a_certificate_error(
    tmp_path: Path, cert: bytes | None, key: bytes | None, problem: str
) -> None:
    write_pair(tmp_path, days=10)
    if cert is not None:
        (tmp_path / "tls.crt").write_bytes(cert)
    if key is not None:
        (tmp_path / "tls.key").write_bytes(key)
    with pytest.raises(CertificateError) as error:
        check_pair(tmp_path / "tls.crt", tmp_path / "tls.key")
    assert problem in str(error.value)
    assert "BEGIN" not in str(error.value)


def test_a_missing_pair_raises_a_certificate_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(CertificateError) as error:
        check_pair(tmp_path / "tls.crt", tmp_path / "tls.key")
    assert str(error.value) == (
        f"cannot read the certificate pair: [Errno 2] No such file or directory: "
        f"'{tmp_path / 'tls.crt'}'"
    )
    json.dumps(str(error.value))
