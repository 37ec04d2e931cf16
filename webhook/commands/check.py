"""``inferencepool-webhook check``: validate manifests offline (placeholder)."""

import argparse
from typing import Any


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    parser = commands.add_parser("check", help="validate InferencePool manifests offline")
    parser.add_argument("paths", nargs="*", default=["-"], metavar="PATH")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return 0
