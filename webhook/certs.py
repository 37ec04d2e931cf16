"""Development and test certificates: a throwaway CA and one serving certificate.

kube-apiserver checks a webhook's certificate against the ``caBundle`` of its
configuration and by the DNS names in the subject alternative names (the
common name is ignored), so the names go in the SANs. Keys are ECDSA P-256
signed with SHA-256: small, fast to handshake and accepted by every TLS 1.2+
client. The CA key signs the serving certificate and is then discarded, so a
new certificate means a new CA, which is what a development setup wants;
kept on request (``ca.key``), it signs the next certificate too, so that a
rotation does not change the CA that kube-apiserver trusts.
"""

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"

DEFAULT_DNS = ("localhost",)
DEFAULT_IPS = ("127.0.0.1", "::1")
DEFAULT_DAYS = 365
# The life of a CA made to be kept: ten years of yearly certificates.
KEPT_CA_DAYS = 3650

# Certificates start a few minutes in the past so that a client whose clock is
# slightly behind does not see a certificate from the future.
CLOCK_SKEW = datetime.timedelta(minutes=5)


class CertificateExistsError(FileExistsError):
    """Raised to ``certs``/``serve`` when the target directory already holds a bundle file.

    Overwriting a key silently would break a running server's clients, so the
    caller must ask for it (``--force``).
    """


class AuthorityError(ValueError):
    """Raised to ``certs`` when a kept CA cannot sign: unreadable, mismatched or about to expire."""


@dataclass(frozen=True)
class Authority:
    """A CA that signs serving certificates: its certificate and private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Bundle:
    """A CA certificate, a serving certificate it signed, and the serving key, all PEM.

    ``ca_key_pem`` is the CA's key when it is to be kept, else None.
    """

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    ca_key_pem: bytes | None = None


def service_names(service: str, namespace: str) -> list[str]:
    """The names a Service is reached by inside a cluster, most specific last."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def new_authority(days: int, now: datetime.datetime | None = None) -> Authority:
    """A new CA, valid for ``days`` from ``now`` (the current time by default)."""
    now = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inferencepool-webhook dev CA")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=False, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(certificate, key)


def load_authority(directory: Path, days: int) -> Authority:
    """The CA kept in ``directory`` (``ca.crt``, ``ca.key``), to sign a certificate of ``days``.

    Raises :class:`AuthorityError` when the files are not a CA's certificate and
    key, or when the CA expires before such a certificate would.
    """
    try:
        certificate = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key(
            (directory / CA_KEY_FILE).read_bytes(), password=None
        )
    except (OSError, ValueError) as exc:
        raise AuthorityError(f"cannot read the CA kept in {directory}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != (
        certificate.public_key()
    ):
        raise AuthorityError(f"{directory / CA_KEY_FILE} is not the key of {directory / CA_FILE}")
    needed = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    if certificate.not_valid_after_utc < needed:
        raise AuthorityError(
            f"the CA kept in {directory} expires on {certificate.not_valid_after_utc.date()},"
            f" before a certificate of {days} days would: remove {CA_KEY_FILE} to make a new CA"
        )
    return Authority(certificate, key)


def issue(
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    days: int,
    ca: Authority | None = None,
    *,
    keep_ca_key: bool = False,
) -> Bundle:
    """A serving certificate for the given names, valid for ``days``, signed by ``ca``.

    Without ``ca``, a new CA signs it: of the same validity, or of ten years
    at least with ``keep_ca_key``, when the bundle carries the CA's key so that
    it can be kept.
    """
    if not dns_names and not ip_addresses:
        raise ValueError("a serving certificate needs at least one DNS name or IP address")
    now = datetime.datetime.now(datetime.UTC)
    not_before = now - CLOCK_SKEW
    not_after = now + datetime.timedelta(days=days)
    if ca is None:
        # A CA that is kept signs the certificates that replace this one, so
        # it must outlive them.
        ca = new_authority(max(days, KEPT_CA_DAYS) if keep_ca_key else days, now)
    ca_cert, ca_key = ca.certificate, ca.key
    ca_name = ca_cert.subject
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())

    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inferencepool-webhook")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    return Bundle(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=_private_pem(key),
        ca_key_pem=_private_pem(ca_key) if keep_ca_key else None,
    )


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write(bundle: Bundle, out: Path, *, force: bool = False) -> list[Path]:
    """Write ``ca.crt``, ``tls.crt``, ``tls.key`` (and a kept ``ca.key``) into ``out``; the paths.

    Each file is written beside its final name and renamed into place, so a
    server watching the directory never reads half a file; the keys are created
    with mode 0600 and never exist with wider permissions.
    """
    out.mkdir(parents=True, exist_ok=True)
    files = {CA_FILE: (bundle.ca_pem, 0o644), CERT_FILE: (bundle.cert_pem, 0o644)}
    files[KEY_FILE] = (bundle.key_pem, 0o600)
    if bundle.ca_key_pem is not None:
        files[CA_KEY_FILE] = (bundle.ca_key_pem, 0o600)
    existing = [name for name in files if (out / name).exists()]
    if existing and not force:
        raise CertificateExistsError(
            f"{out} already holds {', '.join(existing)}; pass --force to replace them"
        )

    staged = [(_stage(out, name, data, mode), out / name) for name, (data, mode) in files.items()]
    for temporary, final in staged:
        temporary.replace(final)
    if bundle.ca_key_pem is None:
        # A key kept for an earlier CA is not the new CA's: left behind, it
        # would be taken for the key of ca.crt.
        (out / CA_KEY_FILE).unlink(missing_ok=True)
    return [final for _, final in staged]


def has_pair(directory: Path) -> bool:
    """Whether ``directory`` holds a serving certificate or key; either means: do not generate."""
    return (directory / CERT_FILE).exists() or (directory / KEY_FILE).exists()


def _stage(directory: Path, name: str, data: bytes, mode: int) -> Path:
    temporary = directory / f".{name}.tmp"
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    # The umask may have narrowed the mode; the files' modes are part of the contract.
    os.chmod(temporary, mode)
    return temporary


def _key_usage(*, digital_signature: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
