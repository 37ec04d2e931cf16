"""The server's settings: one typed object, filled from flags and environment.

Every setting has a command-line flag (``--cert-dir``) and an environment
variable (``INFERENCEPOOL_WEBHOOK_CERT_DIR``); a flag given on the command
line wins over the environment, and the environment over the default. The
settings object only describes; certificates are loaded and ports bound when
the server starts.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "INFERENCEPOOL_WEBHOOK_"

LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]

# kube-apiserver refuses request bodies over 3 MiB, and an AdmissionReview can
# carry two objects of that size (``object`` and ``oldObject`` on an UPDATE),
# plus the request envelope and the managed fields the server adds itself:
# 2 x 3 MiB + 1 MiB of headroom. Anything bigger did not come from the API
# server and is refused (413) before it is read.
MAX_BODY_BYTES = 7 * 1024 * 1024


class Settings(BaseSettings):
    """How ``inferencepool-webhook serve`` listens, logs and shuts down."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", use_attribute_docstrings=True
    )

    host: str = "127.0.0.1"
    """Address to listen on; a Deployment sets ``0.0.0.0`` to accept cluster traffic."""

    port: int = Field(default=9443, ge=1, le=65535)
    """HTTPS port."""

    cert_dir: Path = Path("certs")
    """Directory with ``tls.crt`` and ``tls.key`` (a mounted Secret), re-read when they change."""

    workers: int = Field(default=1, ge=1, le=64)
    """Worker processes; in a cluster, prefer replicas (each worker has its own /metrics)."""

    log_format: LogFormat = "text"
    """``text`` for people, ``json`` (one object per line) for log pipelines."""

    log_level: LogLevel = "info"
    """``debug`` logs every review; ``info`` logs denials, errors and lifecycle."""

    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1024)
    """Largest review body accepted; larger ones get 413 before being read."""

    read_timeout: float = Field(default=10.0, gt=0)
    """Seconds for a TLS handshake, a request head, then a body (``?timeout=`` may shorten it)."""

    keep_alive_timeout: int = Field(default=100, ge=1)
    """Seconds an idle connection stays open.

    Longer than the 90 s after which kube-apiserver's HTTP client drops idle
    connections itself, so the server never closes a connection the client is
    about to reuse for a POST it would not retry.
    """

    graceful_timeout: int = Field(default=25, ge=1)
    """Seconds SIGTERM waits for reviews in flight; below the 30 s default Pod grace period."""

    reload_interval: float = Field(default=2.0, gt=0)
    """Seconds between checks of the certificate files for a rotated pair."""

    max_connections: int = Field(default=1024, ge=1)
    """Open connections and reviews in progress beyond which new requests get 503."""

    @property
    def cert_file(self) -> Path:
        return self.cert_dir / "tls.crt"

    @property
    def key_file(self) -> Path:
        return self.cert_dir / "tls.key"

    @property
    def ca_file(self) -> Path:
        return self.cert_dir / "ca.crt"


def env_name(field: str) -> str:
    """The environment variable that mirrors a setting, e.g. ``INFERENCEPOOL_WEBHOOK_PORT``."""
    return ENV_PREFIX + field.upper()
