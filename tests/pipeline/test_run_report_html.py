"""The run report page, its SVG charts, model card and the compare view, from hand-made content."""

from __future__ import annotations

import datetime
import html.parser
import itertools
import math
import re

import pytest

from lightrank.components.run_report.artifacts import (
    DataSummary,
    FeatureSummary,
    Gate,
    recall_curves,
    unreadable,
)
from lightrank.components.run_report.content import ArtifactRef, ReportContent, RunFacts
from lightrank.components.run_report.html import render_html
from lightrank.components.run_report.model_card import model_card
from lightrank.components.run_report.svg import GraphNode, Series, dag_chart, line_chart, nice_ticks
from lightrank.components.run_settings import CODE_VERSION_ENV, code_version
from lightrank.pipeline.metadata.runs import RunRecord
from lightrank.pipeline.views.compare import RunSide, compare_json, compare_table

OVERALL = {
    "example_count": 5000.0,
    "auc_unweighted": 0.71234,
    "rce_unweighted": 12.5,
    "ctr_unweighted": 0.1,
    "predicted_ctr_unweighted": 0.2,
    "recall_atLight_50_atHeavy_3": 0.6,
    "recall_atLight_100_atHeavy_3": 0.9,
    "recall_atLight_50_atHeavy_10": 0.5,
    "recall_atLight_100_atHeavy_10": 0.8,
}


def _content(**changes: object) -> ReportContent:
    content = ReportContent(
        run=RunFacts(
            pipeline_name="p",
            run_id="2026-01-01T00:00:00.000001",
            status="complete",
            blessed=True,
            pushed_destination="/serving/1",
            config_digest="abc123",
            code_version="f" * 40,
            config={"model": {"training": {"learning_rate": 0.01}}},
        ),
        generated=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        artifacts=(
            ArtifactRef("examples", 1, "Examples", "/data/examples/1"),
            ArtifactRef("model", 9, "Model", "/m/9"),
        ),
        data=DataSummary(
            {"train": 20000, "eval": 5000}, (FeatureSummary("user.<b>age", "FLOAT", 0.25, "mean 3"),)
        ),
        anomalies=("eval: feature 'x': Unexpected data type",),
        training={
            "steps": 40,
            "stop_reason": "max_steps",
            "best_step": 40,
            "best_rce_unweighted": 12.5,
            "history": [
                {"step": 20, "train_loss": 0.6, "loss": 0.5, "rce": 5.0, "auc": 0.6},
                {"step": 40, "train_loss": 0.4, "loss": 0.45, "rce": 12.5, "auc": 0.7},
            ],
        },
        settings={"kind": "deepnorm", "task": "HeavyRankPosition"},
        metrics={
            "Overall": OVERALL,
            "candidate.source:topic": {"example_count": 80.0, "auc_unweighted": 0.4},
        },
        gates=(Gate("auc_unweighted", ">= 0.6", 0.71234, True),),
        calibration=((0.1, 0.05, 100.0), (0.5, 0.4, 10.0)),
        graph_nodes=(
            GraphNode("a1", "Examples", "artifact 1", False),
            GraphNode("e2", "Trainer", "execution 2", True),
        ),
        graph_edges=(("a1", "e2"),),
    )
    import dataclasses

    return dataclasses.replace(content, **changes)


