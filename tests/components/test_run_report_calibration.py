"""NRCE beside RCE, and calibration's effect, in every view: report, model card, summaries, lineage."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math

from lightrank.components.run_report.calibration import calibration_effect, calibration_line
from lightrank.components.run_report.content import ArtifactRef, ReportContent, RunFacts
from lightrank.components.run_report.html import render_html
from lightrank.components.run_report.model_card import model_card
from lightrank.components.run_summary import summary_markdown
from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.metadata.runs import ComponentRun, RunRecord
from lightrank.pipeline.summary import format_summary
from lightrank.pipeline.views.lineage import lineage_table

BEFORE = {"rce_unweighted": -4.25, "nrce_unweighted": 3.5, "auc_unweighted": 0.71,
          "ctr_unweighted": 0.05, "predicted_ctr_unweighted": 0.2}  # fmt: skip
AFTER = {**BEFORE, "rce_unweighted": 3.75, "nrce_unweighted": 3.625, "predicted_ctr_unweighted": 0.05}
PLATT = {"method": "platt", "applied": True, "a": 0.96875, "b": -1.5, "reason": "", "fitted_on": "eval",
         "examples": 3815, "steps": 5, "before": BEFORE, "after": AFTER}  # fmt: skip
REASON = "the fitted slope a=-0.5 is not positive: it would reverse or erase the ranking"
SKIPPED = {**PLATT, "applied": False, "a": -0.5, "after": None, "reason": REASON}
OVERALL = {"example_count": 5000.0, "auc_unweighted": 0.71, "rce_unweighted": 3.75, "nrce_unweighted": 3.625,
           "ctr_unweighted": 0.05, "predicted_ctr_unweighted": 0.05}  # fmt: skip


def _content(settings: dict | None) -> ReportContent:
    return ReportContent(
        run=RunFacts(pipeline_name="p", run_id="r1", status="complete", blessed=True),
        generated=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        artifacts=(ArtifactRef("model", 9, "Model", "/m/9"),),
        data=None,
        anomalies=None,
        training={
            "steps": 40,
            "stop_reason": "max_steps",
            "best_step": 40,
            "early_stop_metric": "nrce",
            "best_rce_unweighted": -4.25,
            "best_eval": BEFORE,
            "history": [],
        },
        settings=settings,
        metrics={"Overall": OVERALL, "s:a": {"example_count": 80.0, "auc_unweighted": 0.6}},
        gates=(),
        calibration=(),
        graph_nodes=(),
        graph_edges=(),
    )


def test_the_effect_reads_back_as_one_line():
    effect = calibration_effect({"calibration": PLATT})
    assert effect is not None and effect.applied and effect.rows[0] == ("RCE", -4.25, 3.75)
    assert calibration_line(effect) == (
        "Platt a=0.9688 b=-1.5000 on 3,815 eval candidates: RCE -4.2500 -> 3.7500, "
        "NRCE 3.5000 -> 3.6250 (eval split, unweighted)"
    )
    skipped = calibration_effect({"calibration": SKIPPED})
    assert calibration_line(skipped).startswith("platt skipped, the model serves uncalibrated predictions: ")
    assert calibration_effect({"kind": "deepnorm"}) is None and calibration_effect(None) is None


def test_the_report_shows_nrce_beside_rce_and_the_before_after_table():
    page = render_html(_content({"kind": "deepnorm", "task": "HeavyRankPosition", "calibration": PLATT}))
    line = "40 steps, stopped by max_steps; best step 40 (by eval NRCE): unweighted RCE -4.2500, NRCE 3.5000."
    assert f'<p id="training-line">{line}</p>' in page
    assert "<th>nrce_unweighted</th>" in page and "<th>rce_unweighted</th>" in page  # the slice table
    table = page.split('<table id="calibration-effect">')[1].split("</table>")[0]
    assert (
        "<td>RCE</td>" in table
        and 'data-value="-4.25">-4.2500' in table
        and 'data-value="3.75">3.7500' in table
    )
    assert "<td>NRCE</td>" in table and "<td>AUC</td>" in table
    assert "Platt a=0.9688 b=-1.5000 on 3,815 eval candidates" in page
    card = {
        section.heading: " ".join(section.lines) for section in model_card(_content({"calibration": PLATT}))
    }
    assert "nrce_unweighted = 3.6250" in card["Metrics"] and "rce_unweighted = 3.7500" in card["Metrics"]
    assert "Calibration: Platt a=0.9688" in card["Metrics"]


def test_a_skipped_calibration_says_why_and_no_calibration_shows_no_section():
    page = render_html(_content({"kind": "deepnorm", "calibration": SKIPPED}))
    assert "platt skipped, the model serves uncalibrated predictions: the fitted slope" in page
    assert 'id="calibration-effect"' not in page
    plain = render_html(_content({"kind": "deepnorm"}))
    assert 'id="calibration"' not in plain and "RCE -4.2500, NRCE 3.5000." in plain
    older = {
        "steps": 4,
        "stop_reason": "max_steps",
        "best_step": 4,
        "best_rce_unweighted": 1.25,
        "history": [],
    }
    page = render_html(dataclasses.replace(_content({"kind": "deepnorm"}), training=older))
    # A training summary from before NRCE and the stopping metric were recorded: chosen by RCE.
    assert "best step 4 (by eval RCE): unweighted RCE 1.2500.</p>" in page


def test_the_kubeflow_summary_ranks_slices_with_rce_and_nrce_beside_auc():
    by_slice = {"Overall": OVERALL, "s:a": {"example_count": 80.0, "auc_unweighted": 0.6,
                                          "rce_unweighted": -2.25, "nrce_unweighted": 1.5}}  # fmt: skip
    text = summary_markdown(True, by_slice, [])
    assert "| rce_unweighted | 3.7500 |" in text and "| nrce_unweighted | 3.6250 |" in text
    assert "| slice | examples | auc_unweighted | rce_unweighted | nrce_unweighted |" in text
    assert "|---|---|---|---|---|" in text and "| s:a | 80 | 0.6000 | -2.2500 | 1.5000 |" in text


def test_the_end_of_run_summary_says_what_calibration_did(tmp_path, monkeypatch):
    monkeypatch.setattr("lightrank.pipeline.summary.metrics_by_slice", lambda uri: {"Overall": OVERALL})
    serving = tmp_path / "model" / "Format-Serving"
    serving.mkdir(parents=True)
    (serving / "model_settings.json").write_text(json.dumps({"kind": "deepnorm", "calibration": PLATT}))
    trainer = ComponentRun("Trainer", "complete", seconds=1.0, execution_id=1)
    run = RunRecord(run_id="r1", components=(trainer,), blessed=True, pushed_model=None,
                    evaluation_uri="/e/1", model_uri=str(tmp_path / "model"))  # fmt: skip
    lines = format_summary(load_config(SAMPLE_CONFIG), run, log_file="/l", ok=True).splitlines()
    metrics = lines[lines.index("Metrics (eval split, overall):") + 1 :]
    assert metrics[2] == "  rce_unweighted                   3.7500"
    assert metrics[3] == "  nrce_unweighted                  3.6250"  # NRCE beside RCE
    assert (
        "Calibration:    Platt a=0.9688 b=-1.5000 on 3,815 eval candidates: RCE -4.2500 -> 3.7500, "
        "NRCE 3.5000 -> 3.6250 (eval split, unweighted)"
    ) in lines
    (serving / "model_settings.json").write_text(json.dumps({"kind": "deepnorm"}))
    assert "Calibration:" not in format_summary(load_config(SAMPLE_CONFIG), run, log_file="/l", ok=True)


def test_lineage_puts_nrce_beside_the_best_rce_and_names_the_calibration():
    summary = {"steps": 40, "stop_reason": "max_steps", "best_step": 40, "best_rce_unweighted": -4.25,
               "early_stop_metric": "nrce", "best_eval": BEFORE, "calibration": PLATT}  # fmt: skip
    trainer = {"id": 2, "state": "complete", "seconds": 1.0, "run_id": "r1", "hyper_parameters": {},
               "config_digest": None, "code_version": None,
               "model_run": {"id": 5, "type": "ModelRun", "uri": "/m/run", "summary": summary}}  # fmt: skip
    model = {"id": 9, "type": "Model", "uri": "/m/9", "run_id": "r1"}
    text = lineage_table({"model": model, "notes": [], "data": {}, "trainer": trainer})
    assert "best step 40 (by eval NRCE): unweighted RCE -4.2500, NRCE 3.5000" in text
    assert "calibration           Platt a=0.9688 b=-1.5000 on 3,815 eval candidates" in text
    assert not math.isnan(BEFORE["nrce_unweighted"])


def test_the_kubeflow_description_says_the_model_is_calibrated_only_when_it_is():
    from lightrank.kubeflow.ui_outputs import describe

    plain = describe(load_config(SAMPLE_CONFIG, ["model.calibration=none"]))
    assert "calibrated" not in plain
    assert "calibrated" not in describe(load_config(SAMPLE_CONFIG, ["model.preset=original"]))
    for overrides in ([], ["model.calibration=platt"]):  # the default preset's, or set
        calibrated = describe(load_config(SAMPLE_CONFIG, overrides))
        assert "task HeavyRankPosition, Platt-calibrated on the eval split) on " in calibrated
