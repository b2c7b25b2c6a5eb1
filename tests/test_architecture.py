"""The layers of docs/architecture.md hold, and import-linter's contract would catch a break.

`make lint` runs the same contracts through scripts/lint_imports.py; this test makes `make test`
(and so CI) fail on an import against the layers too, and checks on a copy of the package that
the contract really fails when the model code imports the pipeline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomli

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "lint_imports.py"
PYPROJECT = tomli.loads((ROOT / "pyproject.toml").read_text())
LAYERS = [
    "lightrank.cli",
    "lightrank.kubeflow",
    "lightrank.pipeline",
    "lightrank.components",
    "lightrank.models",
]


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--no-logo", *args], capture_output=True, text=True, timeout=300
    )


def test_the_layer_contract_is_the_documented_order():
    (layers,) = [c for c in PYPROJECT["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert layers["layers"] == LAYERS
    rule = " <- ".join(name.rsplit(".", 1)[1] for name in reversed(LAYERS))
    assert rule == "models <- components <- pipeline <- kubeflow <- cli"
    assert rule in layers["name"] and rule in (ROOT / "docs" / "architecture.md").read_text()


def test_the_product_keeps_every_contract():
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and result.stdout.count("KEPT") >= 3
    # Every module is in the graph, not just the top folder (grimp walks the copied tree).
    analysed = int(result.stdout.split("Analyzed ")[1].split(" files")[0])
    shipped = sum(1 for folder in PYPROJECT["tool"]["setuptools"]["package-dir"].values()
                  for _ in (ROOT / folder).rglob("*.py"))  # fmt: skip
    assert analysed >= shipped


def test_the_contract_fails_when_the_model_code_imports_the_pipeline(tmp_path: Path):
    tree = tmp_path / "tree"
    assert _lint("--tree", str(tree)).returncode == 0
    features = tree / "lightrank" / "models" / "features.py"
    features.write_text(
        features.read_text() + "\nfrom lightrank.pipeline.config import SAMPLE_CONFIG  # noqa\n"
    )
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--config", str(ROOT / "pyproject.toml"),
         "--no-cache", "--no-logo"],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": ""}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "lightrank.models.features -> lightrank.pipeline.config" in result.stdout
