"""The Dockerfile and its build context, checked without building an image.

No container engine runs here, so the image is judged by what the Dockerfile
says: hadolint lints it, and the instructions of the runtime stage are held
against the Deployment and the server's settings, which they must agree with.
"""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

from tests.kustomize import MANIFESTS, REPO, SERVICE, Object, one, render
from webhook import cli
from webhook.settings import Settings

DOCKERFILE = REPO / "Dockerfile"

Instruction = tuple[str, str]


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuations joined."""
    out: list[Instruction] = []
    logical = ""
    for line in text.splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            logical += line[:-1]
            continue
        logical += line
        keyword, _, arguments = logical.strip().partition(" ")
        out.append((keyword.upper(), " ".join(arguments.split())))
        logical = ""
    return out


def stages() -> list[list[Instruction]]:
    """The instructions of each build stage, FROM first."""
    found: list[list[Instruction]] = []
    for instruction in instructions(DOCKERFILE.read_text()):
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def runtime(keyword: str) -> list[str]:
    """The arguments of every ``keyword`` instruction in the last (runtime) stage."""
    return [arguments for k, arguments in stages()[-1] if k == keyword]


def env(stage: list[Instruction]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for keyword, arguments in stage:
        if keyword == "ENV":
            for pair in arguments.split():
                name, _, value = pair.partition("=")
                variables[name] = value
    return variables


@cache
def deployment_pod() -> Object:
    pod: Object = one(render(MANIFESTS), "Deployment", SERVICE)["spec"]["template"]["spec"]
    return pod


def hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    assert found is not None, "no hadolint: install the test extra (pip install -e '.[test]')"
    return found


def test_hadolint_finds_nothing_to_report() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, json.loads(result.stdout or "null"), result.stderr) == (0, [], "")


def test_the_image_is_built_in_two_stages_on_slim_python_3_11() -> None:
    assert [stage[0] for stage in stages()] == [
        ("FROM", "python:3.11-slim-bookworm AS build"),
        ("FROM", "python:3.11-slim-bookworm"),
    ]


def test_dependencies_come_from_the_projects_own_metadata() -> None:
    build = stages()[0]
    assert [i for i in build if i[0] in ("COPY", "RUN")] == [
        ("RUN", "python -m venv /opt/venv"),
        ("COPY", "pyproject.toml README.md ./"),
        ("COPY", "webhook ./webhook"),
        ("RUN", "pip install --no-cache-dir ."),
    ]


def test_the_runtime_stage_copies_only_the_installed_environment() -> None:
    assert runtime("COPY") == ["--from=build /opt/venv /opt/venv"]


def test_the_image_runs_as_the_fixed_user_the_deployment_runs_as() -> None:
    context = deployment_pod()["securityContext"]
    assert runtime("USER") == [f"{context['runAsUser']}:{context['runAsGroup']}"]


def test_the_image_never_writes_bytecode_so_a_read_only_root_works() -> None:
    assert env(stages()[-1])["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_image_exposes_the_servers_default_port() -> None:
    assert runtime("EXPOSE") == [str(Settings.model_fields["port"].default)]


def test_the_entrypoint_is_the_packages_command() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert (runtime("ENTRYPOINT"), "inferencepool-webhook" in scripts) == (
        ['["inferencepool-webhook"]'],
        True,
    )


def test_the_default_command_serves_on_all_addresses_with_the_mounted_certificates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env(stages()[-1]).items():
        monkeypatch.setenv(name, value)
    (command,) = runtime("CMD")
    args = cli.build_parser().parse_args(json.loads(command))
    given = {name: getattr(args, name) for name in Settings.model_fields if hasattr(args, name)}
    settings = Settings(**given)
    (mount,) = deployment_pod()["containers"][0]["volumeMounts"]
    assert (args.command, settings.host, settings.cert_dir) == (
        "serve",
        "0.0.0.0",
        Path(mount["mountPath"]),
    )


# --- the build context -----------------------------------------------------


def _pattern(text: str) -> re.Pattern[str]:
    # Docker's syntax: `**` spans directories, `*` and `?` stay within one.
    regex = ""
    for token in re.split(r"(\*\*/?|\*|\?)", text.strip("/")):
        if token.startswith("**"):
            regex += "(.*/)?" if token.endswith("/") else ".*"
        elif token == "*":
            regex += "[^/]*"
        elif token == "?":
            regex += "[^/]"
        else:
            regex += re.escape(token)
    return re.compile(regex)


def in_context(path: str, rules: list[str]) -> bool:
    """Whether .dockerignore ``rules`` let ``path`` into the build context.

    The last rule that matches the path or one of its parent directories
    decides, as in Docker; a ``!`` rule lets a path back in.
    """
    parents = [path] + ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 1)]
    included = True
    for rule in rules:
        exception = rule.startswith("!")
        pattern = _pattern(rule.removeprefix("!"))
        if any(pattern.fullmatch(p) for p in parents):
            included = exception
    return included


def test_the_build_context_holds_only_what_the_build_copies() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    local = [
        ".venv/bin/python",
        ".git/config",
        "certs/tls.key",
        "manifests/overlays/self-signed/certs/tls.key",
        "webhook/__pycache__/app.cpython-311.pyc",
        ".mypy_cache/3.11/webhook/app.meta.json",
    ]
    context = {path for path in tracked + local if in_context(path, rules)}
    assert context == {
        path
        for path in tracked
        if path in ("pyproject.toml", "README.md") or path.startswith("webhook/")
    }
