"""Reading Kubernetes manifests from files, directories and standard input.

Documents are decoded the way ``kubectl`` decodes them: YAML or JSON, several
YAML documents per file, and timestamps left as strings (a Kubernetes object
is JSON; YAML's own timestamp type does not exist there).
"""

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


class UnreadableManifestError(Exception):
    """A file cannot be read or decoded; ``check`` reports it and exits with 2."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source


@dataclass(frozen=True, slots=True)
class Document:
    source: str  # the file name as given, or "-" for standard input
    index: int  # 1-based position of the document in its file
    content: Any


class _KubernetesLoader(yaml.CSafeLoader):
    """libyaml's safe loader, keeping timestamps as strings as kubectl's YAML-to-JSON does."""


_KubernetesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


def expand(paths: list[str]) -> Iterator[str]:
    """The files to read: each path, with directories walked for manifest files."""
    for name in paths:
        path = Path(name)
        if name != STDIN and path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix in MANIFEST_SUFFIXES:
                    yield str(child)
        else:
            yield name


def read_documents(source: str) -> list[Document]:
    """Every non-empty document of one file (or of stdin for ``-``)."""
    try:
        text = sys.stdin.read() if source == STDIN else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UnreadableManifestError(source, f"cannot read: {reason}") from None

    try:
        if source.endswith(".json"):
            contents = [json.loads(text)]
        else:
            contents = list(yaml.load_all(text, Loader=_KubernetesLoader))
    except (ValueError, yaml.YAMLError) as exc:
        raise UnreadableManifestError(source, f"cannot decode: {_first_line(exc)}") from None
    return [Document(source, i, c) for i, c in enumerate(contents, start=1) if c is not None]


def _first_line(exc: Exception) -> str:
    # libyaml names the buffer, not the file; the file is already in front.
    text = " ".join(str(exc).split()).replace(' in "<unicode string>"', "")
    return text[:300]
