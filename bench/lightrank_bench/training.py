"""Training throughput of the light ranker on a pipeline's Transform output.

It runs the real training loop, `lightrank.models.training.loop.train`, on the real input pipeline,
`lightrank.models.inputs.make_dataset` over the transformed train split, with the model
`lightrank.models.trainer.build_model` builds from the pipeline config: what the Trainer does, minus
evaluation. `train` counts its first step, which traces the step function and fills the
shuffle buffer, in its cumulative throughput; to report the steady state, each batch size
trains one fresh model for `warmup_steps + steps` steps, evaluating (one batch, early stopping
off) every `warmup_steps`, and reads back the cumulative `train/steps_per_sec` it logs at each
evaluation: the training time between the evaluations at `warmup_steps` and at the end is the
time of `steps` steady-state steps. Evaluation time is excluded by `train` itself.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lightrank_bench.errors import BenchInputError

if TYPE_CHECKING:  # TensorFlow loads only when a benchmark runs, not when the CLI starts.
    import tensorflow_transform as tft

    from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
    from lightrank.models.features import ResolvedFeatures
    from lightrank.models.settings import ModelConfig

TRAINING_BATCH_SIZES = (32, 256, 1_024)


class TransformOutputError(BenchInputError):
    """The directory is not a Transform component's output (transform graph plus transformed examples)."""


@dataclasses.dataclass(frozen=True)
class TrainingRow:
    """Steady-state training throughput at one batch size.

    Attributes:
        batch_size: Examples per step.
        steps: Timed steps (after the warm-up).
        examples_per_sec: Training examples per second.
        ms_per_step: Mean wall time of a step.
    """

    batch_size: int
    steps: int
    examples_per_sec: float
    ms_per_step: float


def locate_transform_output(transform_dir: str) -> tuple[str, str]:
    """The transform graph and the transformed train files of a Transform component's output.

    Args:
        transform_dir: `<pipeline root>/Transform`, holding `transform_graph/<id>/` and
            `transformed_examples/<id>/Split-train/`; the newest execution id present in both wins.

    Returns:
        `(transform graph directory, glob of the transformed train files)`.

    Raises:
        TransformOutputError: If no execution has both outputs.
    """

    def executions(kind: str) -> set[int]:
        path = os.path.join(transform_dir, kind)
        names = os.listdir(path) if os.path.isdir(path) else []
        return {int(name) for name in names if name.isdigit()}

    common = executions("transform_graph") & executions("transformed_examples")
    if not common:
        raise TransformOutputError(
            f"{transform_dir!r} is not a Transform output: expected transform_graph/<id>/ and "
            "transformed_examples/<id>/ (e.g. <pipeline root>/Transform)"
        )
    execution = str(max(common))
    train_files = os.path.join(transform_dir, "transformed_examples", execution, "Split-train", "*")
    return os.path.join(transform_dir, "transform_graph", execution), train_files


def measure_training(
    config_path: str,
    overrides: list[str],
    transform_dir: str,
    batch_sizes: Sequence[int] = TRAINING_BATCH_SIZES,
    steps: int = 200,
    warmup_steps: int = 20,
) -> list[TrainingRow]:
    """Steady-state examples/s of the configured model's training at each batch size.

    Args:
        config_path: Pipeline config (features, model kind, preset and overrides).
        overrides: `KEY=VALUE` overrides of the config, as `lightrank run --set`.
        transform_dir: The Transform component's output directory.
        batch_sizes: Batch sizes to measure.
        steps: Timed steps per batch size.
        warmup_steps: Untimed steps first (tracing, shuffle buffer).

    Raises:
        ConfigError: If the config is invalid.
        TransformOutputError: If `transform_dir` is not a Transform output.
        ValueError: If `steps` or `warmup_steps` is < 1.
    """
    if steps < 1 or warmup_steps < 1:
        raise ValueError(f"steps={steps} and warmup_steps={warmup_steps} must both be >= 1")
    graph_dir, train_files = locate_transform_output(transform_dir)
    import tensorflow_transform as tft

    from lightrank.models.features import resolve_files
    from lightrank.models.inputs import count_candidates
    from lightrank.pipeline.config import load_config

    config = load_config(config_path, overrides)
    features = resolve_files(config.schema.path, config.schema.feature_spec)
    return training_throughput(
        subject_of(config.model, features, count_candidates([train_files])),
        tft.TFTransformOutput(graph_dir),
        train_files,
        batch_sizes,
        steps,
        warmup_steps,
    )


