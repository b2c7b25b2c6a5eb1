"""The pipeline image: no Docker engine here, so the Dockerfile and `make image` are checked as text."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata

import pytest
import tomli
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from lightrank.kubeflow import image_check
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


# The two locks: requirements.lock is what the pipeline runs (and all the image installs);
# requirements-dev.lock is what tests, lint and the benchmarks add on top of it.
RUNTIME_LOCK = PROJECT_ROOT / "requirements.lock"
DEV_LOCK = PROJECT_ROOT / "requirements-dev.lock"
REQUIREMENTS_IN = PROJECT_ROOT / "requirements.in"
# Development and benchmark tools: never in the runtime lock, so never in the image. The Jupyter
# front ends and servers come only through requirements.in's `#!exclude notebook`.
DEV_ONLY = (
    *("pytest", "ruff", "lightgbm", "onnxruntime", "tf2onnx", "onnx", "import-linter", "grimp"),
    *("notebook", "jupyterlab", "jupyter-server", "jupyterlab-server", "notebook-shim", "nbconvert"),
    *("jupyter-lsp", "jupyter-server-terminals", "jupyter-events", "terminado", "argon2-cffi"),
)
# Installed but pinned by neither lock: the editable project distributions, and pip, which comes
# with the venv and which `make lock` leaves out of the freeze.
UNPINNED = ("lightrank", "lightrank-bench", "pip")
# Markers are evaluated for the one platform the stack runs on: CPython 3.10 on Linux.
MARKER_ENV = {
    **default_environment(),
    "python_version": "3.10",
    "python_full_version": "3.10.13",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def _pins(path) -> dict[str, str]:
    """{PEP 503 name: version} of a lock; every line is a comment or `name==version`."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and name.strip() and version.strip(), f"{path.name}: not an exact pin: {line!r}"
        assert canonicalize_name(name) not in pins, f"{path.name}: {name} pinned twice"
        pins[canonicalize_name(name)] = version.strip()
    return pins


