"""The server's TLS: one SSLContext for the listener, serving a pair that can change.

A mounted Secret is rotated by swapping a symlink to a new directory, so the
certificate files are watched by reading them (through the links) rather than
by watching one inode. A new pair is loaded into a fresh SSLContext; only when
that succeeds does the listener start handing it to new connections, through
the SNI callback that every TLS handshake passes. Connections already open
keep the pair they were established with, so nothing in flight fails; a
broken new pair is logged and counted, and the previous one keeps serving.
"""

import asyncio
import datetime
import hashlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

logger = logging.getLogger(__name__)

# TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are all of
# that already and are configured separately by OpenSSL.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


class CertificateError(Exception):
    """The certificate or key cannot be served: unreadable, not PEM, mismatched or expired.

    Raised at start-up, where it stops the server with the message; during a
    reload it is logged and counted, and the previous pair stays in service.
    """


@dataclass(frozen=True)
class ServingPair:
    """A loaded certificate and key, with what the server reports about them."""

    context: ssl.SSLContext
    not_after: datetime.datetime
    fingerprint: str

    def valid_at(self, now: datetime.datetime) -> bool:
        return now < self.not_after


class CertificateStore:
    """The pair currently served, and the check that replaces it when its files change."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.reloads = 0
        self.reload_failures = 0
        self._seen: bytes = b""
        # Broken files seen once; counted as a failure if the next check sees them again.
        self._suspect: bytes = b""
        self._pair: ServingPair | None = None
        self._listener: ssl.SSLContext | None = None

    def load(self) -> ssl.SSLContext:
        """Load the pair for the first time and return the listener's context.

        Raises :class:`CertificateError`: a server without a usable
        certificate must not start.
        """
        self._seen, cert_pem = self._fingerprint_files()
        self._pair = _load_pair(self.cert_file, self.key_file, cert_pem)
        listener = _new_context()
        # The listener needs a pair of its own for OpenSSL to accept it; the
        # SNI callback then points each handshake at the current pair.
        listener.load_cert_chain(self.cert_file, self.key_file)
        listener.sni_callback = self._select
        self._listener = listener
        logger.info(
            "serving certificate %s loaded from %s, valid until %s",
            self._pair.fingerprint,
            self.cert_file,
            self._pair.not_after.isoformat(),
        )
        return listener

    @property
    def current(self) -> ServingPair:
        if self._pair is None:
            raise RuntimeError("CertificateStore.load() has not been called")
        return self._pair

    @property
    def loaded(self) -> bool:
        return self._pair is not None

    def ready(self) -> bool:
        """Whether a pair is loaded and its certificate has not expired."""
        return self._pair is not None and self._pair.valid_at(datetime.datetime.now(datetime.UTC))

    def reload(self) -> bool:
        """Serve the pair on disk if it changed and is usable; whether it was swapped in."""
        try:
            seen, cert_pem = self._fingerprint_files()
        except CertificateError as exc:
            self._unusable(str(exc).encode(), exc)
            return False
        if seen == self._seen:
            # Back to the files already judged: whatever was seen between was
            # a passing state, not the first of two strikes.
            self._suspect = b""
            return False

        try:
            pair = _load_pair(self.cert_file, self.key_file, cert_pem)
            if not pair.valid_at(datetime.datetime.now(datetime.UTC)):
                raise CertificateError(f"{self.cert_file}: expired on {pair.not_after.isoformat()}")
            # The files may have changed again while they were being loaded;
            # then what was loaded is unknown, and the next check tries again.
            if self._fingerprint_files()[0] != seen:
                return False
        except CertificateError as exc:
            self._unusable(seen, exc)
            return False

        self._seen = seen
        self._suspect = b""
        self._pair = pair
        self.reloads += 1
        logger.info(
            "serving certificate %s reloaded from %s, valid until %s",
            pair.fingerprint,
            self.cert_file,
            pair.not_after.isoformat(),
        )
        return True

    async def watch(self, interval: float) -> None:
        """Check the files every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.reload()
            except Exception:
                # The watcher must outlive any surprise, or rotation stops silently.
                logger.exception("certificate check failed unexpectedly")

    def _select(self, connection: ssl.SSLObject, server_name: str | None, _: object) -> None:
        # Runs inside every handshake: switching the connection to the current
        # pair's context is what makes a reload reach new connections.
        connection.context = self.current.context

    def _unusable(self, seen: bytes, exc: CertificateError) -> None:
        # A rotation writes the certificate and the key one after the other
        # (and a Secret's symlink can be swapped between the two reads), so one
        # check can catch a new certificate beside the old key. Only files that
        # are still broken, unchanged, at the next check are a failed reload.
        if seen == self._seen:
            return
        if seen != self._suspect:
            self._suspect = seen
            return
        self._seen = seen
        self.reload_failures += 1
        logger.error("certificate reload failed, keeping the previous certificate: %s", exc)

    def _fingerprint_files(self) -> tuple[bytes, bytes]:
        try:
            cert_pem = self.cert_file.read_bytes()
            key_pem = self.key_file.read_bytes()
        except OSError as exc:
            raise CertificateError(f"cannot read the certificate pair: {exc}") from None
        return hashlib.sha256(cert_pem + b"\0" + key_pem).digest(), cert_pem


def check_pair(cert_file: Path, key_file: Path) -> ServingPair:
    """Load a pair without serving it; raises :class:`CertificateError` when it cannot be served."""
    try:
        cert_pem = cert_file.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read the certificate pair: {exc}") from None
    return _load_pair(cert_file, key_file, cert_pem)


def _new_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_ciphers(TLS12_CIPHERS)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _load_pair(cert_file: Path, key_file: Path, cert_pem: bytes) -> ServingPair:
    context = _new_context()
    try:
        context.load_cert_chain(cert_file, key_file)
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise CertificateError(f"{cert_file} and {key_file} cannot be served: {exc}") from None
    fingerprint = certificate.fingerprint(hashes.SHA256())
    return ServingPair(
        context=context,
        not_after=certificate.not_valid_after_utc,
        fingerprint="sha256:" + fingerprint.hex()[:16],
    )
