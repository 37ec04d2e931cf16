"""``inferencepool-webhook check``: validate InferencePool manifests offline.

The same engine as the webhook decides, so a manifest that passes here is
admitted by the cluster (as far as the InferencePool rules go). Documents of
other kinds are skipped. Exit status: 0 when every pool is valid, 1 when some
pool is invalid, 2 when some input cannot be read or the command is misused.
"""

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import jsonpatch
import yaml

from webhook.defaulting import default_pool
from webhook.manifests import UnreadableManifestError, expand, read_documents
from webhook.schema import POOL_API_VERSION, POOL_GROUP, POOL_KIND
from webhook.validation import validate_pool
from webhook.warnings import pool_warnings

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    parser = commands.add_parser(
        "check",
        help="validate InferencePool manifests offline",
        description=(
            "Validate InferencePool manifests with the webhook's own rules."
            " Reads YAML or JSON files, directories (recursively) and - for stdin."
        ),
    )
    parser.add_argument(
        "paths", nargs="*", default=["-"], metavar="PATH", help="file, directory or - (default: -)"
    )
    parser.add_argument(
        "--output",
        "-o",
        choices=("text", "json", "defaulted"),
        default="text",
        help="text: one line per problem; json: one result per pool;"
        " defaulted: the valid pools as YAML with the webhook's defaults filled in",
    )
    parser.set_defaults(run=run)


@dataclass
class PoolResult:
    source: str
    document: int
    namespace: str
    name: str
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    defaulted: Any = None

    @property
    def where(self) -> str:
        who = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.source}:{self.document}: {who}"


def run(args: argparse.Namespace) -> int:
    results: list[PoolResult] = []
    unreadable = False
    for source in expand(args.paths):
        try:
            documents = read_documents(source)
        except UnreadableManifestError as exc:
            print(f"{exc}", file=sys.stderr)  # noqa: T201
            unreadable = True
            continue
        for document in documents:
            if not isinstance(document.content, dict):
                print(  # noqa: T201
                    f"{source}:{document.index}: not a Kubernetes object", file=sys.stderr
                )
                unreadable = True
                continue
            result = check_document(source, document.index, document.content, args.output)
            if result is not None:
                results.append(result)

    report(results, args.output, sys.stdout)
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_INVALID if any(r.errors for r in results) else EXIT_VALID


def check_document(source: str, index: int, obj: dict[str, Any], output: str) -> PoolResult | None:
    """The verdict on one document; None when it is not an InferencePool."""
    api_version = obj.get("apiVersion")
    if obj.get("kind") != POOL_KIND or not (
        isinstance(api_version, str) and api_version.startswith(f"{POOL_GROUP}/")
    ):
        return None
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    result = PoolResult(
        source,
        index,
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or metadata.get("generateName") or "<unnamed>"),
    )
    if api_version != POOL_API_VERSION:
        result.warnings.append(f"{api_version} is not checked: only {POOL_API_VERSION} is")
        return result
    result.errors = [
        {"type": e.type.cause, "field": e.field, "message": e.message} for e in validate_pool(obj)
    ]
    result.warnings = pool_warnings(obj)
    if output == "defaulted" and not result.errors:
        result.defaulted = jsonpatch.apply_patch(obj, default_pool(obj))
    return result


def report(results: list[PoolResult], output: str, out: TextIO) -> None:
    if output == "json":
        json.dump([_as_json(r) for r in results], out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    for line in _problem_lines(results):
        print(line, file=sys.stderr if output == "defaulted" else out)
    if output == "defaulted":
        valid = [r.defaulted for r in results if r.defaulted is not None]
        yaml.dump_all(valid, out, sort_keys=False, explicit_start=True, allow_unicode=True)


def _problem_lines(results: list[PoolResult]) -> Iterator[str]:
    for result in results:
        for error in result.errors:
            yield f"{result.where}: {error['field']}: {error['message']}"
        for warning in result.warnings:
            yield f"{result.where}: warning: {warning}"


def _as_json(result: PoolResult) -> dict[str, Any]:
    return {
        "file": result.source,
        "document": result.document,
        "namespace": result.namespace,
        "name": result.name,
        "valid": not result.errors,
        "errors": result.errors,
        "warnings": result.warnings,
    }
