"""`lightrank eval`: any exported model on any data, measured by the Evaluator's own metric code.

The role of the original's `eval_model.py`. The TFMA `EvalConfig` is
`lightrank.pipeline.eval_config.build_eval_config`, the one the pipeline's Evaluator runs, read by the
same TFMA entry point, so a number printed here is the number the Evaluator gated. Candidates
without a heavy score are not dropped silently: the grouped metrics skip them and count them
in `num_candidates_missing_heavy_score`, a column of the table, and the report says how many
the data holds.

What to evaluate comes from a pipeline config when one is given (its feature spec, task,
slices, gates and grouped cut-offs), else from the model itself: the `ModelAsset` every
export carries (`models/export.py`) names its features, task and label, and the evaluation
is then the overall slice with the default grouped cut-offs and no gates. A model exported
before the asset existed needs `--config`.

Bad input (a glob matching nothing, a candidate without a request key, a directory that is
not a serving SavedModel) ends with one message naming it, before any result is written;
`lightrank.pipeline.eval.outputs` says where results and the log go and when they appear.
The JSON of every scalar metric by slice is always written, to `<out>/metrics.json` unless
`--json` names another file.

This module imports nothing heavy at load time: the CLI imports it to build its parser.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from lightrank.errors import ConfigError, shorten
from lightrank.models.paths import is_remote
from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.eval.outputs import EvalInputError, EvalOutputs, write_json
from lightrank.pipeline.eval.report import EvalResult
from lightrank.pipeline.io import isdir

if TYPE_CHECKING:  # both load TensorFlow; imported where used
    from lightrank.pipeline.eval.predictions import CandidateColumns
    from lightrank.pipeline.eval_config import EvalSettings

#: The Beam arguments without a config: the pipeline config's own default.
DEFAULT_BEAM_ARGS: tuple[str, ...] = tuple(
    PipelineConfig.model_fields["beam_args"].get_default(call_default_factory=True)
)
_GZIP_MAGIC = b"\x1f\x8b"


def data_pattern(data: str) -> str:
    """The glob TFMA reads: the argument itself, or every file of a directory."""
    return os.path.join(data, "*") if isdir(data) else data


def checked_candidate_files(data: str) -> list[str]:
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


def _failed_gates(validation: Any) -> tuple[str, ...]:
    names = [
        failure.metric_key.name
        for per_slice in validation.metric_validations_per_slice
        for failure in per_slice.failures
    ]
    return tuple(dict.fromkeys(names))


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What to evaluate and how to read the data, from a config or from the model's asset."""

    settings: EvalSettings
    columns: CandidateColumns
    beam_args: tuple[str, ...]
    source: str


def _plan_from_config(config: PipelineConfig) -> _Plan:
    """The plan of a pipeline config: its feature spec and schema, task, slices, gates, cut-offs."""
    from lightrank.models.features import load_schema, resolve_files
    from lightrank.pipeline.eval.predictions import CandidateColumns
    from lightrank.pipeline.eval_config import EvalSettings

    features = resolve_files(config.schema.path, config.schema.feature_spec)
    columns = CandidateColumns.from_features(features, load_schema(config.schema.path))
    source = f"from the config (feature spec {config.schema.feature_spec})"
    return _Plan(EvalSettings.from_config(config, features), columns, tuple(config.beam_args), source)


