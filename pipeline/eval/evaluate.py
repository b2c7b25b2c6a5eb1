"""`lightrank eval`: any exported model on any data, measured by the Evaluator's own metric code.

The role of the original's `eval_model.py`. The TFMA `EvalConfig` is
`lightrank.pipeline.eval_config.build_eval_config`, the one the pipeline's Evaluator runs, read by the
same TFMA entry point, so a number printed here is the number the Evaluator gated. Candidates
without a heavy score are not dropped silently: the grouped metrics skip them and count them
in `num_candidates_missing_heavy_score`, a column of the table, and the report says how many
the data holds.

Bad input (a glob matching nothing, a candidate without a request key, a directory that is
not a serving SavedModel) ends with one message naming it, before anything is written.
Outputs appear only once everything succeeded: TFMA writes into a staging directory that
is moved to `--out` at the end, and the JSON and Parquet files are renamed into place. The
JSON of every scalar metric by slice is always written, to `<out>/metrics.json` unless
`--json` names another file.

This module imports nothing heavy at load time: the CLI imports it to build its parser.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any, TextIO

from lightrank.components.run_report.numbers import NOT_AVAILABLE
from lightrank.errors import ConfigError, UserError, shorten
from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.io import is_remote, isdir

#: The table's columns: (header, metric name). All metrics are in the JSON and the TFMA output.
TABLE_COLUMNS = (
    ("examples", "example_count"),
    ("requests", "num_requests"),
    ("auc", "auc_unweighted"),
    ("rce", "rce_unweighted"),
    ("nrce", "nrce_unweighted"),
    ("logloss", "log_loss_unweighted"),
    ("pred_ctr", "predicted_ctr_unweighted"),
    ("ctr", "ctr_unweighted"),
    ("R@50/3", "recall_atLight_50_atHeavy_3"),
    ("R@100/10", "recall_atLight_100_atHeavy_10"),
    ("CGR@100/10", "cgr_atLight_100_atHeavy_10"),
    ("NDCG@10", "ndcg_at_10"),
    ("no_heavy", "num_candidates_missing_heavy_score"),
)
_COUNTS = {"example_count", "num_requests", "num_candidates_missing_heavy_score"}
_LEGEND = (
    "Unweighted metrics. R@N/K = recall_atLight_N_atHeavy_K, CGR@N/K = cgr_atLight_N_atHeavy_K,\n"
    "NDCG@10 by heavy score, no_heavy = num_candidates_missing_heavy_score (candidates left out of\n"
    "R, CGR, NDCG and ExpectedLoss). n/a = undefined on the slice: auc with one label class; the\n"
    "request metrics on a slice that splits requests (by a candidate feature); rce with one class."
)
#: The JSON's file name inside `--out` when `--json` is not given.
DEFAULT_JSON_NAME = "metrics.json"
_GZIP_MAGIC = b"\x1f\x8b"


class EvalInputError(UserError):
    """An input of `lightrank eval` (model, data, output path) that cannot be used as given."""


def data_pattern(data: str) -> str:
    """The glob TFMA reads: the argument itself, or every file of a directory."""
    return os.path.join(data, "*") if isdir(data) else data


def data_files(data: str) -> list[str]:
    """The files a `--data` directory or glob stands for, sorted, each a readable candidate file.

    Raises:
        EvalInputError: Nothing matches, a match is a directory (TFMA would fail on it), or a
            gzip file lacks the `.gz` extension from which Beam picks the codec.
    """
    pattern = data_pattern(data)
    if is_remote(pattern):
        import tensorflow as tf

        matches = sorted(tf.io.gfile.glob(pattern))
    else:
        matches = sorted(glob.glob(pattern))
    if not matches:
        raise EvalInputError(f"--data {data} matches no file")
    for path in matches:
        if isdir(path):
            raise EvalInputError(f"--data {data} matches the directory {path}; give a glob of files")
        if not is_remote(path) and not path.endswith(".gz"):
            with open(path, "rb") as f:
                if f.read(2) == _GZIP_MAGIC:
                    raise EvalInputError(
                        f"{path} is gzip-compressed but its name does not end in .gz: TFMA picks the "
                        "codec from the extension; rename it"
                    )
    return matches


@dataclasses.dataclass(frozen=True)
class EvalOutputs:
    """Where the results go; checked before anything runs."""

    out_dir: str
    json_path: str
    predictions_path: str | None = None

    @classmethod
    def plan(cls, out: str | None, json_path: str | None, predictions: str | None, model: str) -> EvalOutputs:
        """Absolute output paths; `out` defaults to `eval/<model name>-<time>` in the current dir.

        The JSON goes to `json_path`, or to `<out>/metrics.json` when it is None.

        Raises:
            EvalInputError: `--out` exists and is not an empty directory, or the directory of
                `--json` / `--predictions` does not exist (and is not `--out` itself).
        """
        if out is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = os.path.join("eval", f"{os.path.basename(os.path.normpath(model))}-{stamp}")
        out = os.path.abspath(out)
        if os.path.exists(out) and not (os.path.isdir(out) and not os.listdir(out)):
            raise EvalInputError(f"--out {out} already exists; choose a new directory")
        for flag, path in (("--json", json_path), ("--predictions", predictions)):
            directory = os.path.dirname(os.path.abspath(path)) if path else ""
            if path is not None and directory != out and not os.path.isdir(directory):
                raise EvalInputError(f"{flag} {path}: directory {directory} does not exist")
        return cls(
            out_dir=out,
            json_path=os.path.abspath(json_path) if json_path else os.path.join(out, DEFAULT_JSON_NAME),
            predictions_path=os.path.abspath(predictions) if predictions else None,
        )

    def staged(self, path: str, staging: str) -> str:
        """Where to write `path` before the staging directory becomes `out_dir`."""
        if os.path.dirname(path) == self.out_dir:
            return os.path.join(staging, os.path.basename(path))
        return path


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """What one evaluation measured."""

    metrics: dict[str, dict[str, float]]
    candidates: int
    missing_heavy_score: int
    gates_passed: bool
    failed_gates: tuple[str, ...]
    prediction_rows: int | None


def _failed_gates(validation: Any) -> tuple[str, ...]:
    names = [
        failure.metric_key.name
        for per_slice in validation.metric_validations_per_slice
        for failure in per_slice.failures
    ]
    return tuple(dict.fromkeys(names))


def evaluate(
    config: PipelineConfig, model_dir: str, data: str, outputs: EvalOutputs, console: TextIO
) -> EvalResult:
    """Checks the inputs, runs TFMA and writes every requested output.

    Args:
        config: The `PipelineConfig` giving the feature spec, slices, gates and Beam args.
        model_dir: A serving SavedModel (or a Trainer's Model artifact directory).
        data: A glob or directory of TFRecord files of raw `tf.Example` candidates.
        outputs: Where the results go.
        console: Where progress lines go.

    Raises:
        EvalInputError: Bad model or data, before anything is written.
    """
    import apache_beam as beam
    import tensorflow_model_analysis as tfma

    from lightrank.components.model_evaluation import metrics_by_slice
    from lightrank.models.features import load_schema, resolve_files
    from lightrank.pipeline.eval.predictions import (
        CandidateColumns,
        check_serving_model,
        resolve_model_dir,
        scan_candidates,
        write_predictions,
    )
    from lightrank.pipeline.eval_config import build_eval_config

    features = resolve_files(config.schema.path, config.schema.feature_spec)
    columns = CandidateColumns.from_features(features, load_schema(config.schema.path))
    try:
        eval_config = build_eval_config(config, features)
    except ValueError as error:  # e.g. a threshold on a metric that does not exist
        raise ConfigError(f"evaluation config: {shorten(error)}") from error
    files = data_files(data)
    model_dir = resolve_model_dir(model_dir)
    check_serving_model(model_dir, eval_config.model_specs[0].preprocessing_function_names)
    console.write(f"Model:       {model_dir}\nData:        {len(files)} file(s) matching {data}\n")
    scan = scan_candidates(files, columns, label=eval_config.model_specs[0].label_key or None)
    console.write(f"Candidates:  {scan.candidates:,} ({scan.missing_heavy_score:,} without a heavy score)\n")
    staging = tempfile.mkdtemp(prefix="lightrank-eval-")
    try:
        console.write("Running TFMA ...\n")
        tfma.run_model_analysis(
            eval_shared_model=tfma.default_eval_shared_model(
                eval_saved_model_path=model_dir, eval_config=eval_config, rubber_stamp=True
            ),
            eval_config=eval_config,
            data_location=data_pattern(data),
            file_format="tfrecords",
            output_path=staging,
            pipeline_options=beam.options.pipeline_options.PipelineOptions(list(config.beam_args)),
        )
        validation = tfma.load_validation_result(staging)
        result = EvalResult(
            metrics=metrics_by_slice(staging),
            candidates=scan.candidates,
            missing_heavy_score=scan.missing_heavy_score,
            gates_passed=validation.validation_ok,
            failed_gates=_failed_gates(validation),
            prediction_rows=None,
        )
        if outputs.predictions_path:
            console.write("Writing predictions ...\n")
            rows = write_predictions(
                model_dir, files, columns, outputs.staged(outputs.predictions_path, staging)
            )
            result = dataclasses.replace(result, prediction_rows=rows)
        _write_json(
            outputs.staged(outputs.json_path, staging),
            {"model": model_dir, "data": data, "metrics": result.metrics},
        )
        os.makedirs(os.path.dirname(outputs.out_dir), exist_ok=True)
        if os.path.isdir(outputs.out_dir):
            os.rmdir(outputs.out_dir)  # checked empty by EvalOutputs.plan
        shutil.move(staging, outputs.out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def _write_json(path: str, content: Mapping[str, Any]) -> None:
    """Writes strict JSON (NaN as null) under a temporary name, then renames it into place."""
    handle, temporary = tempfile.mkstemp(prefix=".metrics-", suffix=".json.tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "w") as f:
            json.dump(_json_safe(content), f, indent=1, sort_keys=True, allow_nan=False)
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise


def _cell(metric: str, value: float | None) -> str:
    """A table cell: "-" for a metric not computed, "n/a" for one undefined on the slice (NaN)."""
    if value is None:
        return "-"
    if math.isnan(value):
        return NOT_AVAILABLE
    return f"{value:,.0f}" if metric in _COUNTS else f"{value:.4f}"


def format_table(metrics: Mapping[str, Mapping[str, float]]) -> str:
    """Metrics by slice: one row per slice (Overall first), the key metrics as columns."""
    slices = sorted(metrics, key=lambda name: (name != "Overall", name))
    header = ["slice", *(title for title, _ in TABLE_COLUMNS)]
    rows = [header] + [
        [name, *(_cell(metric, metrics[name].get(metric)) for _, metric in TABLE_COLUMNS)] for name in slices
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "\n".join([*lines, _LEGEND])


def format_report(result: EvalResult, outputs: EvalOutputs) -> str:
    """The table and where everything went."""
    lines = ["", format_table(result.metrics), ""]
    if result.missing_heavy_score:
        lines.append(
            f"{result.missing_heavy_score:,} of {result.candidates:,} candidates lack a heavy score: the "
            "grouped metrics (R, CGR, ExpectedLoss) skip them; no_heavy counts them per slice."
        )
    gates = "passed" if result.gates_passed else f"FAILED ({', '.join(result.failed_gates)})"
    lines.append(f"Quality gates (absolute bounds of the config, overall slice): {gates}")
    lines.append(f"Evaluation:  {outputs.out_dir}")
    lines.append(f"Metrics:     {outputs.json_path}")
    if outputs.predictions_path:
        lines.append(f"Predictions: {outputs.predictions_path} ({result.prediction_rows:,} rows)")
    return "\n".join(lines)
