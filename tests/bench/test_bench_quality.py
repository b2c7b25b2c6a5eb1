"""The quality table: metrics against hand-computed values; all six models on a tiny pipeline run's output."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pytest
import tensorflow_transform as tft
from bench_tiny import BITS, DEEPNORM, FEATURES, SPEC, write_gz
from bench_tiny import row as candidate
from tiny_transform import serialize_example, transformed_records, write_transform_graph

from lightrank.models.deepnorm.config import TrainingConfig
from lightrank.pipeline.config import SAMPLE_CONFIG
from lightrank_bench.quality import (
    MODELS,
    QualityRow,
    RawExamples,
    compare_models,
    locate_splits,
    model_subjects,
    parse_variant,
    read_split,
    reseeded,
)
from lightrank_bench.quality_metrics import QualityMetrics, mean_metrics, quality_metrics, random_scores
from lightrank_bench.quality_table import quality_table
from lightrank_bench.training import ModelUnderTest, TransformOutputError

TASK = "HeavyRankPosition"


def test_auc_and_rce_match_hand_computed_values():
    labels = np.array([1.0, 0.0, 1.0, 0.0])
    predictions = np.array([0.8, 0.4, 0.3, 0.2])
    metrics = quality_metrics(labels, predictions, np.array([4.0, 3.0, 2.0, 1.0]), np.zeros(4, np.int64))
    # Positive-negative pairs ranked right: (0.8, 0.4), (0.8, 0.2), (0.3, 0.2); wrong: (0.3, 0.4).
    assert metrics.auc == pytest.approx(3 / 4)
    cross_entropy = -(math.log(0.8) + math.log(0.6) + math.log(0.3) + math.log(0.8)) / 4
    assert metrics.rce == pytest.approx(100 * (1 - cross_entropy / math.log(2)))  # ctr 0.5: baseline ln 2
    # NRCE rescales by a = Σy / Σp = 2 / 1.7 first: 0.8 -> 0.941..., 0.4 -> 0.470..., ...
    a = 2 / 1.7
    scaled = -(math.log(0.8 * a) + math.log(1 - 0.4 * a) + math.log(0.3 * a) + math.log(1 - 0.2 * a)) / 4
    assert metrics.nrce == pytest.approx(100 * (1 - scaled / math.log(2)))
    assert (metrics.num_candidates, metrics.num_requests) == (4, 1)


def test_grouped_metrics_average_per_request_where_defined():
    # Request 7: 110 candidates, heavy score 110 - i (candidate 0 is the heavy ranker's best). The light
    # ranker keeps the heavy order except that it puts candidates 0, 3, 4 and 5 last.
    heavy = 110.0 - np.arange(110)
    predictions = 0.9 - np.arange(110) / 1000
    predictions[[0, 3, 4, 5]] = [0.004, 0.003, 0.002, 0.001]
    # Request 9: three candidates without heavy score, interleaved: recall is undefined, CGR is 0.
    positions = [0, 50, 112]
    keys = np.full(113, 7, np.int64)
    keys[positions] = 9
    all_heavy = np.zeros(113)
    all_predictions = np.full(113, 0.5)
    rest = np.setdiff1d(np.arange(113), positions)
    all_heavy[rest], all_predictions[rest] = heavy, predictions
    labels = (all_heavy > 107).astype(float)

    metrics = quality_metrics(labels, all_predictions, all_heavy, keys)

    assert (metrics.num_candidates, metrics.num_requests) == (113, 2)
    # Heavy top 3 = {0, 1, 2}: 1 and 2 are in the light top 50.
    assert metrics.recall_50_3 == pytest.approx(2 / 3)
    # Light top 100 = 1, 2, 6..103: it holds 1 and 2 of the heavy top 3 ...
    assert metrics.recall_100_3 == pytest.approx(2 / 3)
    # ... and 1, 2, 6, 7, 8, 9 of the heavy top 10.
    assert metrics.recall_100_10 == pytest.approx(6 / 10)
    # Best 10 heavy scores in the light top 100: 109 + 108 + (104 + ... + 97) = 1021; ideal 110 + ... + 101.
    assert metrics.cgr_100_10 == pytest.approx((1021 / 1055 + 0.0) / 2)


def test_a_perfect_scorer_gets_auc_and_recall_one():
    rng = np.random.default_rng(1)
    keys = np.repeat(np.arange(5), 120)
    heavy = rng.uniform(size=keys.size)
    labels = np.zeros(keys.size)
    for key in range(5):
        index = np.flatnonzero(keys == key)
        labels[index[np.argsort(-heavy[index])[:3]]] = 1.0
    # Every positive above every negative, and within a request the heavy ranker's order.
    metrics = quality_metrics(labels, (labels + heavy) / 2, heavy, keys)
    assert metrics.auc == 1.0
    assert metrics.recall_50_3 == metrics.recall_100_3 == metrics.recall_100_10 == metrics.cgr_100_10 == 1.0


def test_mismatched_arrays_are_rejected():
    with pytest.raises(ValueError, match="equally long"):
        quality_metrics(np.ones(3), np.ones(2), np.ones(3), np.ones(3))


def test_random_scores_are_uniform_and_reproducible_for_a_seed():
    first = random_scores(1000, seed=3)
    assert np.array_equal(first, random_scores(1000, seed=3))
    assert not np.array_equal(first, random_scores(1000, seed=4))
    assert first.min() >= 0.0 and first.max() < 1.0 and abs(first.mean() - 0.5) < 0.05


def test_each_model_gets_its_kind_and_preset_on_top_of_the_overrides():
    subjects = model_subjects(SAMPLE_CONFIG, ["model.kind=logistic", "model.training.max_steps=7"], MODELS)
    assert list(subjects) == list(MODELS)
    default, original = subjects["deepnorm-default"], subjects["deepnorm-original"]
    assert (default.kind, default.training.optimizer, default.training.max_steps) == (
        "deepnorm",
        "adagrad",
        7,
    )
    assert (original.kind, original.training.optimizer, original.training.max_steps) == ("deepnorm", "sgd", 7)
    assert subjects["logistic"].kind == subjects["lightgbm"].kind == "logistic"  # the config as given
    assert subjects["lightgbm-continuous"].kind == "logistic"
    assert subjects["logistic"].task == TASK and subjects["random"].features == default.features
    with pytest.raises(ValueError, match="unknown models"):
        model_subjects(SAMPLE_CONFIG, [], ["xgboost"])


def test_a_variant_is_the_default_preset_with_its_own_overrides_on_top():
    label, overrides = parse_variant("no missing branch: model.deepnorm.use_missing_sub_branch=false,"
                                     "model.training.batch_size=64")  # fmt: skip
    assert label == "no missing branch"
    assert overrides == ("model.deepnorm.use_missing_sub_branch=false", "model.training.batch_size=64")
    subjects = model_subjects(
        SAMPLE_CONFIG, ["model.training.max_steps=7"], ["deepnorm-default"], [(label, overrides)]
    )
    default, variant = subjects["deepnorm-default"], subjects[label]
    assert default.deepnorm.use_missing_sub_branch and not variant.deepnorm.use_missing_sub_branch
    assert (default.training.batch_size, variant.training.batch_size) == (256, 64)
    # Everything else is the default preset's, --set included.
    assert (variant.training.optimizer, variant.training.max_steps) == ("adagrad", 7)


def test_the_keras_rows_train_what_the_trainer_would_on_a_split_of_that_size():
    from lightrank.models.scaling import PRESET_SCALING

    rule = PRESET_SCALING["default"]
    narrow = (("narrow", ("model.scale_with_data=false",)),)
    for candidates, scaled in ((rule.min_train_candidates - 1, False), (rule.min_train_candidates, True)):
        subjects = model_subjects(
            SAMPLE_CONFIG, [], ["deepnorm-default", "deepnorm-original"], narrow, candidates
        )
        default = subjects["deepnorm-default"]
        assert default.scaled == (dict(rule.settings) if scaled else {})
        assert default.deepnorm.sparse_embedding_size == (16 if scaled else 8)
        assert default.training.early_stop_patience == (5 if scaled else 3)
        # The original preset and a row that turns the rule off are the preset's on any split.
        assert subjects["deepnorm-original"].scaled == subjects["narrow"].scaled == {}
        assert subjects["narrow"].deepnorm.sparse_embedding_size == 8


@pytest.mark.parametrize("text", ["no overrides", ":model.training.batch_size=64", "x:batch", "random:a=b"])
def test_a_malformed_variant_is_rejected_naming_it(text):
    with pytest.raises(ValueError, match="variant"):
        parse_variant(text)


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Transform output (10 train, 5 eval requests of 20 candidates) and its raw examples: TFX's layout."""
    rng = np.random.default_rng(0)
    rows = [candidate(rng, i) for i in range(300)]
    transform = tmp_path_factory.mktemp("quality") / "Transform"
    transform_output = write_transform_graph(
        rows, SPEC, FEATURES, BITS, str(transform / "transform_graph" / "4")
    )
    records = transformed_records(rows, SPEC, transform_output)
    examples = transform / "transformed_examples" / "4"
    write_gz(str(examples / "Split-train" / "part-0.gz"), records[:200])
    write_gz(str(examples / "Split-eval" / "part-0.gz"), records[200:])
    raw = transform.parent / "ImportExampleGen" / "examples" / "1"
    write_gz(str(raw / "Split-train" / "part-0.gz"), [serialize_example(row) for row in rows[:200]])
    write_gz(str(raw / "Split-eval" / "part-0.gz"), [serialize_example(row) for row in rows[200:]])
    return str(transform)


