import datetime
import ipaddress
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.support.server import make_certs, webhook_command
from webhook import certs


def load(out: Path) -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    key = serialization.load_pem_private_key((out / "tls.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return ca, cert, key


def sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = names.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    return dns, ips


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def run_certs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        webhook_command("certs", *args), capture_output=True, text=True, check=False
    )


def test_without_names_the_certificate_is_for_the_loopback_names(tmp_path: Path) -> None:
    result = make_certs(tmp_path)
    _, cert, _ = load(tmp_path)
    assert sans(cert) == (["localhost"], ["127.0.0.1", "::1"])
    assert result.stdout == (
        f"wrote {tmp_path}/ca.crt, {tmp_path}/tls.crt, {tmp_path}/tls.key "
        "for localhost, 127.0.0.1, ::1, valid 365 days, signed by a new CA\n"
    )


def test_service_and_namespace_give_the_in_cluster_names(tmp_path: Path) -> None:
    make_certs(tmp_path, "--service", "inferencepool-webhook", "--namespace", "gateway-system")
    _, cert, _ = load(tmp_path)
    assert sans(cert) == (
        [
            "inferencepool-webhook",
            "inferencepool-webhook.gateway-system",
            "inferencepool-webhook.gateway-system.svc",
            "inferencepool-webhook.gateway-system.svc.cluster.local",
        ],
        [],
    )


def test_dns_and_ip_flags_add_up_with_the_service_names(tmp_path: Path) -> None:
    make_certs(
        tmp_path,
        *("--dns", "webhook.example.com", "--dns", "localhost"),
        *("--ip", "10.0.0.7", "--ip", "fd00::7"),
        *("--service", "wh", "--namespace", "ns"),
    )
    _, cert, _ = load(tmp_path)
    assert sans(cert) == (
        ["webhook.example.com", "localhost", "wh", "wh.ns", "wh.ns.svc", "wh.ns.svc.cluster.local"],
        ["10.0.0.7", "fd00::7"],
    )


def test_the_serving_certificate_is_an_ecdsa_p256_server_certificate_signed_by_the_ca(
    tmp_path: Path,
) -> None:
    make_certs(tmp_path, "--days", "30")
    ca, cert, key = load(tmp_path)

    cert.verify_directly_issued_by(ca)
    assert cert.public_key() == key.public_key()
    assert (key.curve.name, cert.signature_hash_algorithm.name) == ("secp256r1", "sha256")  # type: ignore[union-attr]

    extensions = cert.extensions
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert (usage.critical, usage.value.digital_signature, usage.value.key_cert_sign) == (
        True,
        True,
        False,
    )
    assert (usage.value.key_encipherment, usage.value.crl_sign) == (False, False)
    assert extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    constraints = extensions.get_extension_for_class(x509.BasicConstraints)
    assert (constraints.critical, constraints.value.ca) == (True, False)

    ca_constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    ca_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (ca_constraints.ca, ca_constraints.path_length) == (True, 0)
    assert (ca_usage.key_cert_sign, ca_usage.crl_sign, ca_usage.digital_signature) == (
        True,
        True,
        False,
    )
    ca.verify_directly_issued_by(ca)


def test_the_validity_starts_just_before_now_and_lasts_the_requested_days(tmp_path: Path) -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    make_certs(tmp_path, "--days", "30")
    after = datetime.datetime.now(datetime.UTC)
    ca, cert, _ = load(tmp_path)
    for certificate in (ca, cert):
        start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        assert before - certs.CLOCK_SKEW <= start <= after - certs.CLOCK_SKEW
        assert before + datetime.timedelta(days=30) <= end <= after + datetime.timedelta(days=30)


def test_the_key_is_private_to_its_owner_and_the_certificates_are_readable(
    tmp_path: Path,
) -> None:
    make_certs(tmp_path / "out")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert modes == {"ca.crt": 0o644, "tls.crt": 0o644, "tls.key": 0o600}


def test_existing_files_are_kept_without_force(tmp_path: Path) -> None:
    make_certs(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = run_certs("--out", str(tmp_path))
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"inferencepool-webhook certs: {tmp_path} already holds ca.crt, tls.crt, tls.key; "
        "pass --force to replace them\n",
    )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_force_replaces_the_whole_bundle(tmp_path: Path) -> None:
    make_certs(tmp_path)
    old_ca, old_cert, _ = load(tmp_path)
    make_certs(tmp_path, "--force", "--dns", "other.example")
    ca, cert, key = load(tmp_path)
    assert (ca.serial_number != old_ca.serial_number, cert != old_cert) == (True, True)
    cert.verify_directly_issued_by(ca)
    assert cert.public_key() == key.public_key()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]


def test_a_kept_ca_signs_the_next_certificate_and_stays_the_same(tmp_path: Path) -> None:
    make_certs(tmp_path, "--keep-ca")
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    ca_key = serialization.load_pem_private_key((tmp_path / "ca.key").read_bytes(), None)
    first_ca = (tmp_path / "ca.crt").read_bytes()
    _, first_cert, first_key = load(tmp_path)

    result = make_certs(tmp_path, "--keep-ca", "--force", "--dns", "other.example")
    ca, cert, key = load(tmp_path)
    assert (tmp_path / "ca.crt").read_bytes() == first_ca
    assert ca.public_key() == ca_key.public_key()
    cert.verify_directly_issued_by(ca)
    assert (cert.serial_number != first_cert.serial_number, pem(key) != pem(first_key)) == (
        True,
        True,
    )
    assert sans(cert) == (["other.example"], [])
    assert result.stdout == (
        f"wrote {tmp_path}/ca.crt, {tmp_path}/tls.crt, {tmp_path}/tls.key, {tmp_path}/ca.key "
        "for other.example, valid 365 days, signed by the CA kept there\n"
    )


