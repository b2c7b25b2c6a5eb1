"""docs/own_data.md's worked example, run verbatim: the catalog dataset from generator to pushed model.

The commands are read from the page's first `bash` block under "A worked example" and run by
bash in an empty folder, as a reader would paste them, with only the virtualenv's `bin` on the
PATH first. What they leave behind is then checked in ML Metadata and on disk.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from tfx.orchestration import metadata

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "own_data.md"


def worked_example() -> str:
    """The first ```bash block of the "A worked example" section."""
    section = DOC.read_text().split("## A worked example", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "docs/own_data.md has no bash block under 'A worked example'"
    return match.group(1)


def test_the_worked_example_has_the_documented_commands():
    commands = [line.split()[:3] for line in worked_example().strip().splitlines()]
    assert [c[:2] for c in commands] == [
        ["lightrank", "data"], ["lightrank", "schema"], ["lightrank", "run"], ["lightrank", "runs"],
        ["lightrank", "eval"],
    ]  # fmt: skip


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("own_data")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TF_USE_LEGACY_KERAS": "1",
    }
    script = "set -euo pipefail\n" + worked_example()
    result = subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return folder, result.stdout


def test_schema_infer_guesses_the_catalog_roles(ran):
    folder, out = ran
    for line in ("request key: query_id", "label: clicked", "-> task clicked", "weight: ref_rank",
                 "heavy score: ref_score", "ts: timestamp-like"):  # fmt: skip
        assert line in out
    config = (folder / "my_ranker" / "config.yaml").read_text()
    assert "splits:" in config and "task: clicked" in config


def test_the_run_trains_on_train_gates_on_eval_and_pushes(ran):
    folder, out = ran
    assert "Pipeline 'my-ranker' on train " in out and "task clicked (label clicked)" in out
    assert "Blessed:        yes" in out
    store = metadata_store.MetadataStore(
        metadata.sqlite_metadata_connection_config(str(folder / "runs" / "my-ranker" / "metadata.db"))
    )
    [examples] = [a for a in store.get_artifacts_by_type("Examples") if "/ImportExampleGen/" in a.uri]
    assert json.loads(examples.properties["split_names"].string_value) == ["train", "eval"]
    [evaluator] = [e for e in store.get_executions() if e.type.endswith("Evaluator")]
    assert json.loads(evaluator.custom_properties["example_splits"].string_value) == ["eval"]
    [version] = glob.glob(str(folder / "runs" / "my-ranker" / "serving" / "*"))
    model = tf.saved_model.load(version)
    records = list(tf.data.TFRecordDataset(glob.glob(f"{folder}/data/catalog/eval/*.gz"), "GZIP").take(8))
    scores = model.signatures["serving_default"](examples=tf.stack(records))["prediction"]
    assert scores.shape == (8, 1)


def test_runs_and_eval_read_what_the_run_left(ran):
    folder, out = ran
    assert re.search(r"\n\S+ +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d .* complete ", out)  # the `runs` table row
    evaluated = folder / "eval" / "my-ranker"
    metrics = json.loads((evaluated / "metrics.json").read_text())
    (log,) = re.findall(r"\(full log: (\S+)\)", out)
    assert (folder / log).resolve() == (evaluated / "eval.log").resolve()
    assert (evaluated / "eval.log").is_file()
    assert metrics["data"] == "data/catalog/eval/*.gz"
    assert metrics["metrics"]["Overall"]["example_count"] == 3815  # every eval candidate of the catalog
