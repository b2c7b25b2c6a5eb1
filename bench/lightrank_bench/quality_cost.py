"""The serving cost of a model of the quality table, next to its quality.

A richer light ranker is only worth it if it stays cheap to serve, so the quality table can give
each Keras model its cost per candidate (`lightrank-bench quality --serving-data DIR`): the
counted FLOPs (`flops.count_flops`, at the mean ids per candidate of the serving data) and the
candidates per second of its exported `serving_default` on serialized candidates at batch 1,000
on one thread. The trained model is exported exactly as the Trainer exports it
(`lightrank.models.export.export_serving_model`) into a temporary directory, and the serving
benchmark's own worker (`serving.run_serving`, a fresh process with one thread) times it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from typing import TYPE_CHECKING

from lightrank_bench.training import ModelUnderTest

if TYPE_CHECKING:  # TensorFlow loads only when a benchmark runs, not when the CLI starts.
    import tensorflow as tf
    import tensorflow_transform as tft

#: The request size and thread setting of the cost columns.
COST_BATCH = 1_000
COST_THREADS = 1
#: Seconds of timed requests per model.
COST_SECONDS = 3.0


@dataclasses.dataclass(frozen=True)
class ServingCost:
    """One model's serving cost per candidate.

    Attributes:
        kflop: Counted kFLOP per candidate at `ids_per_row`.
        candidates_per_sec: `serving_default` at `COST_BATCH` on `COST_THREADS` thread.
        ids_per_row: Mean hashed sparse ids per candidate of the serving data.
    """

    kflop: float
    candidates_per_sec: float
    ids_per_row: float


def serving_cost(
    model: tf.keras.Model,
    input_keys: tuple[str, ...],
    subject: ModelUnderTest,
    transform_output: tft.TFTransformOutput,
    data: str,
) -> ServingCost:
    """Exports `model` as the Trainer would and measures its serving cost on `data`.

    Args:
        model: The trained logit model.
        input_keys: The Transform outputs it reads.
        subject: What it was trained with (kind, task, settings, features).
        transform_output: The Transform graph the export embeds.
        data: Raw serialized candidates (a directory or glob of TFRecord files), as
            `lightrank-bench serving --data` takes them.

    Raises:
        RuntimeError: If the serving worker fails.
    """
    from lightrank.models.export import export_serving_model
    from lightrank_bench.serving import run_serving

    settings = {
        "kind": subject.kind,
        "task": subject.task,
        "label": subject.features.label_key(subject.task),
        "preset": None,
        "deepnorm": subject.deepnorm.model_dump(mode="json"),
        "training": subject.training.model_dump(mode="json"),
    }
    with tempfile.TemporaryDirectory(prefix="lightrank-quality-cost-") as export_dir:
        export_serving_model(model, transform_output, subject.features, input_keys, export_dir, settings)
        result = run_serving(export_dir, data, [COST_BATCH], COST_SECONDS, COST_THREADS)
    return ServingCost(
        kflop=result.flops_per_candidate / 1e3,
        candidates_per_sec=result.rows[0].candidates_per_sec,
        ids_per_row=result.ids_per_row,
    )
