"""The fair LightGBM's inputs: raw examples read, located and coded; its early-stopping slice; its training.

Hand-made candidates with known counts, so every code, NaN and multi-hot column is known in advance.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from bench_tiny import write_gz
from tiny_transform import serialize_example

from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.features import ResolvedFeatures
from lightrank_bench import gbdt
from lightrank_bench.errors import BenchInputError
from lightrank_bench.quality_gbdt import RawExamples, eval_order, raw_lightgbm_predictions
from lightrank_bench.quality_models import Split
from lightrank_bench.raw_examples import locate_raw_examples, read_raw_split
from lightrank_bench.raw_features import MIN_CATEGORY_COUNT, RawFeatureEncoder, early_stopping_mask
from lightrank_bench.training import ModelUnderTest

SPEC = {
    "f.price": tf.io.VarLenFeature(tf.float32),
    "f.source": tf.io.VarLenFeature(tf.string),
    "f.user": tf.io.VarLenFeature(tf.int64),
    "f.tags": tf.io.VarLenFeature(tf.string),
    "m.key": tf.io.FixedLenFeature([], tf.int64),
    "m.score": tf.io.FixedLenFeature([], tf.float32),
    "m.weight": tf.io.FixedLenFeature([], tf.float32),
    "m.label": tf.io.FixedLenFeature([], tf.float32),
}
FEATURES = ResolvedFeatures(
    continuous=("f.price",), sparse=("f.source", "f.tags", "f.user"), int_sparse=("f.user",),
    request_key="m.key", example_weight="m.weight", heavy_score="m.score", labels={"click": "m.label"},
    missing_value=-1.23456789,
)  # fmt: skip
NAMES = list(SPEC)
SUBJECT = ModelUnderTest("deepnorm", "click", DeepNormConfig(), TrainingConfig(), FEATURES)


def _train_row(i: int) -> dict[str, object]:
    """Train candidate `i` of 200: request `i // 10` (20 requests), user `1000 + i % 5` (40 each)."""
    source = [b"a"] * 120 + [b"b"] * 70 + [b"rare"] * 5 + [None] * 5  # "rare" is below the count
    tags = [b"t1", b"t2"] if i < 50 else [b"t1"] if i < 100 else [b"t3"] if i < 103 else []
    return {"f.price": [] if i % 3 == 0 else [float(i)], "f.source": [source[i]] if source[i] else [],
            "f.user": [1000 + i % 5], "f.tags": tags, "m.key": i // 10, "m.score": i / 1000,
            "m.weight": 1.0, "m.label": float(i % 7 == 0)}  # fmt: skip


#: Eval candidates (requests 100 and 101): a seen, rare, unseen and absent source; an unseen tag.
EVAL_ROWS = [
    {"f.price": [2.5], "f.source": [b"b"], "f.user": [1003], "f.tags": [b"t2", b"t9"]},
    {"f.price": [], "f.source": [b"rare"], "f.user": [7], "f.tags": []},
    {"f.price": [-4.0], "f.source": [b"new"], "f.user": [], "f.tags": [b"t1"]},
    {"f.price": [0.0], "f.source": [], "f.user": [1000], "f.tags": [b"t9"]},
]
EVAL_ROWS = [{**row, "m.key": 100 + i // 2, "m.score": 0.1 * i, "m.weight": 1.0, "m.label": float(i == 0)}
             for i, row in enumerate(EVAL_ROWS)]  # fmt: skip


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An ExampleGen output of the hand-made candidates; eval is written in reverse order."""
    root = tmp_path_factory.mktemp("raw") / "examples" / "1"
    write_gz(str(root / "Split-train" / "part-0.gz"), [serialize_example(_train_row(i)) for i in range(200)])
    write_gz(str(root / "Split-eval" / "part-0.gz"), [serialize_example(row) for row in EVAL_ROWS[::-1]])
    return str(root)