def _resolved(splits: str) -> tuple[tft.TFTransformOutput, str, str, RawExamples]:
    """The fixture's Transform graph, transformed train and eval globs, and raw examples."""
    graph_dir, train_files, eval_files = locate_splits(splits)
    transform_output = tft.TFTransformOutput(graph_dir)
    raw_dir = os.path.join(os.path.dirname(splits), "ImportExampleGen", "examples", "1")
    raw = RawExamples(
        f"{raw_dir}/Split-train/*", f"{raw_dir}/Split-eval/*", transform_output.raw_feature_spec()
    )
    return transform_output, train_files, eval_files, raw


def test_six_models_train_on_the_same_split_and_fill_the_table(splits):
    transform_output, train_files, eval_files, raw = _resolved(splits)
    quick = TrainingConfig(optimizer="adagrad", learning_rate=0.05, batch_size=32, eval_every_steps=4,
                           max_steps=8, early_stop_patience=3, seed=0)  # fmt: skip
    deepnorm = ModelUnderTest("deepnorm", TASK, DEEPNORM, quick, FEATURES)
    subjects = {
        "sgd variant": ModelUnderTest("deepnorm", TASK, DEEPNORM, TrainingConfig(max_steps=3), FEATURES),
        "random": deepnorm,
        "logistic": ModelUnderTest("logistic", TASK, DEEPNORM, quick, FEATURES),
        "lightgbm-continuous": deepnorm,
        "lightgbm": deepnorm,
        "deepnorm-original": ModelUnderTest("deepnorm", TASK, DEEPNORM, TrainingConfig(), FEATURES),
        "deepnorm-default": deepnorm,
    }
    with pytest.raises(ValueError, match="need the raw examples"):
        compare_models(subjects, transform_output, train_files, eval_files)
    rows = compare_models(subjects, transform_output, train_files, eval_files, raw)

    # The fixed order whatever the input order, then the variants.
    assert [row.model for row in rows] == [*MODELS, "sgd variant"]
    for row in rows:
        m = row.metrics
        assert (m.num_candidates, m.num_requests) == (100, 5)
        assert 0.0 <= m.auc <= 1.0 and math.isfinite(m.rce)
        # 20 candidates per request: the light top 50 and top 100 hold all of them.
        assert m.recall_50_3 == m.recall_100_3 == m.recall_100_10 == m.cgr_100_10 == pytest.approx(1.0)
    by_model = {row.model: row for row in rows}
    assert by_model["deepnorm-default"].training.startswith("8 steps (max_steps")
    assert by_model["deepnorm-original"].training.startswith("7 steps (data_exhausted")  # one pass, 200 / 32
    assert by_model["lightgbm-continuous"].training == "200 trees of 31 leaves, 1 thread"
    # 10 train requests: 1 decides early stopping.
    assert "on 1 of 10 train requests" in by_model["lightgbm"].training
    assert (
        by_model["lightgbm"].inputs.startswith("2 continuous features")
        and by_model["lightgbm"].train_seconds > 0
    )
    assert by_model["random"].train_seconds == 0.0 and by_model["logistic"].train_seconds > 0.0
    assert by_model["sgd variant"].training.startswith("3 steps (max_steps")

    table = quality_table(rows, ["lightrank-bench", "quality", "--transform", splits])
    lines = table.splitlines()
    assert "100 candidates of 5 requests" in table and "lightgbm " in table and "scikit-learn " in table
    assert "- `lightgbm` inputs: 2 continuous features" in table
    assert "| model | AUC | RCE | NRCE | recall (10, 3) | recall (50, 3) |" in table
    assert all(0.0 <= row.recall_10_3 <= 1.0 for row in rows) and "kFLOP" not in table  # no cost asked
    main, paired = table.split("\n\n`deepnorm-default` minus each model")
    assert sum(line.startswith("| ") and "---" not in line for line in main.splitlines()) == 2 + len(MODELS)
    assert "| random | " in table and "| uniform, seed 0 | - |" in table

    # Every other row against the default, paired over the same 5 requests; not the default itself.
    assert paired.startswith(", paired over the same 5 eval requests (1,000 bootstrap resamples")
    paired_rows = [line for line in paired.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[0] for line in paired_rows] == [
        f"| {row.model}" for row in rows if row.model != "deepnorm-default"
    ]
    reference = by_model["deepnorm-default"]
    assert reference.against_reference is None
    for row in rows[1:]:
        auc, recall = row.against_reference
        assert auc.difference == pytest.approx(reference.metrics.auc - row.metrics.auc, abs=1e-12)
        assert recall.difference == pytest.approx(reference.recall_10_3 - row.recall_10_3, abs=1e-12)
        assert auc.low <= auc.difference <= auc.high and recall.low <= recall.difference <= recall.high
    assert lines == table.splitlines()