class _Page(html.parser.HTMLParser):
    """Tags, metric cells, links, and each chart's plotted points (by the chart's title)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.values: dict[tuple[str, str], str] = {}
        self.links: list[str] = []
        self.points: dict[str, list[dict[str, str]]] = {}
        self._chart = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = {k: v or "" for k, v in attrs}
        if "data-metric" in attributes:
            self.values[(attributes["data-slice"], attributes["data-metric"])] = attributes["data-value"]
        if tag == "svg":
            self._chart = attributes.get("aria-label", "")
        if tag == "circle" and "data-value" in attributes:
            self.points.setdefault(self._chart, []).append(attributes)
        self.links += [v for k, v in attrs if k in ("href", "src") and v]


def _series(points: list[dict[str, str]]) -> dict[str, list[tuple[float, float]]]:
    lines: dict[str, list[tuple[float, float]]] = {}
    for point in points:
        lines.setdefault(point["data-series"], []).append(
            (float(point["data-x"]), float(point["data-value"]))
        )
    return lines


def test_the_page_is_self_contained_and_carries_exact_values():
    page = render_html(_content())
    parsed = _Page()
    parsed.feed(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags and parsed.links == []
    assert parsed.tags.count("svg") == 5  # loss, RCE, calibration, recall, lineage
    assert float(parsed.values[("Overall", "auc_unweighted")]) == OVERALL["auc_unweighted"]
    assert float(parsed.values[("candidate.source:topic", "auc_unweighted")]) == 0.4
    assert "user.&lt;b&gt;age" in page and "<b>age" not in page  # feature names are escaped
    assert "Unexpected data type" in page and "abc123" in page and "f" * 40 in page


def test_missing_sections_say_so_instead_of_failing():
    page = render_html(
        _content(training=None, metrics={}, gates=(), calibration=(), data=None, anomalies=None)
    )
    assert "No training summary was recorded." in page
    assert "No evaluation was recorded." in page and "No statistics were recorded." in page


def test_the_model_card_flags_miscalibration_small_slices_and_the_step_budget():
    card = {section.heading: " ".join(section.lines) for section in model_card(_content())}
    assert list(card) == ["Intended use", "Data", "Metrics", "Limits"]
    assert "Task HeavyRankPosition" in card["Intended use"]
    assert "train 20,000" in card["Data"] and "Schema anomalies: 1." in card["Data"]
    assert (
        "auc_unweighted = 0.7123" in card["Metrics"]
        and "candidate.source:topic (0.4000 on 80" in card["Metrics"]
    )
    assert "Miscalibrated: mean prediction 0.2000 vs. observed rate 0.1000" in card["Limits"]
    assert "1 slice(s) have fewer than 1,000" in card["Limits"] and "step budget (40 steps)" in card["Limits"]
    no_model = {s.heading: " ".join(s.lines) for s in model_card(_content(settings=None))}
    assert "produced no model" in no_model["Intended use"]


def test_recall_curves_group_by_heavy_k_sorted_by_light_n():
    assert recall_curves(OVERALL) == {3: [(50, 0.6), (100, 0.9)], 10: [(50, 0.5), (100, 0.8)]}


def test_ticks_cover_the_data_with_round_steps():
    for low, high in [(0.62, 0.66), (-940.0, -891.0), (0.0, 0.46), (50.0, 200.0), (3.0, 3.0)]:
        ticks = nice_ticks(low, high)
        assert ticks[0] <= low and ticks[-1] >= high and 3 <= len(ticks) <= 12
        steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1 and re.fullmatch(r"[125]0*(\.0+)?|0\.0*[125]", f"{steps.pop():g}")


def test_line_charts_leave_out_non_finite_points_and_say_when_nothing_is_left():
    chart = line_chart(
        [Series("rce", ((1.0, 2.0), (2.0, math.nan), (3.0, 4.0)))], title="t", x_label="x", y_label="y"
    )
    assert chart.count("<circle") == 2 and "nan" not in chart.lower().replace("rce", "")
    empty = line_chart([Series("rce", ((1.0, math.nan),))], title="t", x_label="x", y_label="y")
    assert "no finite values" in empty and "<circle" not in empty


def test_the_dag_puts_each_node_right_of_its_parents():
    nodes = [GraphNode(k, k, k, k.startswith("e")) for k in ("a1", "e1", "a2", "e2", "a3")]
    chart = dag_chart(
        nodes, [("a1", "e1"), ("e1", "a2"), ("a2", "e2"), ("e2", "a3"), ("a1", "e2")], title="g"
    )
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', chart)]
    assert xs == sorted(xs) and len(set(xs)) == 5 and chart.count("marker-end") == 5


def _run(run_id: str) -> RunRecord:
    return RunRecord(run_id, (), True, None, None, None)


def test_compare_lists_metric_changes_and_every_differing_setting():
    a = RunSide(
        _run("a"), {"Overall": {"auc_unweighted": 0.6}}, {"model": {"training": {}}}, "d1", {"lr": 0.05}
    )
    b = RunSide(
        _run("b"),
        {"Overall": {"auc_unweighted": 0.7}},
        {"model": {"training": {"learning_rate": 0.01}}},
        "d2",
        {"lr": 0.01},
    )
    compared = compare_json(a, b)
    assert compared["config_differences"] == [["model.training.learning_rate", None, 0.01]]
    assert compared["trainer_differences"] == [["lr", 0.05, 0.01]]
    table = compare_table(compared)
    assert "model.training.learning_rate: None -> 0.01" in table and "lr: 0.05 -> 0.01" in table
    assert re.search(r"auc_unweighted\s+0\.6000\s+0\.7000\s+\+0\.1000", table)
    unrecorded = compare_table(compare_json(a, RunSide(_run("c"), {}, None, None, None)))
    assert "not recorded for both runs" in unrecorded and "not comparable" in unrecorded


def test_code_version_prefers_the_environment_then_git_else_unknown(monkeypatch, tmp_path):
    monkeypatch.setenv(CODE_VERSION_ENV, "image-1.2.3")
    assert code_version() == "image-1.2.3"
    monkeypatch.delenv(CODE_VERSION_ENV)
    assert code_version(tmp_path) == "unknown"
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|unknown", code_version())


@pytest.mark.parametrize("value", [None, math.nan])
def test_gates_without_a_value_render(value):
    page = render_html(
        _content(gates=(Gate("rce_unweighted", "absolute change vs. baseline >= -0.5", value, False),))
    )
    assert "failed" in page


def test_every_plotted_point_carries_its_exact_value():
    content = _content()
    parsed = _Page()
    parsed.feed(render_html(content))
    dots = parsed.points["Calibration (overall, TFMA calibration plot)"]
    assert [(float(d["data-x"]), float(d["data-value"]), float(d["data-weight"])) for d in dots] == list(
        content.calibration
    )
    recall = _series(parsed.points["Recall of the heavy ranker's top K in the light top N"])
    assert recall == {
        "light ranker, K=3": [(50.0, 0.6), (100.0, 0.9)],
        "light ranker, K=10": [(50.0, 0.5), (100.0, 0.8)],
        "heavy ranker (by definition)": [(50.0, 1.0), (100.0, 1.0)],
    }
    history = content.training["history"]
    loss = _series(parsed.points["Loss per evaluation"])
    assert loss["train loss"] == [(h["step"], h["train_loss"]) for h in history]
    assert loss["eval loss"] == [(h["step"], h["loss"]) for h in history]
    rce = _series(parsed.points["RCE per evaluation"])
    assert rce == {"eval RCE (unweighted)": [(20.0, 5.0), (40.0, 12.5)]}


def test_the_rce_chart_draws_nrce_beside_rce_when_the_history_has_it():
    content = _content()
    history = [{**h, "nrce": h["rce"] + 1.5} for h in content.training["history"]]
    parsed = _Page()
    parsed.feed(render_html(_content(training={**content.training, "history": history})))
    assert _series(parsed.points["RCE per evaluation"]) == {
        "eval RCE (unweighted)": [(20.0, 5.0), (40.0, 12.5)],
        "eval NRCE (unweighted)": [(20.0, 6.5), (40.0, 14.0)],
    }


def test_an_unreadable_artifact_is_noted_where_its_section_would_be():
    note = "evaluation artifact 7 at /gone/7 is missing or unreadable"
    page = render_html(_content(metrics={}, gates=(), calibration=(), notes={"evaluation": note}))
    assert f'<li class="bad" data-note="evaluation">{note}</li>' in page
    assert f"The evaluation could not be read: {note}." in page and "No evaluation was recorded." not in page
    gone = "model artifact 9 at /m/9 is missing or unreadable"
    card = model_card(_content(settings=None, notes={"model": gone}))
    assert card[0].lines == (f"Unknown: the {gone}.",)  # not "this run produced no model"


def test_unreadable_names_a_missing_or_inaccessible_artifact(tmp_path, monkeypatch):
    import tensorflow as tf

    assert unreadable("evaluation", 7, str(tmp_path)) is None
    gone = str(tmp_path / "evaluation" / "7")
    assert unreadable("evaluation", 7, gone) == f"evaluation artifact 7 at {gone} is missing or unreadable"

    def denied(path: str) -> bool:
        raise tf.errors.PermissionDeniedError(None, None, "no credentials for gs://b\nsecond line")

    monkeypatch.setattr(tf.io.gfile, "exists", denied)
    assert unreadable("statistics", 3, "gs://b/s/3") == (
        "statistics artifact 3 at gs://b/s/3 is missing or unreadable (no credentials for gs://b)"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, ""), (math.nan, "n/a"), (math.inf, "inf"), (-math.inf, "-inf"), (22485.0, "22,485"),
     (3.0, "3"), (0.83054, "0.8305"), (-231.574, "-231.5740")],
)  # fmt: skip
def test_one_number_format_for_every_view(value, shown):
    from lightrank.components.run_report.numbers import format_number

    assert format_number(value) == shown