def _requirements_in(path) -> list[Requirement]:
    """The requirements of a requirements*.in file (comments and pip options such as -c dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _exclusions() -> frozenset[str]:
    """The `#!exclude NAME` lines of requirements.in: declared requirements the runtime lock omits."""
    names = re.findall(r"^#!exclude +([\w.-]+)", REQUIREMENTS_IN.read_text(), re.MULTILINE)
    return frozenset(canonicalize_name(name) for name in names)


EXCLUDED = _exclusions()


def _installed() -> dict[str, metadata.Distribution]:
    """{PEP 503 name: distribution} as imports see them (the first on sys.path wins)."""
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        found.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    return found


def _closure(
    roots: list[Requirement], installed: dict[str, metadata.Distribution], cut: frozenset[str] = frozenset()
) -> dict[str, set[str]]:
    """{name: extras} of the roots and, recursively, of everything they require on py3.10/Linux.

    The distributions named in `cut` are not entered (what `make lock` does with `#!exclude`).
    """
    extras: dict[str, set[str]] = {}
    pending = list(roots)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        wanted = {canonicalize_name(extra) for extra in requirement.extras}
        if name in cut or (name in extras and wanted <= extras[name]):
            continue
        extras.setdefault(name, set()).update(wanted)
        assert name in installed, f"{name} (required via {requirement}) is not installed"
        pending += _requires(installed[name], extras[name])
    return extras


def _requires(dist: metadata.Distribution, extras: set[str]) -> list[Requirement]:
    """The requirements of an installed distribution that apply on py3.10/Linux with these extras."""
    result = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({**MARKER_ENV, "extra": e}) for e in {"", *extras}):
            result.append(requirement)
    return result


@pytest.fixture(scope="module")
def runtime_pins() -> dict[str, str]:
    return _pins(RUNTIME_LOCK)


@pytest.fixture(scope="module")
def dev_pins() -> dict[str, str]:
    return _pins(DEV_LOCK)


def test_the_runtime_lock_has_no_development_or_benchmark_package(runtime_pins, dev_pins):
    assert not set(runtime_pins) & set(dev_pins)
    for name in DEV_ONLY:
        assert name not in runtime_pins, f"{name} is a development/benchmark tool: requirements-dev.lock"
        assert name in dev_pins, name


def test_the_two_locks_pin_exactly_what_is_installed(runtime_pins, dev_pins):
    pinned = {**runtime_pins, **dev_pins}
    installed = {name: dist.version for name, dist in _installed().items() if name not in UNPINNED}
    assert sorted(set(installed) - set(pinned)) == [], "installed but pinned by neither lock"
    assert sorted(set(pinned) - set(installed)) == [], "pinned but not installed: run make setup"
    assert {n: v for n, v in installed.items() if pinned[n] != v} == {}, "installed != locked version"


def test_the_runtime_lock_is_closed_and_exactly_what_requirements_in_needs(runtime_pins):
    installed = _installed()
    needed = _closure(_requirements_in(REQUIREMENTS_IN), installed, cut=EXCLUDED)
    # Closed: every requirement of every runtime package (with the extras anyone asks of it) is in
    # the runtime lock, at a version that satisfies it; the one exception is a declared exclusion
    # (`#!exclude` in requirements.in), which must be missing, not merely older.
    unsatisfied, cut_off = [], set()
    for name in runtime_pins:
        for requirement in _requires(installed[name], needed.get(name, set())):
            version = runtime_pins.get(canonicalize_name(requirement.name))
            if version is None and canonicalize_name(requirement.name) in EXCLUDED:
                cut_off.add(canonicalize_name(requirement.name))
            elif version is None or not requirement.specifier.contains(version, prereleases=True):
                unsatisfied.append(f"{name}: {requirement} (locked: {version})")
    assert unsatisfied == []
    # Every exclusion is one that a runtime package declares (else the `#!exclude` line is stale).
    assert sorted(cut_off) == sorted(EXCLUDED)
    # Minimal: nothing in the runtime lock that requirements.in does not pull in.
    assert sorted(set(runtime_pins) - set(needed)) == []
    assert sorted(set(needed) - set(runtime_pins)) == []


def _only_through_exclusions(installed: dict[str, metadata.Distribution]) -> set[str]:
    """What requirements.in pulls in only through a `#!exclude`d distribution (it included)."""
    roots = _requirements_in(REQUIREMENTS_IN)
    return set(_closure(roots, installed)) - set(_closure(roots, installed, cut=EXCLUDED))


def test_the_runtime_lock_has_no_jupyter_front_end_or_server(runtime_pins, dev_pins):
    assert sorted(EXCLUDED) == ["notebook"]
    excluded = _only_through_exclusions(_installed())
    assert {"notebook", "jupyterlab", "jupyter-server", "nbconvert", "terminado", "argon2-cffi"} <= excluded
    assert sorted(excluded & set(runtime_pins)) == []
    # Development keeps them (requirements-dev.in: looking at an evaluation in a notebook).
    assert sorted(excluded - set(dev_pins)) == []
    # What TFMA declares, and what the image's imports load through it, stays: ipywidgets 7.8
    # imports ipykernel without declaring it (requirements.in names it).
    assert {"ipywidgets", "widgetsnbextension", "ipykernel", "jupyter-client", "tornado"} <= set(runtime_pins)
    declared = {canonicalize_name(r.name) for r in _requires(_installed()["ipywidgets"], set())}
    assert "ipykernel" not in declared  # else requirements.in no longer needs to name it


def _top_level_modules(dist: metadata.Distribution) -> set[str]:
    """The top-level import names a distribution installs (from its RECORD)."""
    names = set()
    for file in dist.files or []:
        top = file.parts[0]
        name = top if len(file.parts) > 1 else top.split(".")[0]
        if not top.endswith((".dist-info", ".data")) and name.isidentifier() and name != "__pycache__":
            names.add(name)
    return names


# Run in a fresh interpreter: a finder first on sys.meta_path refuses every top-level module of the
# excluded distributions as if it were not installed, then the image check imports every path of
# kubeflow/image_imports.txt as `python -m lightrank.kubeflow.image_check` does in the image.
WITHOUT_EXCLUDED = """
import importlib, json, sys
refused, attempted = set(json.loads(sys.argv[1])), set()
preloaded = sorted(name for name in sys.modules if name.partition(".")[0] in refused)

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in refused:
            attempted.add(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Refuse())
try:
    importlib.import_module("notebook")
    probe = "imported"
