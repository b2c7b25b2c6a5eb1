"""The installed distribution: one import package, `lightrank`, and nothing else at the top.

The repository's top-level folders (`models/`, `components/`, `pipeline/`, `kubeflow/`) are
mapped into `lightrank.*` by pyproject.toml; a package folder missing from its list would
silently be left out of the wheel (and so of the pipeline image).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomli
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomli.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package_of(folder: Path) -> str:
    """The dotted name a package folder imports as, through pyproject's package-dir mapping."""
    relative = folder.relative_to(ROOT).parts
    for package, directory in sorted(SETUPTOOLS["package-dir"].items(), key=lambda item: -len(item[1])):
        if relative[: len(Path(directory).parts)] == Path(directory).parts:
            return ".".join([package, *relative[len(Path(directory).parts) :]])
    raise AssertionError(f"{folder} is not under a mapped folder")


def test_every_package_folder_is_listed():
    folders = {
        init.parent
        for directory in SETUPTOOLS["package-dir"].values()
        for init in (ROOT / directory).rglob("__init__.py")
    }
    assert sorted(_package_of(folder) for folder in folders) == sorted(SETUPTOOLS["packages"])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel, built from a clean copy (setuptools reuses a stale ./build otherwise)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for directory in SETUPTOOLS["package-dir"].values():
        shutil.copytree(ROOT / directory, source / directory, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("lightrank-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_installs_only_the_lightrank_package(wheel: zipfile.ZipFile):
    top_level = {name.split("/")[0] for name in wheel.namelist()}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"lightrank"}
    names = set(wheel.namelist())
    assert "lightrank/pipeline/configs/sample.yaml" in names
    assert not any("bench" in name.split("/")[0] or name.startswith("tests/") for name in names)


def test_the_wheel_holds_every_source_file_of_the_mapped_folders(wheel: zipfile.ZipFile):
    sources = {
        "/".join([*package.split("."), *path.relative_to(ROOT / directory).parts])
        for package, directory in SETUPTOOLS["package-dir"].items()
        for path in (ROOT / directory).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    shipped = {name for name in wheel.namelist() if name.endswith(".py")}
    assert {"lightrank/cli.py", "lightrank/models/trainer.py", "lightrank/kubeflow/compiler.py"} <= sources
    assert sorted(sources - shipped) == [], "a folder without __init__.py, or one not listed in pyproject"
    assert sorted(shipped - sources) == []


def test_the_benchmarks_are_a_distribution_of_their_own():
    bench = tomli.loads((ROOT / "bench" / "pyproject.toml").read_text())
    assert bench["project"]["name"] == "lightrank-bench"
    assert bench["tool"]["setuptools"]["packages"] == ["lightrank_bench"]
    assert bench["project"]["scripts"] == {"lightrank-bench": "lightrank_bench.cli:main"}
    product = tomli.loads((ROOT / "pyproject.toml").read_text())["project"]
    product_deps = {Requirement(text).name for text in product["dependencies"]}
    bench_deps = {Requirement(text).name for text in bench["project"]["dependencies"]}
    assert "lightrank" in bench_deps and {"lightgbm", "onnxruntime", "tf2onnx", "onnx"} <= bench_deps
    assert not product_deps & {"lightgbm", "onnxruntime", "tf2onnx", "onnx"}
    assert list(product["scripts"]) == ["lightrank"]


def test_the_console_script_is_the_thin_cli(wheel: zipfile.ZipFile):
    (entry_points,) = [name for name in wheel.namelist() if name.endswith("entry_points.txt")]
    assert "lightrank = lightrank.cli:main" in wheel.read(entry_points).decode()