def test_each_seed_is_one_training_and_a_row_is_their_mean(splits):
    transform_output, train_files, eval_files, raw = _resolved(splits)
    quick = TrainingConfig(optimizer="adagrad", learning_rate=0.05, batch_size=32, eval_every_steps=4,
                           max_steps=8, early_stop_patience=3, seed=5)  # fmt: skip
    deepnorm = ModelUnderTest("deepnorm", TASK, DEEPNORM, quick, FEATURES)
    # Training i adds i to the config's seed; an unseeded config counts from 0.
    assert [reseeded(deepnorm, i).training.seed for i in (0, 2)] == [5, 7]
    unseeded = ModelUnderTest("deepnorm", TASK, DEEPNORM, TrainingConfig(), FEATURES)
    assert unseeded.training.seed is None and reseeded(unseeded, 1).training.seed == 1
    subjects = {"random": deepnorm, "lightgbm": deepnorm, "deepnorm-default": deepnorm}
    with pytest.raises(ValueError, match="seeds=0"):
        compare_models(subjects, transform_output, train_files, eval_files, raw, seeds=0)
    rows = compare_models(subjects, transform_output, train_files, eval_files, raw, seeds=2)
    by_model = {row.model: row for row in rows}

    # The random scorer's two trainings are its scores of seeds 0 and 1, computed here by hand.
    split = read_split(eval_files, transform_output, deepnorm, False)
    expected = [
        quality_metrics(split.labels, random_scores(100, seed), split.heavy_scores, split.request_keys).auc
        for seed in (0, 1)
    ]
    random_row = by_model["random"]
    assert [auc for auc, _ in random_row.per_seed] == pytest.approx(expected)
    assert random_row.training == "uniform, seed 0; uniform, seed 1"
    for row in rows:
        assert len(row.per_seed) == 2 and row.per_seed[0] != row.per_seed[1]  # the seeds differ
        assert row.metrics.auc == pytest.approx(np.mean([auc for auc, _ in row.per_seed]))
        assert row.recall_10_3 == pytest.approx(np.mean([recall for _, recall in row.per_seed]))
    # LightGBM's seed draws its early-stopping requests: two trainings, each described.
    assert by_model["lightgbm"].training.count("on 1 of 10 train requests") == 2
    assert by_model["deepnorm-default"].training.count("8 steps (max_steps") == 2
    # Paired: the difference of the seed means.
    reference = by_model["deepnorm-default"]
    for name in ("random", "lightgbm"):
        auc, recall = by_model[name].against_reference
        other = by_model[name]
        assert auc.difference == pytest.approx(reference.metrics.auc - other.metrics.auc, abs=1e-12)
        assert recall.difference == pytest.approx(reference.recall_10_3 - other.recall_10_3, abs=1e-12)

    table = quality_table(rows, ["lightrank-bench", "quality", "--seeds", "2"])
    assert "- Seeds: every row is the mean of 2 trainings that differ only in their seed" in table
    assert "| training time | per seed: AUC / recall (10, 3) |" in table
    (auc0, recall0), (auc1, recall1) = random_row.per_seed
    assert f"| {auc0:.4f} / {recall0:.4f}, {auc1:.4f} / {recall1:.4f} |" in table
    assert "resamples of the requests, each redrawing both models' seeds, 95% intervals)" in table