def _plan_from_model(model_dir: str) -> _Plan:
    """The plan an exported model carries (`ModelAsset`): overall slice, default cut-offs, no gates.

    Raises:
        EvalInputError: Not a serving model, a model without the asset (exported before it
            existed: `--config` is needed), or an asset that does not read.
    """
    import tensorflow as tf

    from lightrank.models.export import MODEL_ASSET, read_model_asset
    from lightrank.pipeline.eval.predictions import CandidateColumns, check_serving_model
    from lightrank.pipeline.eval_config import EvalSettings

    check_serving_model(model_dir)  # a wrong directory is named as such, not as a missing asset
    try:
        asset = read_model_asset(model_dir)
    except ValueError as error:
        raise EvalInputError(f"{shorten(error)}; pass --config instead") from error
    if asset is None:
        raise EvalInputError(
            f"model {model_dir} has no {MODEL_ASSET} (exported before models carried it): "
            "pass --config with the pipeline config that trained it"
        )
    try:
        dtypes = {name: tf.as_dtype(asset.column_types[name]) for name in asset.features.passthrough}
    except (KeyError, TypeError) as error:
        raise EvalInputError(
            f"model {model_dir}: {MODEL_ASSET} has no usable type for column {error}; pass --config instead"
        ) from error
    source = (
        f"from the model's {MODEL_ASSET}: task {asset.task} (label {asset.label_key}), overall slice "
        "only, default grouped cut-offs, no gates"
    )
    return _Plan(
        EvalSettings.from_model(asset),
        CandidateColumns.from_dtypes(asset.features, dtypes),
        DEFAULT_BEAM_ARGS,
        source,
    )


def beam_workers(beam_args: Sequence[str], workers: int | None, files: int) -> tuple[tuple[str, ...], str]:
    """The Beam arguments of an evaluation with `workers` processes, and where its work runs.

    On Beam's DirectRunner (the default), `workers` (None: one per data file, up to the
    cores) replaces the config's direct running mode: one worker runs in this process, more
    run as processes, each reading whole files. Measured on the 993,833 candidates of the
    benchmark's 4 files on 2 cores: 51.6 s in this process, 39.0 s with 2 workers; on one file
    a second worker only adds pickling (17.8 s -> 28.2 s), hence one per file. Other runners
    (Dataflow) keep their arguments.
    """
    runners = [arg.split("=", 1)[1] for arg in beam_args if arg.startswith("--runner=")]
    runner = runners[-1] if runners else "DirectRunner"
    if runner.lower() not in ("directrunner", "direct"):
        return tuple(beam_args), f"Beam {runner} (the config's beam_args)"
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, files))
    kept = [arg for arg in beam_args if not arg.startswith(("--direct_running_mode", "--direct_num_workers"))]
    if workers == 1:
        return (*kept, "--direct_running_mode=in_memory", "--direct_num_workers=1"), "in this process"
    mode = ("--direct_running_mode=multi_processing", f"--direct_num_workers={workers}")
    return (*kept, *mode), f"{workers} worker processes"


def _run_tfma(
    model_dir: str,
    eval_config: Any,
    files: Sequence[str],
    pattern: str,
    output_path: str,
    beam_args: Any,
    tally: str | None,
) -> None:
    """`tfma.run_model_analysis` for TFRecords of tf.Example, with a faster reader and a counter.

    The same TFMA transform as `run_model_analysis` uses for a TF2 model, so the numbers are
    the same. Three steps differ: `CandidateBatches` reads the files with TensorFlow's record
    reader instead of TFXIO's Beam source (the same Arrow batches), `CountCandidates` moves
    the progress bar, and the pipeline Evaluator's own extractors
    (`lightrank.components.eval_extractors`) hand TFMA request views instead of single
    candidates.
    """
    import apache_beam as beam
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis import constants
    from tensorflow_model_analysis.api import model_eval_lib

    from lightrank.components.eval_extractors import custom_extractors
    from lightrank.pipeline.eval.progress import CountCandidates
    from lightrank.pipeline.eval.reader import CandidateBatches

    eval_shared_model = tfma.default_eval_shared_model(
        eval_saved_model_path=model_dir, eval_config=eval_config, rubber_stamp=True
    )
    # TFMA's own defaults, as `run_model_analysis` applies them before its pipeline.
    eval_config = model_eval_lib._update_eval_config_with_defaults(eval_config, eval_shared_model)
    options = beam.options.pipeline_options.PipelineOptions(list(beam_args))
    with beam.Pipeline(options=options) as pipeline:
        _ = (
            pipeline
            | "ReadCandidates" >> CandidateBatches(files, constants.ARROW_INPUT_COLUMN)
            | "CountCandidates" >> beam.ParDo(CountCandidates(tally))
            | "ExtractEvaluateAndWriteResults"
            >> tfma.ExtractEvaluateAndWriteResults(
                eval_config=eval_config,
                eval_shared_model=eval_shared_model,
                output_path=output_path,
                display_only_data_location=pattern,
                display_only_file_format="tfrecords",
                extractors=custom_extractors(eval_shared_model, eval_config),
            )
        )


