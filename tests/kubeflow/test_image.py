"""The pipeline image: no Docker engine here, so the Dockerfile and `make image` are checked as text."""

from __future__ import annotations

import re

import pytest
import tomli

from lightrank.kubeflow.cloud import DEFAULT_IMAGE, IMAGE_DATA_DIRS, IMAGE_WORKDIR, PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "kubeflow" / "Dockerfile"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


@pytest.fixture(scope="module")
def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's build stages, each a list of instructions starting with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for instruction in _instructions(DOCKERFILE.read_text()):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def _args() -> dict[str, str]:
    return dict(
        rest.split("=", 1) for keyword, rest in _instructions(DOCKERFILE.read_text()) if keyword == "ARG"
    )


def _lock_version(package: str) -> str:
    for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines():
        if line.lower().startswith(f"{package}=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{package} not in requirements.lock")


def test_python_310_base_and_the_locked_beam_worker_boot():
    args = _args()
    assert args["PYTHON_IMAGE"].startswith("python:3.10")
    assert args["BEAM_VERSION"] == _lock_version("apache-beam")
    assert "FROM apache/beam_python3.10_sdk:${BEAM_VERSION} AS beam" in DOCKERFILE.read_text()


def test_the_stack_is_installed_like_ci_from_the_lock_then_the_project(stages):
    build = [rest for keyword, rest in stages[1] if keyword == "RUN"]
    lock = next(i for i, cmd in enumerate(build) if "pip install --no-deps -r requirements.lock" in cmd)
    project = next(i for i, cmd in enumerate(build) if "pip install --no-deps --no-build-isolation ." in cmd)
    assert lock < project
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "--no-deps -r requirements.lock" in makefile and "--no-deps --no-build-isolation" in makefile


def test_every_package_and_the_schema_are_copied(stages):
    pyproject = tomli.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    packages = sorted(set(pyproject["tool"]["setuptools"]["package-dir"].values()))
    copies = [rest for keyword, rest in stages[1] if keyword == "COPY"]
    for directory in [*packages, *IMAGE_DATA_DIRS]:
        assert f"{directory}/ {directory}/" in copies, directory
    assert "pyproject.toml README.md ./" in copies  # the readme is part of the package metadata


def test_the_runtime_stage_sets_legacy_keras_the_workdir_and_the_schema(stages):
    final = stages[-1]
    env = " ".join(rest for keyword, rest in final if keyword == "ENV")
    assert "TF_USE_LEGACY_KERAS=1" in env and "PATH=/opt/venv/bin:$PATH" in env
    assert ("WORKDIR", IMAGE_WORKDIR) in final
    for directory in IMAGE_DATA_DIRS:
        assert ("COPY", f"--from=build {IMAGE_WORKDIR}/{directory} {IMAGE_WORKDIR}/{directory}") in final
    assert ("COPY", "--from=beam /opt/apache/beam /opt/apache/beam") in final
    assert final[-1] == ("ENTRYPOINT", '["/opt/apache/beam/boot"]')


def test_make_image_builds_this_dockerfile_under_the_compile_default_name():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^IMAGE \?= (\S+)$", makefile, re.MULTILINE).group(1) == DEFAULT_IMAGE
    target = re.search(r"^image:\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert target and "docker build -f kubeflow/Dockerfile -t $(IMAGE) ." in target.group(1)
    assert "make image" in makefile.split("help:", 1)[1].split("\n\n", 1)[0]