def test_the_mean_of_trainings_averages_every_metric_of_one_split():
    one = QualityMetrics(10, 2, 0.6, 4.0, 0.5, 1.0, 0.8, 0.9, nrce=5.0)
    other = QualityMetrics(10, 2, 0.8, -2.0, 1.0, 0.5, 0.6, 0.7, nrce=7.0)
    mean = dataclasses.astuple(mean_metrics([one, other]))
    assert mean == pytest.approx((10, 2, 0.7, 1.0, 0.75, 0.75, 0.7, 0.8, 6.0))
    assert mean_metrics([one]) == one
    with pytest.raises(ValueError, match="different eval splits"):
        mean_metrics([one, QualityMetrics(11, 2, 0.6, 4.0, 0.5, 1.0, 0.8, 0.9)])
    with pytest.raises(ValueError, match="no trainings"):
        mean_metrics([])


def test_rows_from_different_splits_cannot_share_a_table():
    rows = [
        QualityRow("random", QualityMetrics(10, 2, 0.5, 0.0, 1.0, 1.0, 1.0, 1.0), 0.0, "x"),
        QualityRow("logistic", QualityMetrics(11, 2, 0.5, 0.0, 1.0, 1.0, 1.0, 1.0), 1.0, "x"),
    ]
    with pytest.raises(ValueError, match="different eval splits"):
        quality_table(rows, ["lightrank"])


def test_a_transform_output_without_an_eval_split_is_a_user_error(tmp_path):
    for kind in ("transform_graph", "transformed_examples/2/Split-train"):
        os.makedirs(tmp_path / kind.replace("transform_graph", "transform_graph/2"))
    write_gz(str(tmp_path / "transformed_examples" / "2" / "Split-train" / "part-0.gz"), [b"x"])
    with pytest.raises(TransformOutputError, match="Split-eval"):
        locate_splits(str(tmp_path))
