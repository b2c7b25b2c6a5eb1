"""What the Kubeflow Pipelines and Vertex AI UIs show of a run: metrics, the report, the gates.

Their run views, run comparison and metrics tabs read only KFP's own artifact types:
`system.Metrics` (scalars, compared across runs), `system.HTML` (a page the viewer reads from
the file at the artifact's URI) and `system.Markdown`. TFX's compiler emits none of them, and
TFX's container entry point cannot take them (it imports a schema title as a class path).
So this step is a KFP lightweight component, run by kfp's own executor
(`kfp.dsl.executor.Executor`); `lightrank.kubeflow.ui_outputs` adds it to the compiled spec,
reading the Evaluator's evaluation and blessing and the RunReport's page:

- `metrics` (system.Metrics): the overall eval-split metrics the gates read, and `blessed`;
- `report` (system.HTML): the run report, the same page as the RunReport artifact;
- `summary` (system.Markdown): whether the model was blessed, each failed gate, the overall
  metrics and the worst slices.

    python -m lightrank.components.run_summary --executor_input '{...}'

No `from __future__ import annotations`: kfp's executor reads the annotations as types.
"""

import argparse
import json
import math
import os
import shutil
from collections.abc import Mapping

from kfp.dsl import HTML, Artifact, Input, Markdown, Metrics, Output

from lightrank.components.model_evaluation import key_metric_names, metrics_by_slice
from lightrank.components.run_report.component import REPORT_FILE
from lightrank.components.run_report.numbers import format_number

#: How many of the worst slices the summary lists.
WORST_SLICES = 5
#: The metric the worst slices are ranked by, and the ones shown next to it: NRCE beside RCE, so
#: a slice whose RCE suffers only from its positive rate differing from the model's is told apart.
RANK_BY, ALSO_SHOWN = "auc_unweighted", ("rce_unweighted", "nrce_unweighted")


def _failed_gates(evaluation_uri: str) -> list[str]:
    """One Markdown table row per failed threshold, from TFMA's validation result."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(evaluation_uri)
    rows = []
    for per_slice in result.metric_validations_per_slice:
        name = tfma.slicer.stringify_slice_key(tfma.slicer.deserialize_slice_key(per_slice.slice_key))
        for failure in per_slice.failures:
            value = failure.metric_value.double_value.value
            bound = failure.metric_threshold
            rows.append(f"| {name or 'Overall'} | {failure.metric_key.name} | {format_number(value)} | "
                        f"{' '.join(str(bound).split())} |")  # fmt: skip
    return rows


def summary_markdown(blessed: bool, by_slice: Mapping[str, Mapping[str, float]], failed: list[str]) -> str:
    """The run's Markdown summary: the blessing, failed gates, overall metrics, worst slices."""
    lines = [f"## {'Blessed' if blessed else 'Not blessed'}", ""]
    if failed:
        lines += [
            "Failed gates:",
            "",
            "| slice | metric | value | threshold |",
            "|---|---|---|---|",
            *failed,
            "",
        ]
    else:
        lines += ["Every quality gate passed." if blessed else "No gate failed on a slice.", ""]
    overall = by_slice.get("Overall", {})
    lines += ["### Overall (eval split)", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {format_number(overall[name])} |" for name in key_metric_names(overall)]
    ranked = sorted(
        (row[RANK_BY], name)
        for name, row in by_slice.items()
        if name != "Overall" and not math.isnan(row.get(RANK_BY, math.nan))
    )[:WORST_SLICES]
    if ranked:
        lines += [
            "",
            f"### Worst slices by {RANK_BY}",
            "",
            f"| slice | examples | {RANK_BY} | {' | '.join(ALSO_SHOWN)} |",
        ]
        lines += ["|---|---|---|" + "---|" * len(ALSO_SHOWN)]
        for value, name in ranked:
            row = by_slice[name]
            cells = [row.get("example_count"), value, *(row.get(metric) for metric in ALSO_SHOWN)]
            lines.append(f"| {name} | " + " | ".join(format_number(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def publish_run_summary(
    evaluation: Input[Artifact],
    blessing: Input[Artifact],
    run_report: Input[Artifact],
    metrics: Output[Metrics],
    report: Output[HTML],
    summary: Output[Markdown],
):
    """Writes the run's metrics, report page and summary as the UIs' own artifact types.

    Args:
        evaluation: The Evaluator's ModelEvaluation (TFMA output).
        blessing: The Evaluator's ModelBlessing (`blessed` in its metadata).
        run_report: The RunReport's directory holding `report.html`.
        metrics: Output: the overall metrics and `blessed`, as scalars.
        report: Output: the report page, a file at the artifact's path.
        summary: Output: the Markdown summary, a file at the artifact's path.
    """
    blessed = blessing.metadata.get("blessed") == 1
    by_slice = metrics_by_slice(evaluation.uri)
    overall = by_slice.get("Overall", {})
    for name in key_metric_names(overall):
        value = overall[name]
        if math.isfinite(value):
            metrics.log_metric(name, value)
    metrics.log_metric("blessed", 1.0 if blessed else 0.0)
    for artifact in (report, summary):
        os.makedirs(os.path.dirname(artifact.path) or ".", exist_ok=True)
    shutil.copyfile(os.path.join(run_report.path, REPORT_FILE), report.path)
    with open(summary.path, "w") as f:
        f.write(summary_markdown(blessed, by_slice, _failed_gates(evaluation.uri)))


def main(argv: list[str] | None = None) -> None:
    """The container entry point: runs `publish_run_summary` through kfp's own executor."""
    from kfp.dsl.executor import Executor

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executor_input", required=True, help="the ExecutorInput JSON ({{$}})")
    args = parser.parse_args(argv)
    Executor(json.loads(args.executor_input), publish_run_summary).execute()


if __name__ == "__main__":
    main()