def test_ids_are_coded_by_train_frequency_and_rare_or_unseen_values_share_one_code(examples):
    train = read_raw_split(f"{examples}/Split-train/*", SPEC, NAMES)
    evaluation = read_raw_split(f"{examples}/Split-eval/*", SPEC, NAMES)
    encoder = RawFeatureEncoder.fit(train, FEATURES.continuous, FEATURES.sparse)
    assert MIN_CATEGORY_COUNT == 10 and set(encoder.categorical) == {"f.source", "f.user"}
    assert list(encoder.multi_hot) == ["f.tags"]  # two values in some candidates
    assert encoder.categorical_indices == [1, 2] and encoder.category_counts == [3, 6]
    assert encoder.column_names == ["f.price", "f.source", "f.user", "f.tags:count", "f.tags=b't1'",
                                    "f.tags=b't2'"]  # fmt: skip

    matrix = encoder.matrix(evaluation)[::-1]  # back to EVAL_ROWS order
    nan = np.nan
    expected = np.array([
        # price, source (a 0, b 1, rare or unseen 2), user (1000..1004: 0..4, unseen 5), tags
        [2.5, 1, 3, 2, 0, 1],  # t9 is counted but has no column
        [nan, 2, 5, 0, 0, 0],  # absent price is NaN; "rare" was seen only 5 times
        [-4.0, 2, nan, 1, 1, 0],  # unseen source -> the shared code; absent user -> NaN
        [0.0, nan, 0, 1, 0, 0],
    ], np.float32)  # fmt: skip
    np.testing.assert_array_equal(matrix, expected)
    fit = encoder.matrix(train)
    assert np.isnan(fit[::3, 0]).all() and fit[1, 0] == 1.0  # floats as they are, absent as NaN
    assert (fit[:50, 3:] == [2, 1, 1]).all() and (fit[100:103, 3:] == [1, 0, 0]).all()  # t3 is too rare
    assert (fit[195:, 1] != fit[195:, 1]).all()  # the 5 candidates without a source


def test_the_early_stopping_slice_is_whole_train_requests_chosen_by_key():
    keys = np.repeat(np.arange(40, 60), 7)  # 20 requests of 7 candidates
    mask = early_stopping_mask(keys, 0.1, seed=0)
    chosen = np.unique(keys[mask])
    assert chosen.size == 2 and mask.sum() == 14  # 10% of the requests, never part of one
    assert np.array_equal(mask, early_stopping_mask(keys[::-1], 0.1, seed=0)[::-1])  # by key, not position
    assert not np.array_equal(mask, early_stopping_mask(keys, 0.1, seed=1))
    with pytest.raises(BenchInputError, match="at least 2 train requests"):
        early_stopping_mask(np.zeros(5))


def test_lightgbm_stops_on_train_requests_only_and_scores_eval_in_the_transformed_order(
    examples, monkeypatch
):
    seen = {}

    class Booster:
        def predict(self, matrix: np.ndarray, num_iteration: int) -> np.ndarray:
            seen["num_iteration"] = num_iteration
            return np.nan_to_num(matrix[:, 0], nan=-1.0)  # the price: tells the candidates apart

    def fake_train(
        features: np.ndarray,
        labels: np.ndarray,
        stop_features: np.ndarray,
        stop_labels: np.ndarray,
        **kwargs: object,
    ) -> gbdt.EarlyStopped:
        seen.update(fit=features.shape[0], stop=stop_features.shape[0], kwargs=kwargs)
        return gbdt.EarlyStopped(Booster(), 3, 53)

    monkeypatch.setattr(gbdt, "train_lightgbm_early_stopped", fake_train)
    reference = Split(labels=np.array([r["m.label"] for r in EVAL_ROWS]),
                      heavy_scores=np.array([r["m.score"] for r in EVAL_ROWS], np.float32).astype(np.float64),
                      request_keys=np.array([r["m.key"] for r in EVAL_ROWS]), meta_weights=np.ones(4),
                      continuous=None)  # fmt: skip
    raw = RawExamples(f"{examples}/Split-train/*", f"{examples}/Split-eval/*", SPEC)
    predictions, seconds, how, inputs = raw_lightgbm_predictions(SUBJECT, raw, reference)

    # The 200 train candidates of 20 requests: 2 requests (20 candidates) decide early stopping, the
    # rest train; the 4 eval candidates are only scored, in the transformed split's order.
    assert (seen["fit"], seen["stop"]) == (180, 20) and seen["num_iteration"] == 3
    assert seen["kwargs"]["categorical"] == [1, 2] and seen["kwargs"]["weights"] is None
    np.testing.assert_array_equal(predictions, [2.5, -1.0, -4.0, 0.0])
    assert how.startswith("3 trees of 31 leaves") and "best of 53 on 2 of 20 train requests" in how
    assert "1 continuous features" in inputs and "`f.tags` multi-hot" in inputs and seconds >= 0.0

    other = Split(reference.labels, reference.heavy_scores, reference.request_keys + 1, np.ones(4), None)
    evaluation = read_raw_split(f"{examples}/Split-eval/*", SPEC, NAMES)
    with pytest.raises(BenchInputError, match="not the transformed eval split"):
        eval_order(evaluation, other, "m.label", SUBJECT)


