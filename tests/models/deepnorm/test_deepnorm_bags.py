"""One bag per sparse feature and the FM term: hand-computed values, sparse gradients, the model's graph."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from deepnorm_test_inputs import sparse_ids

from lightrank.models.deepnorm.bags import FeatureBagEmbedding, IdBias, PairwiseInteraction
from lightrank.models.deepnorm.config import PRESETS, DeepNormConfig
from lightrank.models.deepnorm.model import deepnorm_light_ranker, fm_sides, input_keys
from lightrank.models.deepnorm.normalization import SignedLog1p
from lightrank.models.deepnorm.warm_start import warm_start

ALPHA = 0.3
SPARSE = ("c.author", "c.topics", "u.country", "u.id")  # slots 0..3: candidate 0, 1; user 2, 3
PER_FEATURE = {"input_size_bits": 6, "sparse_bags": "per_feature", "sparse_embedding_size": 3}


def _leaky(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, ALPHA * x)


def _bags(dropout: float = 0.0) -> FeatureBagEmbedding:
    layer = FeatureBagEmbedding(4, 3, 2, dropout=dropout)
    layer.build([tf.TensorShape([None, None])] * 2)
    return layer


def test_each_bag_is_the_segment_sum_of_its_features_rows_then_biased_and_leaky_relu() -> None:
    layer = _bags()
    table = np.arange(32, dtype=np.float32).reshape(16, 2) * np.array([1.0, -0.5], np.float32)
    layer.embeddings.assign(table)
    bias = np.array([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]], np.float32)
    layer.bias.assign(bias)
    ids = [[1, 2, 2, 9], [], [15]]
    slots = [[0, 1, 1, 0], [], [2]]  # row 0: feature 0 has ids 1 and 9, feature 1 has id 2 twice
    activated, raw = layer([sparse_ids(ids), sparse_ids(slots)], training=False)
    expected = np.zeros((3, 3, 2), np.float32)
    expected[0, 0] = table[1] + table[9]
    expected[0, 1] = 2 * table[2]
    expected[2, 2] = table[15]
    np.testing.assert_allclose(raw.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(activated.numpy(), _leaky(expected + bias).reshape(3, 6), rtol=1e-6)


def test_the_tables_gradient_is_indexed_slices_over_the_batchs_ids_only() -> None:
    layer = _bags()
    ids, slots = sparse_ids([[3, 7], [7]]), sparse_ids([[0, 2], [1]])
    with tf.GradientTape() as tape:
        activated, raw = layer([ids, slots], training=False)
        loss = tf.reduce_sum(activated) + tf.reduce_sum(raw**2)
    gradient = tape.gradient(loss, layer.embeddings)
    assert isinstance(gradient, tf.IndexedSlices)
    assert sorted(set(gradient.indices.numpy().tolist())) == [3, 7]


def test_training_drops_entries_and_rescales_after_the_activation_inference_does_not() -> None:
    layer = _bags(dropout=0.5)
    layer.embeddings.assign(tf.random.uniform([16, 2], 0.1, 1.0))
    ids = sparse_ids([list(range(16))] * 4)
    slots = sparse_ids([[i % 3 for i in range(16)]] * 4)
    np.testing.assert_array_equal(
        layer([ids, slots], training=False)[0].numpy(), layer([ids, slots], training=False)[0].numpy()
    )
    empty = [sparse_ids([[]]), sparse_ids([[]])]
    np.testing.assert_allclose(layer(empty, training=True)[0].numpy(), (0.5 / 0.5) * np.ones((1, 6)))
    first, second = (
        layer([ids, slots], training=True)[1].numpy(),
        layer([ids, slots], training=True)[1].numpy(),
    )
    assert not np.allclose(first, second)


def test_fm_between_sides_is_the_sum_of_the_user_candidate_dot_products() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2, 4, 3)).astype(np.float32)  # [B, F, S]
    out = PairwiseInteraction(user=[2, 3], candidate=[0, 1])(tf.constant(v)).numpy()
    expected = [sum(float(v[b, u] @ v[b, c]) for u in (2, 3) for c in (0, 1)) for b in range(2)]
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5)


def test_fm_over_all_pairs_is_the_sum_of_every_pairs_dot_product() -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(2, 4, 3)).astype(np.float32)
    out = PairwiseInteraction()(tf.constant(v)).numpy()
    expected = [sum(float(v[b, f] @ v[b, g]) for f in range(4) for g in range(f + 1, 4)) for b in range(2)]
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-4)


def test_fm_sides_must_be_both_given_and_disjoint() -> None:
    with pytest.raises(ValueError, match="both sides or neither"):
        PairwiseInteraction(user=[0])
    with pytest.raises(ValueError, match=r"on both sides: \[1\]"):
        PairwiseInteraction(user=[0, 1], candidate=[1])


def test_the_original_reads_ids_only_and_keeps_its_layers() -> None:
    model = deepnorm_light_ranker(DeepNormConfig(input_size_bits=6), 3, SPARSE)
    assert input_keys(DeepNormConfig()) == ("continuous", "sparse_ids")
    assert set(model.input) == {"continuous", "sparse_ids"}
    names = {layer.name for layer in model.layers}
    assert "sparse_embedding" in names and not names & {"sparse_bags", "pairwise", "mlp_logit"}


def test_per_feature_bags_widen_the_merge_to_f_times_s_and_read_the_slots() -> None:
    config = DeepNormConfig(**PER_FEATURE)
    model = deepnorm_light_ranker(config, 3, SPARSE)
    assert input_keys(config) == ("continuous", "sparse_ids", "sparse_slots")
    assert set(model.input) == {"continuous", "sparse_ids", "sparse_slots"}
    assert int(model.get_layer("merge").output.shape[-1]) == 128 + 4 * 3
    assert model.get_layer("sparse_bags").embeddings.shape == (2**6, 3)
    assert model.output_names == ["logit"]
    with pytest.raises(ValueError, match="needs the sparse feature names"):
        deepnorm_light_ranker(config, 3)


def test_fm_adds_the_pairwise_term_to_the_mlps_logit() -> None:
    config = DeepNormConfig(
        **PER_FEATURE, pairwise="fm", fm_user_features=r"u\..*", fm_candidate_features=r"c\..*"
    )
    model = deepnorm_light_ranker(config, 3, SPARSE)
    pairwise = model.get_layer("pairwise")
    assert (pairwise.user, pairwise.candidate) == ([2, 3], [0, 1])
    features = {
        "continuous": tf.constant([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]]),
        "sparse_ids": sparse_ids([[1, 5, 9], [2]]),
        "sparse_slots": sparse_ids([[0, 2, 3], [1]]),
    }
    sub = tf.keras.Model(model.input, [model.get_layer(n).output for n in ("mlp_logit", "pairwise", "logit")])
    mlp, fm, logit = (t.numpy() for t in sub(features, training=False))
    table = model.get_layer("sparse_bags").embeddings.numpy()
    assert table.shape == (2**6, 3 + 8)  # S merge columns, then P = fm_embedding_size FM columns
    assert not table[:, :3].any() and table[:, 3:].std() > 0.01  # zeros for the MLP, random for the FM
    v = table[:, 3:]
    np.testing.assert_allclose(fm[:, 0], [v[1] @ (v[5] + v[9]), 0.0], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(logit, mlp + fm, rtol=1e-6)
    assert model.output_names == ["logit"]


def test_id_bias_sums_each_rows_id_weights_once_per_occurrence_with_a_sparse_gradient() -> None:
    layer = IdBias(4)
    layer.build(tf.TensorShape([None, None]))
    assert not layer.weights_table.numpy().any()  # starts where a model without it starts
    weights = np.linspace(-1.0, 2.0, 16, dtype=np.float32)[:, None]
    layer.weights_table.assign(weights)
    ids = sparse_ids([[3, 7, 7], [], [15]])
    with tf.GradientTape() as tape:
        out = layer(ids)
        loss = tf.reduce_sum(out * tf.constant([[1.0], [1.0], [-2.0]]))
    expected = [weights[3, 0] + 2 * weights[7, 0], 0.0, weights[15, 0]]
    np.testing.assert_allclose(out.numpy()[:, 0], expected, rtol=1e-6)
    gradient = tape.gradient(loss, layer.weights_table)
    assert isinstance(gradient, tf.IndexedSlices)
    dense = tf.convert_to_tensor(gradient).numpy()[:, 0]
    assert (dense[3], dense[7], dense[15]) == (1.0, 2.0, -2.0) and np.count_nonzero(dense) == 3


@pytest.mark.parametrize("settings", [PER_FEATURE, {**PER_FEATURE, "pairwise": "fm"}, {"input_size_bits": 6}])
def test_id_bias_is_one_more_term_of_the_logit_in_every_sparse_layout(settings: dict) -> None:
    config = DeepNormConfig(**settings, id_bias=True)
    model = deepnorm_light_ranker(config, 3, SPARSE)
    table = np.zeros((2**6, 1), np.float32)
    table[[1, 2, 5, 9]] = [[0.5], [-1.5], [0.25], [2.0]]
    model.get_layer("id_bias").weights_table.assign(table)
    features = {
        "continuous": tf.constant([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]]),
        "sparse_ids": sparse_ids([[1, 5, 9], [2]]),
        "sparse_slots": sparse_ids([[0, 2, 3], [1]]),
    }
    terms = ["mlp_logit", "id_bias", "logit"] + (["pairwise"] if config.pairwise == "fm" else [])
    sub = tf.keras.Model(model.input, [model.get_layer(n).output for n in terms])
    values = [t.numpy() for t in sub({k: features[k] for k in input_keys(config)}, training=False)]
    np.testing.assert_allclose(values[1][:, 0], [2.75, -1.5])
    np.testing.assert_allclose(values[2], values[0] + values[1] + sum(values[3:]), rtol=1e-6)
    rebuilt = tf.keras.Model.from_config(model.get_config())
    assert "id_bias" in {layer.name for layer in rebuilt.layers}
    plain = deepnorm_light_ranker(DeepNormConfig(**settings), 3, SPARSE)
    assert "id_bias" not in {layer.name for layer in plain.layers}


def test_fm_sides_are_resolved_by_full_match_and_must_match_something() -> None:
    config = DeepNormConfig(
        **PER_FEATURE, pairwise="fm", fm_user_features=r"u\..*", fm_candidate_features="c"
    )
    with pytest.raises(ValueError, match=r"fm_candidate_features='c' matches none"):
        fm_sides(config, SPARSE)
    overlap = config.model_copy(update={"fm_candidate_features": r".*\.id"})
    with pytest.raises(ValueError, match=r"\['u.id'\] are on both sides \(user and candidate\)"):
        fm_sides(overlap, SPARSE)
    assert fm_sides(
        config.model_copy(update={"fm_user_features": None, "fm_candidate_features": None}), SPARSE
    ) == (
        [],
        [],
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"pairwise": "fm"}, "needs sparse_bags 'per_feature'"),
        ({**PER_FEATURE, "pairwise": "fm", "fm_user_features": "u"}, "set both or neither"),
        ({**PER_FEATURE, "fm_user_features": "u", "fm_candidate_features": "c"}, "only apply with pairwise"),
        ({"sparse_bags": "several"}, "sparse_bags"),
    ],
)
def test_impossible_id_settings_fail_at_construction(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeepNormConfig(**settings)


def test_per_feature_models_round_trip_through_keras_serialisation() -> None:
    config = DeepNormConfig(**PER_FEATURE, pairwise="fm")
    model = deepnorm_light_ranker(config, 3, SPARSE)
    rebuilt = tf.keras.Model.from_config(model.get_config())
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]


def test_warm_start_copies_the_bags_and_skips_the_originals_other_shaped_table() -> None:
    config = DeepNormConfig(**PER_FEATURE, pairwise="fm")
    old = deepnorm_light_ranker(config, 3, SPARSE)
    old.get_layer("sparse_bags").embeddings.assign(tf.fill([2**6, 3 + 8], 0.5))
    new = deepnorm_light_ranker(config, 4, SPARSE)
    report = warm_start(new, old, ["a", "b", "c"], ["a", "b", "c", "d"])
    assert {"sparse_bags/embeddings", "sparse_bags/bias", "mlp_logit/gate/kernel"} <= set(report.copied)
    np.testing.assert_array_equal(new.get_layer("sparse_bags").embeddings.numpy(), 0.5)
    original = deepnorm_light_ranker(DeepNormConfig(input_size_bits=6), 3, SPARSE)
    from_original = warm_start(
        deepnorm_light_ranker(config, 3, SPARSE), original, ["a", "b", "c"], ["a", "b", "c"]
    )
    assert (
        "sparse_bags/embeddings" in from_original.not_in_old and "mlp_1/gate/kernel" in from_original.skipped
    )


def test_signed_log1p_compresses_every_value_but_the_marker() -> None:
    marker = -1.23456789
    out = SignedLog1p(marker)(tf.constant([[marker, 0.0, 9.0, -99.0]])).numpy()
    np.testing.assert_allclose(out, [[marker, 0.0, np.log(10.0), -np.log(100.0)]], rtol=1e-6)
    model = deepnorm_light_ranker(DeepNormConfig(input_size_bits=6, continuous_log=True), 3)
    assert model.get_layer("continuous_log").missing_value == marker
    assert "continuous_log" not in {layer.name for layer in deepnorm_light_ranker(DeepNormConfig(), 3).layers}


def test_the_default_preset_uses_its_ids_and_one_bag_keeps_the_previous_default() -> None:
    default, one_bag = PRESETS["default"][0], PRESETS["one_bag"][0]
    assert (default.sparse_bags, default.pairwise, default.continuous_log) == ("per_feature", "fm", True)
    assert (default.sparse_embedding_size, default.fm_embedding_size, default.dense_embedding_size) == (
        8,
        8,
        64,
    )
    assert not default.id_bias  # measured, not kept (models/deepnorm/config.py)
    assert default.dropout == 0.1 and default.fm_user_features is None  # all pairs: no data-specific names
    assert one_bag == DeepNormConfig(use_missing_sub_branch=True, momentum=0.99)
    # The same training but the step budget (6,000 steps since large data kept improving past 3,000)
    # and what early stopping selects on (NRCE since a seed's drifting level stopped RCE early).
    assert PRESETS["one_bag"][1] == PRESETS["default"][1].model_copy(
        update={"max_steps": 3000, "early_stop_metric": "rce"}
    )
    assert (PRESETS["default"][1].early_stop_metric, PRESETS["original"][1].early_stop_metric) == (
        "nrce",
        "rce",
    )
    assert (PRESETS["default"][1].max_steps, PRESETS["one_bag"][1].max_steps) == (6000, 3000)
    assert PRESETS["original"][0] == DeepNormConfig()


def test_a_default_model_warm_starts_from_a_one_bag_model_copying_what_fits() -> None:
    small = {"input_size_bits": 6}
    old = deepnorm_light_ranker(PRESETS["one_bag"][0].model_copy(update=small), 3, SPARSE)
    new = deepnorm_light_ranker(PRESETS["default"][0].model_copy(update=small), 3, SPARSE)
    report = warm_start(new, old, ["a", "b", "c"], ["a", "b", "c"])
    assert "zscore/moving_mean" in report.remapped
    assert "continuous_embedding/projection/kernel" in report.skipped  # 128 wide there, 64 here
    assert "sparse_bags/embeddings" in report.not_in_old


def test_the_feature_specs_sides_apply_unless_the_config_names_its_own_or_asks_for_all_pairs() -> None:
    config = DeepNormConfig(**PER_FEATURE, pairwise="fm")
    spec_sides = (("u.country", "u.id"), ("c.author",))
    assert fm_sides(config, SPARSE, spec_sides) == ([2, 3], [0])
    assert fm_sides(config.model_copy(update={"fm_all_pairs": True}), SPARSE, spec_sides) == ([], [])
    own = config.model_copy(update={"fm_user_features": r"u\.id", "fm_candidate_features": r"c\..*"})
    assert fm_sides(own, SPARSE, spec_sides) == ([3], [0, 1])
    model = deepnorm_light_ranker(config, 3, SPARSE, spec_sides)
    assert (model.get_layer("pairwise").user, model.get_layer("pairwise").candidate) == ([2, 3], [0])
    with pytest.raises(ValueError, match="fm_all_pairs contradicts"):
        DeepNormConfig(
            **PER_FEATURE, pairwise="fm", fm_all_pairs=True, fm_user_features="u", fm_candidate_features="c"
        )
