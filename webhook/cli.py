"""The ``inferencepool-webhook`` command and its subcommands.

Each subcommand lives in :mod:`webhook.commands` and imports what it needs only
when it runs, so ``check`` starts without loading the web stack.
"""

import argparse
from collections.abc import Sequence

from webhook import __version__
from webhook.commands import certs, check, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inferencepool-webhook",
        description="Admission webhook for InferencePool (inference.networking.k8s.io/v1).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (check, serve, certs):
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.run(args)
    return status
