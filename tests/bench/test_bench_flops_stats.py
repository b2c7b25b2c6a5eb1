"""The benchmark's own arithmetic: FLOPs per candidate against a hand count, and percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from lightrank.models.deepnorm.config import DeepNormConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker
from lightrank_bench.flops import count_flops
from lightrank_bench.stats import per_second, percentile, summarize


def test_flops_of_a_tiny_deepnorm_match_a_hand_count():
    # G=3 continuous, E=4, S=2, missing sub-branch on, tiny adaptive transform (1->2->1->1),
    # MLP widths 2**2=4 then 2**1=2 (num_mlp_layers=2, scale 2), then the logit.
    config = DeepNormConfig(input_size_bits=4, sparse_embedding_size=2, dense_embedding_size=4,
                            num_mlp_layers=2, mlp_neuron_scale=2, use_missing_sub_branch=True)  # fmt: skip
    model = deepnorm_light_ranker(config, 3)
    flops = count_flops(model, ids_per_row=5.0)

    # Self-attention dense D -> U: gate D x D and projection D x U, 2 FLOPs per kernel entry.
    def attention(d: int, u: int) -> int:
        return 2 * d * d + 2 * d * u

    continuous_embedding = attention(3, 4)
    missing_embedding = attention(3, 4)
    merged = 4 + 4 + 2  # both dense embeddings and the sparse one
    mlp = attention(merged, 4) + attention(4, 2) + attention(2, 1)
    assert (
        flops.dense
        == continuous_embedding + missing_embedding + mlp
        == 2 * (9 + 12) * 2 + 2 * (100 + 40 + 16 + 8 + 4 + 2)
    )
    assert flops.groupwise == 2 * 3 * (1 * 2 + 2 * 1 + 1 * 1)
    assert flops.sparse == 2.0 * 2 * 5.0
    assert flops.total == flops.dense + flops.groupwise + flops.sparse


def test_flops_grow_with_ids_per_row_only_in_the_sparse_part():
    model = deepnorm_light_ranker(DeepNormConfig(input_size_bits=4, sparse_embedding_size=3), 2)
    few, many = count_flops(model, 1.0), count_flops(model, 11.0)
    assert many.dense == few.dense and many.groupwise == few.groupwise
    assert many.sparse - few.sparse == 2.0 * 3 * 10.0
    with pytest.raises(ValueError, match="ids_per_row"):
        count_flops(model, -1.0)


def test_flops_count_plain_dense_layers():
    inputs = tf.keras.Input(shape=(7,))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(tf.keras.layers.Dense(5)(inputs)))
    assert count_flops(model, 0.0).dense == 2 * 7 * 5 + 2 * 5 * 2


@pytest.mark.parametrize("q", [0.0, 13.0, 50.0, 90.0, 99.0, 100.0])
def test_percentile_matches_numpy_linear_interpolation(q):
    values = list(np.random.default_rng(3).exponential(size=37))
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12)


def test_percentile_hand_values():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50.0) == 2.5
    assert percentile([10.0, 20.0], 99.0) == pytest.approx(19.9)
    assert percentile([7.0], 99.0) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50.0)
    with pytest.raises(ValueError):
        percentile([1.0], 101.0)


def test_summarize_reports_candidates_per_second_and_latency_in_ms():
    stats = summarize(1_000, [0.01, 0.02, 0.03, 0.04])
    assert stats.requests == 4
    assert stats.candidates_per_sec == pytest.approx(4_000 / 0.1)
    assert stats.p50_ms == pytest.approx(25.0)
    assert stats.p99_ms == pytest.approx(1000.0 * (0.03 + 0.01 * 0.97))
    assert math.isnan(per_second(5, 0.0))


def test_per_feature_bags_and_the_fm_term_are_counted_by_hand():
    import tensorflow as tf

    from lightrank.models.deepnorm.config import PRESETS
    from lightrank.models.deepnorm.model import deepnorm_light_ranker
    from lightrank_bench.flops import count_flops

    tf.keras.backend.clear_session()
    config = PRESETS["default"][0].model_copy(update={"input_size_bits": 6})  # S 8, P 8, E 64, missing on
    model = deepnorm_light_ranker(config, 3, ("c.a", "u.b"))
    count = count_flops(model, ids_per_row=2.5)
    merge = 64 + 64 + 2 * 8
    dense = 2 * (
        2 * (3 * 3 + 3 * 64) + merge * merge + merge * 64 + 64 * 64 + 64 * 16 + 16 * 16 + 16 * 4 + 4 * 4 + 4
    )
    assert count.dense == dense
    assert count.sparse == 2.0 * (8 + 8) * 2.5 + 2.0 * 2 * 8  # one 16-wide row per id, then the FM term


def test_the_first_order_id_term_costs_one_read_and_add_per_id():
    tf.keras.backend.clear_session()
    config = DeepNormConfig(input_size_bits=6, sparse_bags="per_feature", sparse_embedding_size=2)
    without = count_flops(deepnorm_light_ranker(config, 3, ("c.a", "u.b")), ids_per_row=2.5)
    with_bias = deepnorm_light_ranker(config.model_copy(update={"id_bias": True}), 3, ("c.a", "u.b"))
    count = count_flops(with_bias, ids_per_row=2.5)
    assert count.sparse == without.sparse + 2.0 * 2.5
    # the MLP's last layer is `mlp_logit` then, the same 4 -> 1 kernel as `logit` was
    assert count.dense == without.dense