def test_without_keep_ca_force_makes_a_new_ca_and_drops_the_kept_key(tmp_path: Path) -> None:
    make_certs(tmp_path, "--keep-ca")
    first_ca = (tmp_path / "ca.crt").read_bytes()
    make_certs(tmp_path, "--force")
    assert (tmp_path / "ca.crt").read_bytes() != first_ca
    ca, cert, _ = load(tmp_path)
    cert.verify_directly_issued_by(ca)
    # The old CA's key would not match the new ca.crt.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    # So a later --keep-ca run starts a new kept CA instead of failing.
    make_certs(tmp_path, "--force", "--keep-ca")
    ca, cert, _ = load(tmp_path)
    cert.verify_directly_issued_by(ca)


def test_a_kept_ca_that_would_expire_before_the_new_certificate_is_refused(
    tmp_path: Path,
) -> None:
    make_certs(tmp_path, "--keep-ca", "--days", "30")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    ca = x509.load_pem_x509_certificate(before["ca.crt"])
    # Made to be kept, the CA lives ten years whatever its first certificate does.
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=3650, minutes=5)
    result = run_certs("--out", str(tmp_path), "--keep-ca", "--force", "--days", "3651")
    assert (result.returncode, result.stderr) == (
        1,
        f"inferencepool-webhook certs: the CA kept in {tmp_path} expires on"
        f" {ca.not_valid_after_utc.date()}, before a certificate of 3651 days would:"
        " remove ca.key to make a new CA\n",
    )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_kept_ca_key_that_is_not_the_cas_is_refused(tmp_path: Path) -> None:
    make_certs(tmp_path / "a", "--keep-ca")
    make_certs(tmp_path / "b", "--keep-ca")
    (tmp_path / "a" / "ca.key").write_bytes((tmp_path / "b" / "ca.key").read_bytes())
    result = run_certs("--out", str(tmp_path / "a"), "--keep-ca", "--force")
    assert (result.returncode, result.stderr) == (
        1,
        f"inferencepool-webhook certs: {tmp_path}/a/ca.key is not the key of {tmp_path}/a/ca.crt\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--service", "wh"], "--service and --namespace go together"),
        (["--namespace", "ns"], "--service and --namespace go together"),
        (["--days", "0"], "--days 0: expected 1 to 36500"),
        (["--days", "99999999"], "--days 99999999: expected 1 to 36500"),
        (["--ip", "localhost"], "--ip 'localhost': expected an IPv4 or IPv6 address"),
        (["--dns", "a b"], "--dns 'a b': expected a lowercase DNS name such as wh.ns.svc"),
        (
            ["--dns", "\u00fc.example"],
            "--dns '\u00fc.example': expected a lowercase DNS name such as wh.ns.svc",
        ),
        (
            ["--service", "Web_Hook", "--namespace", "ns"],
            "--service 'Web_Hook': expected a Service name (a DNS label, first a letter)",
        ),
        (
            ["--service", "1wh", "--namespace", "ns"],
            "--service '1wh': expected a Service name (a DNS label, first a letter)",
        ),
        (
            ["--dns", f"{'a' * 64}.svc"],
            f"--dns '{'a' * 64}.svc': expected a lowercase DNS name such as wh.ns.svc",
        ),
        (
            ["--service", "wh", "--namespace", "a.b"],
            "--namespace 'a.b': expected a namespace (a lowercase DNS label)",
        ),
    ],
)
def test_inconsistent_flags_are_refused_with_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_certs("--out", str(tmp_path / "out"), *args)
    assert (result.returncode, result.stderr) == (2, f"inferencepool-webhook certs: {message}\n")
    assert not (tmp_path / "out").exists()


def test_issue_without_any_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least one DNS name or IP address"):
        certs.issue([], [], 1)


def test_the_ca_signs_with_sha256_and_the_ip_sans_are_addresses(tmp_path: Path) -> None:
    make_certs(tmp_path, "--ip", "127.0.0.1")
    ca, cert, _ = load(tmp_path)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert isinstance(ca.signature_hash_algorithm, hashes.SHA256)


def test_a_wildcard_dns_name_is_accepted(tmp_path: Path) -> None:
    make_certs(tmp_path, "--dns", "*.wh.ns.svc")
    _, cert, _ = load(tmp_path)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["*.wh.ns.svc"]


def test_an_out_path_that_is_a_file_is_refused_without_a_traceback(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("")
    result = run_certs("--out", str(target))
    assert (result.returncode, result.stderr) == (
        1,
        f"inferencepool-webhook certs: cannot write to {target}: [Errno 17] File exists: '{target}'\n",
    )


def test_a_namespace_may_start_with_a_digit(tmp_path: Path) -> None:
    make_certs(tmp_path, "--service", "wh", "--namespace", "1ns")
    _, cert, _ = load(tmp_path)
    assert sans(cert) == (["wh", "wh.1ns", "wh.1ns.svc", "wh.1ns.svc.cluster.local"], [])
