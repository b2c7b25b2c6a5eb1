"""Training throughput of the light ranker on random data (examples per second).

Confirms that the 2**18 x 50 sparse table is updated sparsely: with the legacy SGD or
Adagrad a step costs a few milliseconds at batch 32, where a dense update of the table
would cost tens. Batches are generated up front and cycled, so the number measures the
train step (forward, backward, update, host loss read for the NaN guard), not the input
pipeline.

Usage:
    TF_USE_LEGACY_KERAS=1 python -m lightrank_bench.step_throughput --batch-sizes 32 1024 \
        --optimizers sgd adagrad
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank.models.features import CONTINUOUS, SPARSE_IDS
from lightrank.models.training.loop import make_optimizer, make_train_step, select_trainable_variables


@dataclasses.dataclass(frozen=True)
class Throughput:
    """One measurement.

    Attributes:
        optimizer: Optimizer name.
        batch_size: Examples per step.
        ms_per_step: Mean wall time of a step.
        examples_per_sec: `batch_size / step time`.
    """

    optimizer: str
    batch_size: int
    ms_per_step: float
    examples_per_sec: float


def random_batches(
    count: int, batch_size: int, num_continuous: int, ids_per_row: int, input_size_bits: int, seed: int
) -> list[tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]]:
    """`count` random batches in the training contract (10% missing markers, uniform hashed ids)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        x = rng.normal(size=(batch_size, num_continuous)).astype(np.float32)
        x[rng.random(x.shape) < 0.1] = DeepNormConfig().missing_value
        lengths = rng.integers(0, 2 * ids_per_row + 1, size=batch_size)
        ids = tf.RaggedTensor.from_row_lengths(
            rng.integers(0, 2**input_size_bits, size=int(lengths.sum()), dtype=np.int64), lengths
        ).to_sparse()
        label = (rng.random((batch_size, 1)) < 0.3).astype(np.float32)
        meta_weight = rng.integers(0, 20, size=(batch_size, 1)).astype(np.float32)
        batches.append(
            ({CONTINUOUS: tf.constant(x), SPARSE_IDS: ids}, tf.constant(label), tf.constant(meta_weight))
        )
    return batches


def measure(
    optimizer: str,
    batch_size: int,
    config: DeepNormConfig,
    num_continuous: int = 16,
    ids_per_row: int = 32,
    steps: int = 200,
    warmup_steps: int = 20,
) -> Throughput:
    """Times `steps` training steps after `warmup_steps` (tracing and slot creation) on a fresh model."""
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    model = deepnorm_light_ranker(config, num_continuous)
    train_step = make_train_step(
        model,
        make_optimizer(TrainingConfig(optimizer=optimizer, learning_rate=0.002)),
        select_trainable_variables(model, config.trainable_regexes),
        config,
    )
    batches = itertools.cycle(
        random_batches(16, batch_size, num_continuous, ids_per_row, config.input_size_bits, 0)
    )
    for _ in range(warmup_steps):
        float(train_step(*next(batches)))
    started = time.perf_counter()
    for _ in range(steps):
        float(train_step(*next(batches)))
    seconds = time.perf_counter() - started
    return Throughput(optimizer, batch_size, 1000.0 * seconds / steps, batch_size * steps / seconds)


def main(argv: Sequence[str] | None = None) -> None:
    """Prints one line per (optimizer, batch size)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 1024])
    parser.add_argument("--optimizers", nargs="+", default=["sgd"])
    parser.add_argument("--num-continuous", type=int, default=16)
    parser.add_argument("--ids-per-row", type=int, default=32, help="mean hashed ids per candidate")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--missing-sub-branch", action="store_true")
    args = parser.parse_args(argv)
    config = DeepNormConfig(use_missing_sub_branch=args.missing_sub_branch)
    for optimizer, batch_size in itertools.product(args.optimizers, args.batch_sizes):
        result = measure(optimizer, batch_size, config, args.num_continuous, args.ids_per_row, args.steps)
        print(
            f"optimizer={result.optimizer} batch={result.batch_size} G={args.num_continuous} "
            f"ids/row~{args.ids_per_row}: {result.ms_per_step:.2f} ms/step, "
            f"{result.examples_per_sec:,.0f} examples/s"
        )


if __name__ == "__main__":
    main()
