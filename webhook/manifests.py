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
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# Plain scalars repeat (keys above all); their resolved tags are memoised, up
# to a bound so that a file of distinct values cannot grow memory.
_RESOLVED_LIMIT = 65536


class _KubernetesLoader(yaml.CSafeLoader):
    """libyaml's safe loader, fitted to Kubernetes manifests.

    Timestamps stay strings, as kubectl's YAML-to-JSON conversion leaves them.
    Documents are built by one tight function instead of PyYAML's general
    constructor (which dominates the cost of reading a large manifest); tags
    other than str, map and seq still go through the safe constructors, and
    aliases share one object as they do in PyYAML, so an alias bomb cannot
    multiply work. Merge keys (``<<``) are the one YAML feature this drops
    to the general constructor for.
    """

    _resolved: ClassVar[dict[str, str]] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is MappingNode:
            return _MAP
        if kind is SequenceNode:
            return _SEQ
        if not implicit[0]:
            return _STR
        tag = self._resolved.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(self._resolved) >= _RESOLVED_LIMIT:
                self._resolved.clear()
            self._resolved[value] = tag
        return tag

    def construct_document(self, node: Node) -> Any:
        built: dict[int, Any] = {}
        constructors = self.yaml_constructors

        def build(node: Node) -> Any:
            if node.__class__ is ScalarNode:
                if node.tag == _STR:
                    return node.value
                return constructors[node.tag](self, node)
            if id(node) in built:
                return built[id(node)]
            if node.__class__ is MappingNode and node.tag == _MAP:
                mapping: dict[Any, Any] = {}
                built[id(node)] = mapping
                for key, value in node.value:
                    if key.tag == "tag:yaml.org,2002:merge":
                        built[id(node)] = mapping = super(
                            _KubernetesLoader, self
                        ).construct_document(node)
                        return mapping
                    mapping[build(key)] = build(value)
                return mapping
            if node.__class__ is SequenceNode and node.tag == _SEQ:
                sequence: list[Any] = []
                built[id(node)] = sequence
                sequence.extend(build(item) for item in node.value)
                return sequence
            return super(_KubernetesLoader, self).construct_document(node)

        return build(node)


_KubernetesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
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
    except (ValueError, TypeError, RecursionError, yaml.YAMLError) as exc:
        raise UnreadableManifestError(source, f"cannot decode: {_first_line(exc)}") from None
    return [Document(source, i, c) for i, c in enumerate(contents, start=1) if c is not None]


def _first_line(exc: Exception) -> str:
    # libyaml names the buffer, not the file; the file is already in front.
    text = " ".join(str(exc).split()).replace(' in "<unicode string>"', "")
    return text[:300]
