"""The end-of-run summary: what was pushed, how good it is, where things are.

The metrics come from `lightrank.components.model_evaluation.metrics_by_slice`, as in every
other view, so a value undefined on a slice is n/a here too.
"""

from __future__ import annotations

from collections.abc import Iterable

from ml_metadata.proto import metadata_store_pb2

from lightrank.components.model_evaluation import key_metric_names, metrics_by_slice
from lightrank.components.run_report.calibration import calibration_effect, calibration_line
from lightrank.components.run_report.numbers import format_number
from lightrank.components.run_report.training import scaling_line
from lightrank.components.self_comparison import BASELINE_IS_CANDIDATE
from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.metadata.runs import RunRecord, open_store

#: Said when the Evaluator found its model to be the baseline (`lightrank.components.self_comparison`).
EVALUATED_ONCE = (
    "Baseline:       the model is the last blessed model itself, so its evaluation against itself was skipped"
)


def evaluated_against_itself(config: PipelineConfig, run: RunRecord) -> bool:
    """Whether the run's Evaluator found its model to be the last blessed one and scored it once.

    The blessing says so (`baseline_is_candidate`); a run whose Trainer came from the cache
    evaluates the very model the previous run blessed, and the summary should not leave the
    reader to wonder why the Evaluator was quick or why nothing was pushed.
    """
    evaluator = next((c for c in run.components if c.component == "Evaluator"), None)
    if evaluator is None or run.evaluation_uri is None:
        return False
    try:
        store = open_store(config.metadata)
    except FileNotFoundError:
        return False
    events = store.get_events_by_execution_ids([evaluator.execution_id])
    outputs = [event.artifact_id for event in events if event.type == metadata_store_pb2.Event.OUTPUT]
    return any(
        artifact.custom_properties[BASELINE_IS_CANDIDATE].int_value == 1
        for artifact in (store.get_artifacts_by_id(outputs) if outputs else [])
        if BASELINE_IS_CANDIDATE in artifact.custom_properties
    )


def _recorded_lines(model_uri: str | None) -> tuple[str | None, str | None]:
    """What the Trainer decided after the config was fixed, from the model's `model_settings.json`.

    Returns:
        `(calibration, scaling)`: how far `model.calibration` moved RCE and NRCE (the metrics
        above are the calibrated model's, so a better RCE is not mistaken for a better
        ranking), and whether the preset's settings for large data were applied; each None
        when it did not run or the model cannot be read (which must not hide the rest).
    """
    if not model_uri:
        return None, None
    from lightrank.components.run_report.artifacts import model_settings

    try:
        settings = model_settings(model_uri)
        effect = calibration_effect(settings)
        return (calibration_line(effect) if effect else None), scaling_line(settings or {})
    except (OSError, ValueError, KeyError):  # unreadable or malformed settings
        return None, None


def format_summary(
    config: PipelineConfig, run: RunRecord, *, log_file: str, ok: bool, expected: Iterable[str] = ()
) -> str:
    """A short, human-readable report of one run.

    Args:
        config: The run's config.
        run: The run as recorded in ML Metadata.
        log_file: The full log, named at the end.
        ok: Whether the run finished without an error.
        expected: The pipeline's component ids; those without an execution
            (e.g. the Pusher when the model was not blessed) show as skipped.
    """
    lines = [f"\nRun {run.run_id} of pipeline '{config.name}'"]
    for component in run.components:
        lines.append(f"  {component.component:<32} {component.state:<9} {component.seconds:7.1f} s")
    recorded = {component.component for component in run.components}
    lines.extend(f"  {name:<32} {'skipped':<9}" for name in expected if name not in recorded and ok)
    total = sum(c.seconds for c in run.components)
    lines.append(f"  {'total':<32} {'':<9} {total:7.1f} s")
    if run.blessed is not None:
        lines.append(f"Blessed:        {'yes' if run.blessed else 'NO (a quality gate failed)'}")
    if evaluated_against_itself(config, run):
        lines.append(EVALUATED_ONCE)
    pushed = run.pushed_model or (
        f"nothing new: this model is already pushed, complete, at {run.already_pushed}"
        if run.already_pushed
        else "nothing was pushed"
    )
    if run.pushed_model and any(c.component == "Pusher" and c.state == "cached" for c in run.components):
        # The Pusher's output came from the cache: an earlier run pushed it, this one copied nothing.
        pushed += " (pushed by an earlier run; the Pusher came from the cache)"
    lines.append(f"Pushed model:   {pushed}")
    if run.evaluation_uri:
        overall = metrics_by_slice(run.evaluation_uri).get("Overall", {})
        shown = [(name, overall[name]) for name in key_metric_names(overall)]
        if shown:
            lines.append("Metrics (eval split, overall):")
            lines.extend(f"  {name:<32} {format_number(value)}" for name, value in shown)
        lines.append(f"Evaluation:     {run.evaluation_uri}")
    calibration, scaling = _recorded_lines(run.model_uri)
    if calibration:
        lines.append(f"Calibration:    {calibration}")
    if scaling:
        lines.append(f"Train split:    {scaling}")
    if run.model_uri:
        lines.append(f"Trained model:  {run.model_uri}")
    if config.metadata.sqlite:
        lines.append(f"ML Metadata:    {config.metadata.sqlite}")
    lines.append(f"Pipeline root:  {config.root}")
    lines.append(f"Full log:       {log_file}")
    if not ok:
        lines.append("The run FAILED; the error is above and in the full log.")
    return "\n".join(lines)


def thresholds_text(config: PipelineConfig) -> Iterable[str]:
    """The configured gates, one per line, e.g. `auc >= 0.5`."""
    for name, threshold in config.evaluation.thresholds.items():
        if threshold.lower_bound is not None:
            yield f"{name} >= {threshold.lower_bound}"
        if threshold.upper_bound is not None:
            yield f"{name} <= {threshold.upper_bound}"
        if threshold.change is not None:
            yield f"{name} no worse than the last blessed model ({threshold.change.replace('_', ' ')})"