except ModuleNotFoundError:
    probe = "refused"
attempted.clear()
from lightrank.kubeflow import image_check
code = image_check.main([])
print(json.dumps({"probe": probe, "preloaded": preloaded, "attempted": sorted(attempted), "exit": code}))
"""


def test_every_image_import_works_without_the_excluded_distributions(tmp_path):
    installed = _installed()
    excluded = _only_through_exclusions(installed)
    kept = set(installed) - excluded
    refused = set().union(*(_top_level_modules(installed[name]) for name in excluded))
    refused -= set().union(*(_top_level_modules(installed[name]) for name in kept))
    assert {"notebook", "jupyterlab", "jupyter_server", "nbconvert", "terminado"} <= refused
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXCLUDED, json.dumps(sorted(refused))],
        cwd=tmp_path,  # outside the source tree, as in the image
        env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and len(lines) >= 2, result.stderr[-3000:]
    report, summary = json.loads(lines[-1]), json.loads(lines[-2])
    assert report["probe"] == "refused" and report["preloaded"] == []
    assert report["exit"] == 0 and summary == {"imported": len(image_check.listed_paths()), "failed": 0}, (
        result.stderr[-3000:]
    )
    # Nothing even tried to import them: no `except ImportError` fallback is taken either.
    assert report["attempted"] == [], "the image's imports reach an excluded distribution"


def test_the_dev_lock_adds_only_what_requirements_dev_in_needs(runtime_pins, dev_pins):
    text = (PROJECT_ROOT / "requirements-dev.in").read_text()
    assert re.search(r"^-c requirements\.lock$", text, re.MULTILINE), "dev versions must agree with runtime"
    pinned = {**runtime_pins, **dev_pins}
    needed = _closure(_requirements_in(PROJECT_ROOT / "requirements-dev.in"), _installed())
    assert sorted(set(needed) - set(pinned)) == []
    assert sorted(set(dev_pins) - set(needed)) == [], "in requirements-dev.lock but needed by no dev tool"
    for requirement in _requirements_in(PROJECT_ROOT / "requirements-dev.in"):
        assert requirement.specifier.contains(pinned[canonicalize_name(requirement.name)]), requirement


def test_pyproject_dependencies_are_runtime_and_the_dev_extra_is_the_dev_lock(runtime_pins, dev_pins):
    project = tomli.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in runtime_pins, f"{text}: a product dependency must be in requirements.lock"
        assert requirement.specifier.contains(runtime_pins[name], prereleases=True), text
    assert "pydantic==2.14.4" in project["dependencies"]
    extra = project["optional-dependencies"]["dev"]
    dev = {canonicalize_name(Requirement(text).name): text for text in extra}
    assert set(dev) == {"pytest", "ruff", "import-linter", "grimp"}
    for name, text in dev.items():
        assert Requirement(text).specifier == SpecifierSet(f"=={dev_pins[name]}"), text
    bench = tomli.loads((PROJECT_ROOT / "bench" / "pyproject.toml").read_text())["project"]
    for text in bench["dependencies"]:
        name = canonicalize_name(Requirement(text).name)
        assert name == "lightrank" or name in {**runtime_pins, **dev_pins}, text


def test_the_image_installs_the_runtime_lock_and_nothing_of_development(stages):
    instructions = [(keyword, rest) for stage in stages for keyword, rest in stage]
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert sum("-r requirements.lock" in cmd for cmd in runs) == 1
    for keyword, rest in instructions:
        for word in ("requirements-dev", "bench", "pytest", "[dev]"):
            assert word not in rest, f"{keyword} {rest}"
    ignored = (PROJECT_ROOT / "kubeflow" / "Dockerfile.dockerignore").read_text().splitlines()
    assert {"bench", "requirements-dev.lock"} <= set(ignored)


def test_make_setup_installs_the_runtime_lock_then_the_dev_lock_then_the_project():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    stamp = re.search(r"^\$\(STAMP\): (.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert stamp and {"requirements.lock", "requirements-dev.lock"} <= set(stamp.group(1).split())
    recipe = stamp.group(2)
    runtime = recipe.index("--no-deps -r requirements.lock")
    dev = recipe.index("--no-deps -r requirements-dev.lock")
    assert runtime < dev < recipe.index("-e . -e bench")
