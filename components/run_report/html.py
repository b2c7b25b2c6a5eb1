"""Renders a `ReportContent` into one self-contained HTML page.

Charts are inline SVG (`lightrank.components.run_report.svg`), styles are inline, and the page
has no script and no external reference, so it opens offline, from an archive,
or from an artifact store's "download" link alike.
"""

from __future__ import annotations

import jinja2
from markupsafe import Markup

from lightrank.components.model_evaluation import key_metric_names
from lightrank.components.run_report.calibration import calibration_effect, calibration_line
from lightrank.components.run_report.content import ReportContent
from lightrank.components.run_report.model_card import model_card
from lightrank.components.run_report.numbers import format_number
from lightrank.components.run_report.svg import Series, calibration_chart, dag_chart, line_chart
from lightrank.components.run_report.template import TEMPLATE
from lightrank.components.run_report.training import scaling_line, training_line


def _training_charts(content: ReportContent) -> tuple[str, str]:
    history = (content.training or {}).get("history", [])

    def points(field: str) -> tuple[tuple[float, float], ...]:
        return tuple((float(h["step"]), float(h[field])) for h in history)

    loss = line_chart(
        [Series("train loss", points("train_loss")), Series("eval loss", points("loss"))],
        title="Loss per evaluation",
        x_label="training step",
        y_label="loss",
    )
    rce_series = [Series("eval RCE (unweighted)", points("rce"))]
    if history and all("nrce" in h for h in history):  # training summaries before NRCE lack it
        rce_series.append(Series("eval NRCE (unweighted)", points("nrce")))
    rce = line_chart(
        rce_series,
        title="RCE per evaluation",
        x_label="training step",
        y_label="RCE (%)",
    )
    return loss, rce


def _recall_chart(content: ReportContent) -> str:
    from lightrank.components.run_report.artifacts import recall_curves

    # One curve per heavy top K the evaluation computed (`evaluation.grouped.heavy_k`).
    curves = recall_curves(content.overall)
    series = [
        Series(f"light ranker, K={k}", tuple((float(n), r) for n, r in points))
        for k, points in curves.items()
    ]
    light_sizes = sorted({float(n) for points in curves.values() for n, _ in points})
    if light_sizes:
        series.append(
            Series("heavy ranker (by definition)", tuple((n, 1.0) for n in light_sizes), dashed=True)
        )
    return line_chart(
        series,
        title="Recall of the heavy ranker's top K in the light top N",
        x_label="N (candidates kept by the light ranker)",
        y_label="recall at (N, K)",
        y_floor=0.0,
        y_ceiling=1.0,
    )


def render_html(content: ReportContent) -> str:
    """The report page as a string."""
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters["number"] = format_number
    environment.filters["repr"] = repr
    loss_chart, rce_chart = _training_charts(content)
    slice_names = ["Overall", *sorted(name for name in content.metrics if name != "Overall")]
    slice_names = [name for name in slice_names if name in content.metrics]
    columns = key_metric_names(name for values in content.metrics.values() for name in values)
    platt = calibration_effect(content.settings)
    return environment.from_string(TEMPLATE).render(
        run=content.run,
        generated=content.generated.strftime("%Y-%m-%d %H:%M:%S UTC"),
        model=content.artifact("model"),
        data=content.data,
        anomalies=content.anomalies,
        training=content.training,
        loss_chart=Markup(loss_chart),
        rce_chart=Markup(rce_chart),
        training_line=training_line(content.training) if content.training else "",
        scaling_line=scaling_line(content.training) if content.training else None,
        platt=platt,
        platt_line=calibration_line(platt) if platt else "",
        gates=content.gates,
        metrics=content.metrics,
        slice_names=slice_names,
        metric_columns=columns,
        calibration_chart=Markup(
            calibration_chart(content.calibration, title="Calibration (overall, TFMA calibration plot)")
        ),
        recall_chart=Markup(_recall_chart(content)),
        lineage_chart=Markup(dag_chart(content.graph_nodes, content.graph_edges, title="Lineage")),
        artifacts=content.artifacts,
        card=model_card(content),
        settings=content.settings,
        notes=content.notes,
    )
