"""Runs import-linter on the package as it ships: the folders laid out as `lightrank/...`.

pyproject.toml maps `models/`, `components/`, `pipeline/` and `kubeflow/` into the one package
`lightrank`; grimp, which import-linter builds its graph with, walks a package's own folder, so
in the repository it would see none of the mapped sub-packages. This copies them into a
temporary tree in the installed layout (from the sources, so no stale build output can slip
in) and runs `lint-imports` on it with the contracts of pyproject.toml.

    python scripts/lint_imports.py [--tree DIR] [lint-imports options ...]

`--tree DIR` builds the tree in DIR and keeps it (a test edits such a copy to check that a
contract fails); the exit status is lint-imports'.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tomli

ROOT = Path(__file__).resolve().parents[1]


def build_tree(destination: Path) -> Path:
    """Copies the package into `destination/lightrank/...` as pyproject.toml maps it."""
    package_dirs = tomli.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package, folder in sorted(package_dirs.items()):
        target = destination.joinpath(*package.split("."))
        shutil.copytree(ROOT / folder, target, ignore=ignore, dirs_exist_ok=True)
    return destination


def run(tree: Path, options: list[str]) -> int:
    """`lint-imports` over `tree` with the repository's contracts.

    import-linter puts its working directory first on the import path, so it runs in `tree`:
    from the repository root, `lightrank` would be the repository's own `lightrank/` folder.
    """
    lint_imports = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    command = [str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache", *options]
    return subprocess.run(command, cwd=tree, env=env).returncode


def main(argv: list[str]) -> int:
    """Builds the tree (in `--tree DIR`, or a temporary folder) and lints it."""
    if "--tree" in argv:
        at = argv.index("--tree")
        tree, options = Path(argv[at + 1]), argv[:at] + argv[at + 2 :]
        return run(build_tree(tree), options)
    with tempfile.TemporaryDirectory(prefix="lightrank-importlint-") as tree:
        return run(build_tree(Path(tree)), argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
