"""How training went, in every view (report, lineage, end-of-run summary).

The best step with the metric that chose it, and the Trainer's decision on the preset's settings
for large data.
"""

from __future__ import annotations

import datetime
import json

from markupsafe import escape

from lightrank.components.run_report.content import ArtifactRef, ReportContent, RunFacts
from lightrank.components.run_report.html import render_html
from lightrank.components.run_report.training import scaling_line, training_line
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.metadata.runs import ComponentRun, RunRecord
from lightrank.pipeline.summary import format_summary
from lightrank.pipeline.views.lineage import lineage_table

WIDER = {"sparse_embedding_size": 16, "early_stop_patience": 5}
APPLIED = {"train_candidates": 240363, "min_train_candidates": 150000, "applied": WIDER}
NOT_APPLIED = {"train_candidates": 80123, "min_train_candidates": 150000, "applied": {}}
SUMMARY = {"steps": 3000, "stop_reason": "early_stop", "best_step": 1500, "early_stop_metric": "nrce",
           "best_rce_unweighted": 12.5, "best_eval": {"nrce_unweighted": 13.25}, "history": []}  # fmt: skip
APPLIED_LINE = (
    "240,363 train candidates >= 150,000: the preset's settings for large data, "
    "sparse_embedding_size=16, early_stop_patience=5"
)
NOT_APPLIED_LINE = "80,123 train candidates < 150,000: the preset's settings as they are"


def test_the_lines_name_the_deciding_metric_and_the_scaling_decision():
    assert training_line(SUMMARY) == (
        "3000 steps, stopped by early_stop; best step 1500 (by eval NRCE): "
        "unweighted RCE 12.5000, NRCE 13.2500"
    )
    assert scaling_line({"data_scaling": APPLIED}) == APPLIED_LINE
    assert scaling_line({"data_scaling": NOT_APPLIED}) == NOT_APPLIED_LINE
    assert scaling_line(SUMMARY) is None  # a preset without a rule, or a model from before it


def _content(training: dict) -> ReportContent:
    return ReportContent(
        run=RunFacts(pipeline_name="p", run_id="r1", status="complete", blessed=True),
        generated=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        artifacts=(ArtifactRef("model", 9, "Model", "/m/9"),),
        data=None,
        anomalies=None,
        training=training,
        settings={"kind": "deepnorm"},
        metrics={},
        gates=(),
        calibration=(),
        graph_nodes=(),
        graph_edges=(),
    )


def test_the_report_shows_the_scaling_decision_under_training():
    page = render_html(_content({**SUMMARY, "data_scaling": APPLIED}))
    assert f'<p id="data-scaling">{escape(APPLIED_LINE)}.</p>' in page  # the template escapes ">=" and "'"
    assert page.index('id="training-line"') < page.index('id="data-scaling"')
    assert 'id="data-scaling"' not in render_html(_content(SUMMARY))


def test_lineage_says_which_settings_replaced_the_recorded_hyper_parameters():
    trainer = {"id": 2, "state": "complete", "seconds": 1.0, "run_id": "r1", "hyper_parameters": {},
               "config_digest": None, "code_version": None,
               "model_run": {"id": 5, "type": "ModelRun", "uri": "/m/run",
                             "summary": {**SUMMARY, "data_scaling": APPLIED}}}  # fmt: skip
    model = {"id": 9, "type": "Model", "uri": "/m/9", "run_id": "r1"}
    text = lineage_table({"model": model, "notes": [], "data": {}, "trainer": trainer})
    assert f"  train split size      {APPLIED_LINE}" in text.splitlines()
    trainer["model_run"]["summary"] = SUMMARY
    assert "train split size" not in lineage_table(
        {"model": model, "notes": [], "data": {}, "trainer": trainer}
    )


def test_the_end_of_run_summary_says_whether_the_settings_for_large_data_applied(tmp_path, monkeypatch):
    serving = tmp_path / "model" / "Format-Serving"
    serving.mkdir(parents=True)
    trainer = ComponentRun("Trainer", "complete", seconds=1.0, execution_id=1)
    run = RunRecord(run_id="r1", components=(trainer,), blessed=True, pushed_model=None,
                    evaluation_uri=None, model_uri=str(tmp_path / "model"))  # fmt: skip

    def summary_lines(settings: dict) -> list[str]:
        (serving / "model_settings.json").write_text(json.dumps(settings))
        return format_summary(load_config(SAMPLE_CONFIG), run, log_file="/l", ok=True).splitlines()

    assert f"Train split:    {NOT_APPLIED_LINE}" in summary_lines(
        {"kind": "deepnorm", "data_scaling": NOT_APPLIED}
    )
    assert f"Train split:    {APPLIED_LINE}" in summary_lines({"kind": "deepnorm", "data_scaling": APPLIED})
    assert not any(line.startswith("Train split:") for line in summary_lines({"kind": "deepnorm"}))
    (serving / "model_settings.json").write_text("{not json")  # unreadable: the rest still prints
    lines = format_summary(load_config(SAMPLE_CONFIG), run, log_file="/l", ok=True).splitlines()
    assert f"Trained model:  {tmp_path / 'model'}" in lines
