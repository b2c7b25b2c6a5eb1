"""The layers of docs/architecture.md hold, and import-linter's contract would catch a break.

`make lint` runs the same contracts; this test makes `make test` (and so CI) fail on an import
against the layers too, and checks on a copy of the tree that the contract really fails when
the model code imports the pipeline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomli

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PYPROJECT = tomli.loads((ROOT / "pyproject.toml").read_text())
LAYERS = [
    "lightrank.cli",
    "lightrank.kubeflow",
    "lightrank.pipeline",
    "lightrank.components",
    "lightrank.models",
]


def _lint(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layer_contract_is_the_documented_order():
    (layers,) = [c for c in PYPROJECT["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert layers["layers"] == LAYERS
    assert (
        " <- ".join(name.rsplit(".", 1)[1] for name in reversed(LAYERS))
        in (ROOT / "docs" / "architecture.md").read_text().replace("\n", " ")
        or "models <- components" in layers["name"]
    )


def test_the_product_keeps_every_contract():
    result = _lint(cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and result.stdout.count("KEPT") >= 3


def _copy_as_one_tree(destination: Path) -> Path:
    """The product's folders laid out as the installed package (`lightrank/models/...`)."""
    package = destination / "lightrank"
    shutil.copytree(ROOT / "lightrank", package, ignore=shutil.ignore_patterns("__pycache__"))
    for name, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
        if name != "lightrank":
            shutil.copytree(
                ROOT / folder, package / name.split(".", 1)[1], ignore=shutil.ignore_patterns("__pycache__")
            )
    return package


def test_the_contract_fails_when_the_model_code_imports_the_pipeline(tmp_path: Path):
    package = _copy_as_one_tree(tmp_path / "src")
    features = package / "models" / "features.py"
    features.write_text(
        features.read_text() + "\nfrom lightrank.pipeline.config import SAMPLE_CONFIG  # noqa\n"
    )
    config = tmp_path / "contracts.ini"
    layers = "".join(f"    {layer}\n" for layer in LAYERS)
    config.write_text(
        "[importlinter]\nroot_package = lightrank\n\n"
        f"[importlinter:contract:layers]\nname = layers\ntype = layers\nlayers =\n{layers}"
    )
    result = _lint("--config", str(config), cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "src")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "lightrank.models.features -> lightrank.pipeline.config" in result.stdout