def evaluate(
    config: PipelineConfig | None,
    model_dir: str,
    data: str,
    outputs: EvalOutputs,
    console: TextIO,
    progress: TextIO | None = None,
    workers: int | None = None,
) -> EvalResult:
    """Checks the inputs, runs TFMA and writes every requested output.

    Args:
        config: The `PipelineConfig` giving the feature spec, task, slices, gates, grouped
            cut-offs and Beam args; None to take features and task from the model's asset.
        model_dir: A serving SavedModel (or a Trainer's Model artifact directory).
        data: A glob or directory of TFRecord files of raw `tf.Example` candidates.
        outputs: Where the results go.
        console: Where progress lines go.
        progress: Where the progress bar goes (the terminal); None shows none.
        workers: Beam worker processes (`beam_workers`); None: one per data file, up to the cores.

    Raises:
        EvalInputError: Bad model or data, before any result is written.
        ConfigError: The config's evaluation section does not build (e.g. a threshold on a
            metric that is not computed).
    """
    import tensorflow_model_analysis as tfma

    from lightrank.components.model_evaluation import metrics_by_slice
    from lightrank.pipeline.eval.predictions import (
        check_serving_model,
        resolve_model_dir,
        scan_candidates,
        write_predictions,
    )
    from lightrank.pipeline.eval.progress import candidate_progress
    from lightrank.pipeline.eval_config import build_eval_config

    files = checked_candidate_files(data)
    model_dir = resolve_model_dir(model_dir)
    plan = _plan_from_config(config) if config is not None else _plan_from_model(model_dir)
    try:
        eval_config = build_eval_config(plan.settings)
    except ValueError as error:  # e.g. a threshold on a metric that does not exist
        raise ConfigError(f"evaluation config: {shorten(error)}") from error
    model_spec = eval_config.model_specs[0]
    check_serving_model(model_dir, model_spec.preprocessing_function_names)
    console.write(f"Model:       {model_dir}\nData:        {len(files)} file(s) matching {data}\n")
    console.write(f"Settings:    {plan.source}\n")
    scan = scan_candidates(files, plan.columns, label=model_spec.label_key or None)
    console.write(f"Candidates:  {scan.candidates:,} ({scan.missing_heavy_score:,} without a heavy score)\n")
    beam_args, where = beam_workers(plan.beam_args, workers, len(files))
    staging = outputs.staging_dir()
    try:
        console.write(f"Running TFMA ({where}) ...\n")
        started = time.monotonic()
        with candidate_progress(scan.candidates, progress) as bar:
            _run_tfma(model_dir, eval_config, files, data_pattern(data), staging, beam_args, bar.tally)
        seconds = time.monotonic() - started
        console.write(
            f"Scored and evaluated {scan.candidates:,} candidates in {seconds:.1f} s "
            f"({scan.candidates / max(seconds, 1e-9):,.0f} candidates/s)\n"
        )
        validation = tfma.load_validation_result(staging)
        result = EvalResult(
            metrics=metrics_by_slice(staging),
            candidates=scan.candidates,
            missing_heavy_score=scan.missing_heavy_score,
            gates_passed=validation.validation_ok,
            failed_gates=_failed_gates(validation),
            prediction_rows=None,
            gated=bool(plan.settings.thresholds),
        )
        if outputs.predictions_path:
            console.write("Writing predictions ...\n")
            rows = write_predictions(
                model_dir, files, plan.columns, outputs.staged(outputs.predictions_path, staging)
            )
            result = dataclasses.replace(result, prediction_rows=rows)
        write_json(
            outputs.staged(outputs.json_path, staging),
            {"model": model_dir, "data": data, "metrics": result.metrics},
        )
        outputs.publish(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result
