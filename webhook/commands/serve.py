"""``inferencepool-webhook serve``: the admission webhook over HTTPS.

Every setting of :class:`webhook.settings.Settings` is a flag here, named
after the setting (``cert_dir`` is ``--cert-dir``); flags not given fall back
to the environment, then to the default.
"""

import argparse
import logging
import logging.config
import shlex
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from webhook import certs, logs
from webhook.settings import Settings, env_name
from webhook.tls import CertificateError, check_pair

logger = logging.getLogger("webhook.serve")

SAMPLE = Path("samples/create-valid.json")


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    parser = commands.add_parser(
        "serve",
        help="serve the admission webhook over HTTPS",
        description="Serve /mutate and /validate over HTTPS. Each flag has an environment "
        "variable mirror; a flag wins over its variable.",
    )
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        help_text = f"{field.description} [env {env_name(name)}, default {field.default}]"
        choices = typing.get_args(field.annotation)
        if choices:
            parser.add_argument(flag, choices=choices, default=argparse.SUPPRESS, help=help_text)
        else:
            kind: Any = field.annotation
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=help_text)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The web stack loads only for this command, so ``check`` starts without it.
    from webhook import server  # noqa: PLC0415

    given = {name: getattr(args, name) for name in Settings.model_fields if hasattr(args, name)}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"])
            sys.stderr.write(f"inferencepool-webhook serve: {where}: {error['msg']}\n")
        return 2
    logging.config.dictConfig(logs.config(settings.log_format, settings.log_level))

    if not certs.has_pair(settings.cert_dir):
        try:
            _create_development_certificates(settings)
        except OSError as exc:
            # A read-only or missing mount in a Pod: say so, without a traceback.
            logger.error(
                "cannot start: no certificate in %s and none can be created there: %s",
                settings.cert_dir,
                exc,
            )
            return 1

    # Checked once here, so that a broken pair stops the server with one clear
    # line instead of a traceback from every worker.
    try:
        check_pair(settings.cert_file, settings.key_file)
    except CertificateError as exc:
        logger.error("cannot start: %s", exc)
        return 1
    return server.run(settings)


def _create_development_certificates(settings: Settings) -> None:
    names = [*certs.DEFAULT_DNS, *certs.DEFAULT_IPS]
    certs.write(
        certs.issue(certs.DEFAULT_DNS, certs.DEFAULT_IPS, certs.DEFAULT_DAYS), settings.cert_dir
    )
    logger.info(
        "no certificate in %s: created a development CA and a serving certificate for %s",
        settings.cert_dir,
        ", ".join(names),
    )
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    url = f"https://{host}:{settings.port}"
    ca = shlex.quote(str(settings.ca_file))
    if SAMPLE.exists():
        command = (
            f"curl --cacert {ca} -H 'Content-Type: application/json' "
            f"--data-binary @{SAMPLE} '{url}/validate?timeout=10s'"
        )
    else:
        command = f"curl --cacert {ca} {url}/readyz"
    sys.stdout.write(f"try: {command}\n")
    sys.stdout.flush()