def test_early_stopped_lightgbm_learns_categories_and_reports_its_trees():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 30, 3000)
    features = np.stack([codes, rng.normal(size=3000)], axis=1).astype(np.float32)
    labels = (rng.uniform(size=3000) < np.where(codes % 3 == 0, 0.8, 0.1)).astype(float)
    result = gbdt.train_lightgbm_early_stopped(features[:2500], labels[:2500], features[2500:], labels[2500:],
                                               categorical=[0], category_counts=[30], seed=0)  # fmt: skip
    assert 1 <= result.best_trees <= result.trained_trees <= gbdt.EARLY_STOP_MAX_TREES
    assert result.trained_trees == min(
        result.best_trees + gbdt.EARLY_STOP_PATIENCE, gbdt.EARLY_STOP_MAX_TREES
    )
    predictions = result.booster.predict(
        np.array([[3, 0.0], [4, 0.0]], np.float32), num_iteration=result.best_trees
    )
    assert predictions[0] > 0.5 > 0.25 > predictions[1]
    with pytest.raises(BenchInputError, match="columns"):
        gbdt.train_lightgbm_early_stopped(features, labels, features[:, :1], labels)


def _store_recording(path: str, transformed: str, raw: str) -> None:
    """An ML Metadata store in which one execution read `raw` as `examples` and wrote `transformed`."""
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2 as pb

    connection = pb.ConnectionConfig()
    connection.sqlite.filename_uri = path
    connection.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = mlmd.MetadataStore(connection)
    examples_type = store.put_artifact_type(pb.ArtifactType(name="Examples"))
    raw_id, transformed_id = store.put_artifacts(
        [pb.Artifact(type_id=examples_type, uri=uri) for uri in (raw, transformed)]
    )
    [execution] = store.put_executions(
        [pb.Execution(type_id=store.put_execution_type(pb.ExecutionType(name="Transform")))]
    )
    events = []
    for artifact, kind, key in [
        (raw_id, pb.Event.INPUT, "examples"),
        (transformed_id, pb.Event.OUTPUT, "transformed_examples"),
    ]:
        event = pb.Event(artifact_id=artifact, execution_id=execution, type=kind)
        event.path.steps.add().key = key
        events.append(event)
    store.put_events(events)


def test_the_raw_examples_come_from_the_argument_or_from_ml_metadata(examples, tmp_path):
    transformed = str(tmp_path / "Transform" / "transformed_examples" / "4")
    store = str(tmp_path / "metadata.db")
    _store_recording(store, transformed, examples)
    assert locate_raw_examples(transformed, examples, []) == examples
    assert locate_raw_examples(transformed, None, [str(tmp_path / "none.db"), store]) == examples
    with pytest.raises(BenchInputError, match="has no files in Split-train, Split-eval"):
        locate_raw_examples(transformed, str(tmp_path), [store])
    with pytest.raises(BenchInputError, match=r"does not record which examples .* pass --examples"):
        locate_raw_examples(str(tmp_path / "elsewhere"), None, [store])
