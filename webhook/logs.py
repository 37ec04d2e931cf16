"""Logging: the server's and uvicorn's loggers, as text or one JSON object per line.

One line per review goes to the ``webhook.reviews`` logger: routine allows at
DEBUG, denials at INFO, so that an INFO log holds exactly what an operator
acts on. Lines carry the review's uid and references to the object, never the
object itself, certificates or keys. Values from the request are escaped in
text lines, so that a hostile name cannot forge a log line.
"""

import datetime
import json
import logging
from typing import Any

from webhook.admission import AdmissionRequest, AdmissionResponse
from webhook.settings import LogFormat, LogLevel

reviews = logging.getLogger("webhook.reviews")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def config(log_format: LogFormat, level: LogLevel) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server; uvicorn applies it in every worker."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
    }
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "webhook": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            # One line per review is logged by the app; a second access line
            # per request would double the log volume and say less.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def review(
    endpoint: str, request: AdmissionRequest, response: AdmissionResponse, seconds: float
) -> None:
    """Log one decided review at DEBUG when allowed and INFO when denied."""
    level = logging.DEBUG if response.allowed else logging.INFO
    if not reviews.isEnabledFor(level):
        return
    code = response.status.code if response.status is not None else 200
    fields = {
        "uid": request.uid,
        "endpoint": endpoint,
        "operation": request.operation,
        "namespace": request.namespace,
        "name": request.name,
        "subResource": request.subResource,
        "user": request.userInfo.username,
        "allowed": response.allowed,
        "code": code,
        "durationMs": round(seconds * 1000, 3),
    }
    reviews.log(
        level,
        "review %s %s %s %s/%s%s by %s: allowed=%s code=%d in %.3fms",
        _clean(request.uid),
        endpoint,
        request.operation,
        _clean(request.namespace),
        _clean(request.name) or "(generated)",
        "/" + _clean(request.subResource) if request.subResource else "",
        _clean(request.userInfo.username) or "(anonymous)",
        response.allowed,
        code,
        seconds * 1000,
        extra={"fields": fields},
    )


def _clean(value: str) -> str:
    return value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
