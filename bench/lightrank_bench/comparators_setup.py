"""What `lightrank-bench comparators` does once, before timing: LightGBM and the ONNX model.

`prepare_comparators` trains LightGBM (`gbdt`) on the Transform's `continuous` of the candidates
the requests hold, with the model task's label, and converts `serving_transformed` to ONNX
(`onnx_model`), checking ONNX Runtime's predictions on the largest request featurised as the
end-to-end rows featurise it (`featurizer`). It leaves a booster file and, if the model
converts, an ONNX file for the timing workers; `ComparatorSetup` says what it did.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lightrank_bench.errors import BenchInputError
from lightrank_bench.featurizer import SERVING_FEATURES
from lightrank_bench.onnx_model import ONNX_OPSET

#: Candidates LightGBM trains on (the first of them are the timed requests); at least the largest request.
TRAIN_CANDIDATES = 20_000
BOOSTER_FILE = "lightgbm.txt"
ONNX_FILE = "model.onnx"


@dataclasses.dataclass(frozen=True)
class ComparatorSetup:
    """What was trained and converted, once, before timing.

    Attributes:
        label: The raw label column LightGBM learnt (the model task's).
        train_candidates: Candidates LightGBM trained on.
        positive_rate: Mean label of those candidates.
        continuous_features: Columns of `continuous`, LightGBM's only features.
        trees: LightGBM boosting rounds.
        leaves: LightGBM maximum leaves per tree.
        onnx_status: "converted", or "did not convert: <one-line reason>".
        onnx_max_abs_diff: Largest |ONNX Runtime - TensorFlow| prediction of `serving_transformed`
            on the same inputs; None if it did not convert.
        onnx_checked_candidates: Candidates that comparison covered.
        featurization: `Featurizer.source` of the end-to-end rows.
    """

    label: str
    train_candidates: int
    positive_rate: float
    continuous_features: int
    trees: int
    leaves: int
    onnx_status: str
    onnx_max_abs_diff: float | None
    onnx_checked_candidates: int
    featurization: str

    @property
    def onnx_converted(self) -> bool:
        """Whether ONNX Runtime runs the model (and has rows in the table)."""
        return self.onnx_status == "converted"

    def describe(self) -> list[str]:
        """Markdown list items: what LightGBM learnt, whether ONNX converted, how requests are featurised."""
        onnx = f"- ONNX Runtime: `serving_transformed` through tf2onnx (opset {ONNX_OPSET}): "
        if self.onnx_converted:
            onnx += (
                f"converted; max |ONNX Runtime - TensorFlow| prediction {self.onnx_max_abs_diff:.2e} "
                f"on {self.onnx_checked_candidates:,} candidates"
            )
        else:
            onnx += self.onnx_status
        if self.featurization == SERVING_FEATURES:
            featurized = "the export's `serving_features` signature, `serving_default`'s own featurisation"
        else:
            featurized = (
                "`tf.io.parse_example` and the export's Transform layer (`tft_layer`): this export has no "
                "`serving_features` signature, and the Transform layer may cost more than "
                "`serving_default`'s own featurisation (re-export to time that)"
            )
        return [
            f"- LightGBM: {self.trees} trees of at most {self.leaves} leaves on the "
            f"{self.continuous_features} continuous features (not the hashed sparse ids), trained on "
            f"{self.train_candidates:,} candidates of the same data, label `{self.label}` "
            f"(mean {self.positive_rate:.3f})",
            onnx,
            f"- End-to-end rows featurise with {featurized}; LightGBM fetches only `continuous`",
        ]


def task_label(model_dir: str, config_path: str) -> str:
    """The raw label column LightGBM learns: the exported model's task, looked up in the feature spec.

    The export records its task (`model_settings.json`) but not the label's column name; the
    pipeline config's feature spec maps tasks to columns (`labels:`), as the Trainer does.

    Raises:
        ConfigError: If the config or its feature spec is invalid.
        BenchInputError: If the feature spec has no label for the model's task.
    """
    from lightrank.models.export import load_settings
    from lightrank.models.features import FeatureSpec
    from lightrank.pipeline.config import load_config

    settings, _ = load_settings(model_dir)
    task = settings.get("task")
    spec_path = load_config(config_path).schema.feature_spec
    labels = FeatureSpec.load(spec_path).labels
    if task not in labels:
        raise BenchInputError(
            f"the model's task {task!r} has no label in {spec_path} (tasks: {sorted(labels)}); pass --label"
        )
    return labels[task]


def training_labels(transformed: Mapping[str, Any], label: str, count: int, data: str) -> np.ndarray:
    """LightGBM's `[count]` float64 labels from `transform_features`' outputs on the labelled candidates.

    Raises:
        BenchInputError: If `label` is not a Transform output or it has fewer than two values.
    """
    if label not in transformed:
        raise BenchInputError(
            f"label {label!r} is not an output of the model's Transform; it has {sorted(transformed)}"
        )
    labels = np.asarray(transformed[label]).astype(np.float64).reshape(-1)
    if labels.size != count or np.unique(labels).size < 2:
        raise BenchInputError(
            f"label {label!r} has {np.unique(labels).size} distinct value(s) in {count:,} candidates of "
            f"{data}: does the data carry it? LightGBM needs both classes"
        )
    return labels


def prepare_comparators(
    model_dir: str, data: str, label: str, batch_sizes: Sequence[int], workdir: str,
    train_candidates: int = TRAIN_CANDIDATES,
) -> ComparatorSetup:  # fmt: skip
    """Trains LightGBM and converts the model to ONNX once, into `workdir`, for every thread setting.

    Args:
        model_dir: The exported model.
        data: Candidate TFRecords, with labels.
        label: The raw label column of the model's task (`features.label_key(task)`).
        batch_sizes: The timed request sizes (the ONNX check covers the largest).
        workdir: Receives `BOOSTER_FILE` and, if it converts, `ONNX_FILE`.
        train_candidates: LightGBM's training candidates (at least the largest request).

    Raises:
        BenchInputError: If the data holds no candidates, lacks the label or has one label value.
    """
    import tensorflow as tf

    from lightrank.models.export import load_settings
    from lightrank.models.features import CONTINUOUS
    from lightrank_bench.featurizer import featurizer
    from lightrank_bench.gbdt import DEFAULT_LEAVES, DEFAULT_TREES, continuous_matrix, train_lightgbm
    from lightrank_bench.onnx_model import convert_to_onnx
    from lightrank_bench.serving import load_candidates, read_records

    settings, _ = load_settings(model_dir)
    missing_value = float(settings["deepnorm"]["missing_value"])
    count = max(train_candidates, *batch_sizes)
    try:
        labeled = read_records(data, count)  # candidate i is requests' candidate i, labels kept
        requests = load_candidates(data, max(batch_sizes))
    except FileNotFoundError as error:
        raise BenchInputError(f"--data {data}: {error}") from error
    loaded = tf.saved_model.load(model_dir)
    transformed = loaded.signatures["transform_features"](examples=tf.constant(labeled))
    labels = training_labels(transformed, label, count, data)
    continuous = transformed[CONTINUOUS].numpy()
    booster = train_lightgbm(continuous_matrix(continuous, missing_value), labels)
    booster.save_model(os.path.join(workdir, BOOSTER_FILE))

    features = featurizer(loaded)
    inputs = [value.numpy() for value in features.featurize(tf.constant(requests))]
    onnx_path = os.path.join(workdir, ONNX_FILE)
    status, difference = convert_to_onnx(loaded, inputs, onnx_path, features.names)
    if status != "converted" and os.path.exists(onnx_path):
        os.remove(onnx_path)
    return ComparatorSetup(
        label=label,
        train_candidates=count,
        positive_rate=float(labels.mean()),
        continuous_features=int(continuous.shape[1]),
        trees=DEFAULT_TREES,
        leaves=DEFAULT_LEAVES,
        onnx_status=status,
        onnx_max_abs_diff=difference,
        onnx_checked_candidates=len(requests),
        featurization=features.source,
    )