@dataclasses.dataclass(frozen=True)
class ModelUnderTest:
    """What the Trainer would build and train: kind, task, settings and resolved features."""

    kind: str
    task: str
    deepnorm: DeepNormConfig
    training: TrainingConfig
    features: ResolvedFeatures
    scaled: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def subject_of(model: ModelConfig, features: ResolvedFeatures, train_candidates: int) -> ModelUnderTest:
    """What the Trainer builds from a config's `model` section for a train split of this size.

    The preset with the config's overrides, then the preset's settings for large data when the
    split is large enough (`lightrank.models.scaling`), as `run_fn` applies them; `scaled` holds
    the settings that rule changed.
    """
    from lightrank.models.scaling import scale_to_data
    from lightrank.models.settings import data_scaling_config, resolve_model_settings

    deepnorm, training = resolve_model_settings(model)
    deepnorm, training, decision = scale_to_data(
        data_scaling_config(model), train_candidates, deepnorm, training
    )
    scaled = dict(decision.applied) if decision is not None else {}
    return ModelUnderTest(model.kind, model.task, deepnorm, training, features, scaled)


def training_throughput(
    subject: ModelUnderTest,
    transform_output: tft.TFTransformOutput,
    train_files: str,
    batch_sizes: Sequence[int],
    steps: int,
    warmup_steps: int,
) -> list[TrainingRow]:
    """`measure_training` once the config and the Transform output are resolved.

    Raises:
        RuntimeError: If the timed steps took no measurable time beyond the warm-up.
    """
    import tensorflow as tf

    from lightrank.models.inputs import make_dataset
    from lightrank.models.trainer import build_model
    from lightrank.models.training.loop import train

    logging.getLogger("lightrank.models.training.loop").setLevel(logging.WARNING)

    def steady_seconds(batch_size: int) -> float:
        """Seconds of the `steps` training steps after the first `warmup_steps` of one run."""
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(0)
        model, input_keys = build_model(subject.kind, subject.deepnorm, subject.features)
        dataset_args = {
            "input_keys": input_keys,
            "label_key": subject.features.label_key(subject.task),
            "weight_key": subject.features.example_weight,
            "batch_size": batch_size,
        }
        train_ds = make_dataset(
            [train_files], transform_output, repeat=True, shuffle=True, seed=0, **dataset_args
        )
        eval_ds = make_dataset([train_files], transform_output, repeat=False, shuffle=False, **dataset_args)
        settings = subject.training.model_copy(
            update={
                "max_steps": warmup_steps + steps,
                "eval_every_steps": warmup_steps,
                "early_stop_patience": None,
                "seed": 0,
            }
        )
        with tempfile.TemporaryDirectory() as log_dir:
            train(model, train_ds, eval_ds.take(1), settings, subject.deepnorm, log_dir=log_dir)
            rates = _logged_steps_per_sec(log_dir)
        # `steps_per_sec` is cumulative (steps / training seconds so far), so seconds(step) = step / rate.
        total = warmup_steps + steps
        return total / rates[total] - warmup_steps / rates[warmup_steps]

    rows = []
    for batch_size in batch_sizes:
        seconds = steady_seconds(batch_size)
        if seconds <= 0:
            raise RuntimeError(
                f"batch {batch_size}: {steps} steps took no measurable time beyond the warm-up; "
                "use more steps"
            )
        rows.append(TrainingRow(batch_size, steps, batch_size * steps / seconds, 1000.0 * seconds / steps))
    return rows


def _logged_steps_per_sec(log_dir: str) -> dict[int, float]:
    """The `train/steps_per_sec` scalars `train` logged, by step."""
    import tensorflow as tf

    rates = {}
    for path in tf.io.gfile.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "train/steps_per_sec":
                    rates[int(event.step)] = float(tf.make_ndarray(value.tensor))
    return rates
