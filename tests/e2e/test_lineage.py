"""`lightrank runs | lineage | compare | report` and the RunReport artifact, on real tiny runs.

One module-scoped store holds three runs of one pipeline: A (the sample
settings), B (a different learning rate: a new model, blessed and pushed) and C
(data with a schema anomaly: stopped at the gate). Every test reads that store;
none may change it.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import run, tiny_config, write_doctored_data
from ml_metadata.proto import metadata_store_pb2

from lightrank.cli import main
from lightrank.components.anomaly_gate import DataAnomaliesError
from lightrank.components.model_evaluation import metrics_by_slice
from lightrank.components.run_report.artifacts import calibration_bins, recall_curves, training_summary
from lightrank.components.run_report.component import REPORT_FILE
from lightrank.pipeline.metadata.runs import list_runs, open_store

pytestmark = pytest.mark.e2e

LEARNING_RATE_B = 0.01
#: What each component of a run writes that belongs to a model's trace (Transform's side outputs do not).
TRACED_OUTPUTS = {
    "ImportExampleGen": {"examples"},
    "StatisticsGen": {"statistics"},
    "ImportSchemaGen": {"schema"},
    "ExampleValidator": {"anomalies"},
    "Transform": {"transform_graph", "transformed_examples"},
    "Trainer": {"model", "model_run"},
    "Evaluator": {"evaluation", "blessing"},
    "Pusher": {"pushed_model"},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, tiny_data: str) -> dict:
    workdir = tmp_path_factory.mktemp("lineage")
    config_a = tiny_config(workdir, tiny_data)
    config_b = tiny_config(workdir, tiny_data, f"model.training.learning_rate={LEARNING_RATE_B}")
    config_c = tiny_config(workdir, write_doctored_data(tiny_data, workdir / "doctored"))
    run(config_a, workdir)
    run(config_b, workdir)
    with pytest.raises(DataAnomaliesError):
        run(config_c, workdir)
    runs = list_runs(open_store(config_a.metadata), config_a.name)
    return {
        "a": config_a,
        "b": config_b,
        "c": config_c,
        "runs": runs,
        "args": ["--set", f"metadata.sqlite={workdir}/metadata.db"],
    }


def _cli(argv: list[str], capfd: pytest.CaptureFixture) -> tuple[int, str, str]:
    """`lightrank ARGV` in-process through the console script's `main`: (exit status, stdout, stderr).

    An error `main` does not turn into one line propagates and fails the test.
    """
    capfd.readouterr()
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def _one_error_line(code: int, out: str, err: str) -> str:
    """Asserts the CLI's user-error form: exit 2, nothing on stdout, one `lightrank: error:` line."""
    assert code == 2 and out == ""
    assert err.startswith("lightrank: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def _fingerprint(path: str) -> tuple[str, int]:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns


def _outputs(config, execution_ids: list[int], keys: dict[int, set[str]]) -> set[int]:
    events = open_store(config.metadata).get_events_by_execution_ids(execution_ids)
    found = set()
    for event in events:
        names = {step.key for step in event.path.steps if step.HasField("key")}
        if event.type == metadata_store_pb2.Event.OUTPUT and names & keys[event.execution_id]:
            found.add(event.artifact_id)
    return found


def test_runs_lists_every_run_newest_first_with_its_status(store, capfd):
    code, out, _ = _cli(["runs", "--json", *store["args"]], capfd)
    assert code == 0
    listed = json.loads(out)
    assert [r["run_id"] for r in listed] == [r.run_id for r in store["runs"]]
    stopped, b, a = listed
    assert stopped["status"] == "failed" and stopped["failed_component"] == "AnomalyGate"
    assert stopped["blessed"] is None and stopped["pushed_model"] is None
    assert b["status"] == a["status"] == "complete"
    assert b["blessed"] is True and b["pushed_model"].startswith(store["b"].serving_dir)
    assert a["started"] < a["ended"] <= b["started"] < b["ended"] <= stopped["started"]
    trainer = next(c for c in b["components"] if c["component"] == "Trainer")
    assert trainer["state"] == "complete" and trainer["seconds"] > 0
    code, out, _ = _cli(["runs", *store["args"]], capfd)
    assert "failed (AnomalyGate)" in out and "Trainer" in out


def test_lineage_latest_pushed_names_exactly_the_upstream_artifacts_of_that_run(store, capfd):
    code, out, _ = _cli(["lineage", "latest-pushed", "--json", *store["args"]], capfd)
    assert code == 0
    traced = json.loads(out)
    run_b = store["runs"][1]
    executions = {c.execution_id: c.component for c in run_b.components if c.component in TRACED_OUTPUTS}
    expected = _outputs(store["b"], list(executions), {i: TRACED_OUTPUTS[c] for i, c in executions.items()})
    named = {item["id"] for item in traced["data"].values()}
    named |= {traced["model"]["id"], traced["trainer"]["model_run"]["id"], traced["push"]["id"]}
    named |= {traced["evaluation"]["id"], traced["evaluation"]["blessing"]["id"]}
    assert named == expected
    assert traced["model"]["uri"] == run_b.model_uri and traced["model"]["run_id"] == run_b.run_id
    assert traced["push"]["destination"] == run_b.pushed_model
    assert traced["trainer"]["hyper_parameters"]["training"]["learning_rate"] == LEARNING_RATE_B
    assert traced["trainer"]["config_digest"] == store["b"].digest()
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", traced["trainer"]["code_version"])
    assert traced["evaluation"]["blessing"]["blessed"] is True
    assert (
        traced["data"]["examples"]["rows"]["eval"]
        == metrics_by_slice(run_b.evaluation_uri)["Overall"]["example_count"]
    )
    code, table, _ = _cli(["lineage", *store["args"]], capfd)
    assert f"learning_rate={LEARNING_RATE_B}" in table and store["b"].digest() in table
    code, dot, _ = _cli(["lineage", "--dot", *store["args"]], capfd)
    assert dot.startswith("digraph") and f"a{traced['model']['id']} " in dot


def test_a_data_artifact_is_not_a_model_but_its_downstream_use_is_listed(store, capfd):
    statistics_id = json.loads(_cli(["lineage", "--json", *store["args"]], capfd)[1])["data"]["statistics"][
        "id"
    ]
    err = _one_error_line(*_cli(["lineage", str(statistics_id), *store["args"]], capfd))
    assert f"artifact {statistics_id} is not a model" in err
    code, out, _ = _cli(["lineage", "--downstream", str(statistics_id), "--json", *store["args"]], capfd)
    used_by = {x["component"] for x in json.loads(out)["graph"]["executions"]}
    assert code == 0 and {"ExampleValidator", "AnomalyGate"} <= used_by


def test_the_console_script_prints_one_line_for_an_artifact_that_is_not_a_model(store, capfd):
    statistics_id = json.loads(_cli(["lineage", "--json", *store["args"]], capfd)[1])["data"]["statistics"][
        "id"
    ]
    lightrank = Path(sys.executable).parent / "lightrank"
    done = subprocess.run(
        [str(lightrank), "lineage", str(statistics_id), *store["args"]],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"lightrank: error: artifact {statistics_id} is not a model")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_run_stopped_at_the_gate_recorded_its_config(store, capfd, tmp_path):
    stopped, run_a = store["runs"][0], store["runs"][2]
    code, out, _ = _cli(["compare", run_a.run_id, stopped.run_id, "--json", *store["args"]], capfd)
    compared = json.loads(out)
    assert code == 0 and compared["b"]["config_digest"] == store["c"].digest()
    paths = (store["a"].data.path, store["c"].data.path)
    assert compared["config_differences"] == [["data.path", *paths]]
    page = tmp_path / "stopped.html"
    assert _cli(["report", stopped.run_id, "--out", str(page), *store["args"]], capfd)[0] == 0
    assert store["c"].digest() in page.read_text()


def test_compare_shows_the_learning_rate_difference(store, capfd):
    run_b, run_a = store["runs"][1], store["runs"][2]
    code, out, _ = _cli(["compare", run_a.run_id, run_b.run_id, *store["args"]], capfd)
    assert code == 0
    assert f"model.training.learning_rate: None -> {LEARNING_RATE_B}" in out
    assert f"training.learning_rate: 0.1 -> {LEARNING_RATE_B}" in out
    code, out, _ = _cli(["compare", run_a.run_id, run_b.run_id, "--json", *store["args"]], capfd)
    compared = json.loads(out)
    overall_a = metrics_by_slice(run_a.evaluation_uri)["Overall"]
    assert compared["metrics"]["Overall"]["auc_unweighted"]["a"] == overall_a["auc_unweighted"]
    assert any(name.startswith("candidate.source:") for name in compared["metrics"])


class _DataValues(html.parser.HTMLParser):
    """Collects every element's data-* attributes from the report, and each chart's points by title."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.points: dict[str, list[dict[str, str]]] = {}
        self._chart = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        data = {k: v or "" for k, v in attrs if k.startswith("data-")}
        if tag == "svg":
            self._chart = dict(attrs).get("aria-label") or ""
        if tag == "circle" and data:
            self.points.setdefault(self._chart, []).append(data)
        elif data:
            self.cells.append(data)

    def series(self, chart: str) -> dict[str, list[tuple[float, float]]]:
        """A line chart's points, (x, y) by series name."""
        lines: dict[str, list[tuple[float, float]]] = {}
        for point in self.points[chart]:
            lines.setdefault(point["data-series"], []).append(
                (float(point["data-x"]), float(point["data-value"]))
            )
        return lines


def _finite(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points a chart draws (it leaves non-finite values out)."""
    return [(x, y) for x, y in points if math.isfinite(y)]


def _screenshot(page: Path, png: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={png.parent / 'chromium-profile'}", f"--screenshot={png}",
            "--window-size=1200,2000", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def test_the_report_holds_the_numbers_of_mlmd_and_tfma_and_renders(store, capfd, tmp_path):
    run_b = store["runs"][1]
    page = tmp_path / "report.html"
    code, out, _ = _cli(["report", run_b.run_id[:22], "--out", str(page), *store["args"]], capfd)
    assert code == 0 and str(page) in out
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    parsed = _DataValues()
    parsed.feed(text)
    assert {"svg", "table", "polyline", "circle"} <= parsed.tags
    fields = {c["data-field"]: c for c in parsed.cells if "data-field" in c}
    assert fields["blessed"]["data-value"] == str(run_b.blessed)
    metrics = metrics_by_slice(run_b.evaluation_uri)
    shown = [c for c in parsed.cells if "data-metric" in c]
    assert len(shown) > 20 and {c["data-slice"] for c in shown} == set(metrics)
    for cell in shown:
        assert float(cell["data-value"]) == pytest.approx(
            metrics[cell["data-slice"]][cell["data-metric"]], nan_ok=True
        )
    rows = {c["data-split"]: int(c["data-value"]) for c in parsed.cells if "data-split" in c}
    assert rows["eval"] == metrics["Overall"]["example_count"] and rows["train"] > rows["eval"]
    ids = {c["data-role"]: int(c["data-value"]) for c in parsed.cells if "data-role" in c}
    lineage = json.loads(_cli(["lineage", "--json", *store["args"]], capfd)[1])
    assert ids["model"] == lineage["model"]["id"] and ids["pushed_model"] == lineage["push"]["id"]
    assert store["b"].digest() in text

    dots = parsed.points["Calibration (overall, TFMA calibration plot)"]
    bins = calibration_bins(run_b.evaluation_uri)
    assert (
        bins and [(float(d["data-x"]), float(d["data-value"]), float(d["data-weight"])) for d in dots] == bins
    )
    recall = parsed.series("Recall of the heavy ranker's top K in the light top N")
    expected = {
        f"light ranker, K={k}": _finite(points) for k, points in recall_curves(metrics["Overall"]).items()
    }
    assert len(expected) >= 3 and {n: p for n, p in recall.items() if n.startswith("light")} == expected
    history = training_summary(lineage["trainer"]["model_run"]["uri"])["history"]
    loss = parsed.series("Loss per evaluation")
    assert history and loss["train loss"] == _finite([(h["step"], h["train_loss"]) for h in history])
    assert loss["eval loss"] == _finite([(h["step"], h["loss"]) for h in history])
    rce = parsed.series("RCE per evaluation")["eval RCE (unweighted)"]
    assert rce == _finite([(h["step"], h["rce"]) for h in history])

    png = tmp_path / "report.png"
    _screenshot(page, png)
    from PIL import Image

    image = Image.open(png).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert image.size == (1200, 2000) and colours is not None and len(colours) > 50
    background = max(colours)[0] / (image.size[0] * image.size[1])
    assert background < 0.95  # most of the page is not one flat colour


def test_the_pipeline_writes_the_report_as_an_artifact_of_the_run(store):
    run_b = store["runs"][1]
    report = next(c for c in run_b.components if c.component == "RunReport")
    assert report.state == "complete"
    events = open_store(store["b"].metadata).get_events_by_execution_ids([report.execution_id])
    output = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    (artifact,) = open_store(store["b"].metadata).get_artifacts_by_id(output)
    assert artifact.type == "lightrank.RunReport"
    text = Path(artifact.uri, REPORT_FILE).read_text()
    parsed = _DataValues()
    parsed.feed(text)
    overall = metrics_by_slice(run_b.evaluation_uri)["Overall"]
    cells = {
        c["data-metric"]: float(c["data-value"]) for c in parsed.cells if c.get("data-slice") == "Overall"
    }
    assert cells["auc_unweighted"] == pytest.approx(overall["auc_unweighted"])
    assert store["b"].digest() in text and "Model card" in text


def test_bad_input_gives_one_clear_message_and_nothing_writes_to_the_store(store, capfd, tmp_path):
    database = store["args"][1].split("=", 1)[1]
    before = _fingerprint(database)
    for argv in (
        ["runs"], ["runs", "--json"], ["runs", "--limit", "1"], ["lineage"], ["lineage", "--json"],
        ["lineage", "--dot"], ["lineage", "--downstream", "1"], ["compare", "previous", "latest"],
        ["report", "--out", str(tmp_path / "r.html")],
    ):  # fmt: skip
        assert _cli([*argv, *store["args"]], capfd)[0] == 0, argv
    assert _fingerprint(database) == before

    missing = tmp_path / "nowhere" / "metadata.db"
    err = _one_error_line(*_cli(["runs", "--set", f"metadata.sqlite={missing}"], capfd))
    assert f"no ML Metadata store at {missing}" in err and not missing.parent.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    err = _one_error_line(*_cli(["lineage", "--set", f"metadata.sqlite={empty}"], capfd))
    assert "is empty" in err and empty.stat().st_size == 0
    err = _one_error_line(*_cli(["report", *store["args"], "--set", "name=another-pipeline"], capfd))
    assert "has no runs of pipeline 'another-pipeline'" in err
    err = _one_error_line(*_cli(["lineage", "999999", *store["args"]], capfd))
    assert "no artifact with id 999999" in err
    assert _fingerprint(database) == before
