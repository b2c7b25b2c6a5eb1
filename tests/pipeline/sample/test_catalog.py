"""The catalog data set: its feature contract, time split, labels, signal, determinism and output.

Files are read back with TensorFlow (`TFRecordDataset` + `Example.FromString`), independently of
the writer's encoding, and the contract is spelled out here literally: a rename in the generator
must fail these tests, not silently change what the docs promise.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from lightrank.pipeline.sample import catalog
from lightrank.pipeline.sample.catalog_writer import (
    DEFAULT_CATALOG_REQUESTS,
    CatalogDataSummary,
    write_catalog_data,
)

Row = dict[str, list]

#: The contract of docs/sample_data.md (The catalog dataset): feature -> its tf.Example list.
CONTRACT = {
    "query_id": "int64_list",
    "ts": "int64_list",
    "viewer_id": "int64_list",
    "viewer_country": "bytes_list",
    "viewer_tenure_days": "float_list",
    "item_id": "int64_list",
    "item_category": "bytes_list",
    "item_tags": "bytes_list",
    "item_price": "float_list",
    "item_age_hours": "float_list",
    "item_popularity_7d": "float_list",
    "ref_score": "float_list",
    "ref_rank": "int64_list",
    "clicked": "float_list",
    "relevance": "float_list",
}
OPTIONAL = {"item_price", "item_tags"}
SEED = 0


def _read(path: str) -> list[tuple[Row, dict[str, str]]]:
    """(feature -> values, feature -> list kind) of every example of one file, in file order."""
    rows = []
    for batch in tf.data.TFRecordDataset(path, compression_type="GZIP").batch(4096).as_numpy_iterator():
        for record in batch:
            row, kinds = {}, {}
            for name, feature in tf.train.Example.FromString(record).features.feature.items():
                kinds[name] = feature.WhichOneof("kind")
                row[name] = list(getattr(feature, kinds[name]).value)
            rows.append((row, kinds))
    return rows


@pytest.fixture(scope="module")
def files(default_set: CatalogDataSummary) -> dict[str, list[tuple[Row, dict[str, str]]]]:
    """Every file of the default set, train then eval, read back once."""
    return {path: _read(path) for path in default_set.train.files + default_set.eval.files}


def _read_split(summary: CatalogDataSummary, split: str) -> list[Row]:
    return [row for path in getattr(summary, split).files for row, _ in _read(path)]


def _column(rows: list[Row], name: str) -> np.ndarray:
    return np.array([row[name][0] for row in rows])


def _by_request(rows: list[Row]) -> dict[int, list[Row]]:
    groups: dict[int, list[Row]] = {}
    for row in rows:
        groups.setdefault(row["query_id"][0], []).append(row)
    return groups


def _hashes(root: str) -> dict[str, str]:
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
    return out


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula, ties sharing their average rank."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2.0)[inverse]
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


@pytest.fixture(scope="module")
def default_set(tmp_path_factory: pytest.TempPathFactory) -> CatalogDataSummary:
    """The default-size catalog data set (240 requests, ~18k candidates), seed 0, 4 shards per split."""
    return write_catalog_data(
        str(tmp_path_factory.mktemp("catalog") / "data"), seed=SEED, show_progress=False
    )


@pytest.fixture(scope="module")
def train_rows(default_set: CatalogDataSummary, files: dict) -> list[Row]:
    return [row for path in default_set.train.files for row, _ in files[path]]


@pytest.fixture(scope="module")
def eval_rows(default_set: CatalogDataSummary, files: dict) -> list[Row]:
    return [row for path in default_set.eval.files for row, _ in files[path]]


@pytest.fixture(scope="module")
def rows(train_rows: list[Row], eval_rows: list[Row]) -> list[Row]:
    return train_rows + eval_rows


# ---- layout, sizes and the contract -------------------------------------------------------------
def test_default_set_is_split_into_train_and_eval_folders(
    default_set: CatalogDataSummary, train_rows: list[Row], eval_rows: list[Row]
) -> None:
    names = [f"part-0000{i}-of-00004.tfrecord.gz" for i in range(4)]
    assert sorted(os.listdir(default_set.out_dir)) == ["eval", "train"]
    for split in ("train", "eval"):
        assert sorted(os.listdir(os.path.join(default_set.out_dir, split))) == names
        assert getattr(default_set, split).files == tuple(
            os.path.join(default_set.out_dir, split, name) for name in names
        )
    assert DEFAULT_CATALOG_REQUESTS == default_set.requests == 240
    assert (default_set.train.requests, default_set.eval.requests) == (192, 48)
    assert (default_set.train.candidates, default_set.eval.candidates) == (len(train_rows), len(eval_rows))
    assert default_set.train.clicks == int(_column(train_rows, "clicked").sum())
    assert default_set.eval.clicks == int(_column(eval_rows, "clicked").sum())
    assert 12_000 <= default_set.candidates <= 24_000
    assert default_set.seconds < 10


def test_every_example_follows_the_feature_contract(files: dict) -> None:
    seen_optional: Counter[str] = Counter()
    for examples in files.values():
        for row, kinds in examples:
            assert set(CONTRACT) - OPTIONAL <= set(row) <= set(CONTRACT)
            assert kinds == {name: CONTRACT[name] for name in row}
            for name, values in row.items():
                if name == "item_tags":
                    assert 1 <= len(values) <= 5  # zero tags: absent, never present and empty
                else:
                    assert len(values) == 1, name
            seen_optional.update(OPTIONAL & set(row))
    assert seen_optional["item_price"] > 0 and seen_optional["item_tags"] > 0
    assert not any(name.split(".")[0] in ("meta", "user", "candidate", "label") for name in CONTRACT)


def test_requests_have_30_to_120_candidates_and_one_viewer_and_time(rows: list[Row]) -> None:
    requests = _by_request(rows)
    assert len(requests) == 240
    assert all(query_id >= 1 for query_id in requests)
    sizes = [len(request) for request in requests.values()]
    assert min(sizes) >= 30 and max(sizes) <= 120
    assert max(sizes) - min(sizes) > 50  # sizes vary
    for request in requests.values():
        for name in ("ts", "viewer_id", "viewer_country", "viewer_tenure_days"):
            assert len({row[name][0] for row in request}) == 1, name
        assert len({row["item_id"][0] for row in request}) == len(request)  # distinct candidates


def test_eval_is_the_last_fifth_in_time_and_requests_are_never_split(
    files: dict, train_rows: list[Row], eval_rows: list[Row]
) -> None:
    assert _column(train_rows, "ts").max() < _column(eval_rows, "ts").min()
    file_of: dict[int, str] = {}
    for path, examples in files.items():
        runs = [row["query_id"][0] for row, _ in examples]
        starts = [query for i, query in enumerate(runs) if i == 0 or runs[i - 1] != query]
        assert len(starts) == len(set(starts)), f"a request is split into several runs in {path}"
        for query in starts:
            assert file_of.setdefault(query, path) == path, "a request spans two files"
    assert len(_by_request(train_rows)) == 192 and len(_by_request(eval_rows)) == 48


def test_a_split_boundary_inside_a_chunk_is_cut_by_time(tmp_path: pathlib.Path) -> None:
    # 100 requests: 80 train, 20 eval; chunk 1 (requests 64..127) holds both splits.
    summary = write_catalog_data(str(tmp_path / "data"), requests=100, seed=3, shards=3, show_progress=False)
    assert (summary.train.requests, summary.eval.requests) == (80, 20)
    train, eval_ = _read_split(summary, "train"), _read_split(summary, "eval")
    assert len(_by_request(train)) == 80 and len(_by_request(eval_)) == 20
    assert _column(train, "ts").max() < _column(eval_, "ts").min()
    assert set(_by_request(train)).isdisjoint(_by_request(eval_))


# ---- features ------------------------------------------------------------------------------------
def test_ids_are_large_high_cardinality_and_long_tailed(rows: list[Row]) -> None:
    viewers = _column(rows, "viewer_id")
    items = _column(rows, "item_id")
    assert 100 <= len(set(viewers.tolist())) <= 240  # skewed: some viewers come back
    assert len(set(items.tolist())) > 2_000
    assert viewers.min() > 0 and items.min() > 0
    assert viewers.max() > 2**40 and items.max() > 2**40  # random int64s, not 0..n
    counts = np.array(sorted(Counter(items.tolist()).values(), reverse=True))
    assert counts[0] > 0.5 * 240  # the head item is in most requests
    assert np.median(counts) <= 2  # most items appear once or twice
    assert counts[: len(counts) // 100].sum() > 0.2 * counts.sum()  # top 1% of items: >20% of rows


def test_categoricals_use_small_vocabularies(rows: list[Row]) -> None:
    countries = {row["viewer_country"][0] for row in rows}
    categories = {row["item_category"][0] for row in rows}
    tags = {tag for row in rows for tag in row.get("item_tags", [])}
    assert 3 <= len(countries) <= 10
    assert 20 <= len(categories) <= 30
    assert 100 <= len(tags) <= 200


def test_item_tags_hold_zero_to_five_distinct_tags_fixed_per_item(rows: list[Row]) -> None:
    tags_of: dict[int, tuple] = {}
    for row in rows:
        tags = tuple(row.get("item_tags", []))
        assert len(set(tags)) == len(tags) <= 5
        assert tags_of.setdefault(row["item_id"][0], tags) == tags
    lengths = Counter(len(tags) for tags in tags_of.values())
    assert set(lengths) == set(range(6))


def test_item_price_is_absent_for_a_quarter_of_items_and_never_a_sentinel(rows: list[Row]) -> None:
    price_of: dict[int, float | None] = {}
    for row in rows:
        price = row["item_price"][0] if "item_price" in row else None
        assert price_of.setdefault(row["item_id"][0], price) == price
    prices = np.array([p for p in price_of.values() if p is not None])
    assert 0.15 < 1 - prices.size / len(price_of) < 0.35
    assert np.isfinite(prices).all() and prices.min() > 0  # no -1, 0 or NaN stand-ins
    assert Counter(prices.tolist()).most_common(1)[0][1] < 0.01 * prices.size  # no stand-in value


def test_continuous_features_are_finite_and_plausible(rows: list[Row]) -> None:
    tenure, age, popularity = (
        _column(rows, name) for name in ("viewer_tenure_days", "item_age_hours", "item_popularity_7d")
    )
    for column in (tenure, age, popularity):
        assert np.isfinite(column).all() and column.min() >= 0
    assert age.min() > 0
    assert 8 < popularity.max() < 13  # log1p of tens of thousands of interactions for the head
    assert popularity.max() - popularity.min() > 5  # a log scale over orders of magnitude


def test_labels_and_reference_score_are_probabilities(rows: list[Row]) -> None:
    clicked, relevance, ref_score = (_column(rows, name) for name in ("clicked", "relevance", "ref_score"))
    assert set(clicked.tolist()) == {0.0, 1.0}
    for column in (relevance, ref_score):
        assert column.min() >= 0.0 and column.max() <= 1.0
    # Soft label and reference score both track the clicks, the soft label more closely.
    assert _auc(clicked, ref_score) > 0.7
    assert _auc(clicked, relevance) > _auc(clicked, ref_score)
    assert _auc(clicked, ref_score) < 0.95  # good, not perfect


def test_ref_rank_orders_each_request_by_descending_ref_score(rows: list[Row]) -> None:
    for request in _by_request(rows).values():
        ranks = [row["ref_rank"][0] for row in request]
        assert sorted(ranks) == list(range(len(request)))
        scores = np.array([row["ref_score"][0] for row in request], dtype=np.float32)
        assert np.argsort(ranks).tolist() == np.lexsort((np.arange(len(request)), -scores)).tolist()


# ---- signal and prior shift ----------------------------------------------------------------------
def test_eval_clicks_more_than_train(default_set: CatalogDataSummary) -> None:
    assert 0.02 < default_set.train.click_rate < 0.08
    assert default_set.eval.click_rate > 1.25 * default_set.train.click_rate


def test_clicks_follow_the_hidden_viewer_item_affinity_most(rows: list[Row]) -> None:
    """White-box: the seed's hidden factors, looked up by the written ids, explain the clicks best."""
    hidden = catalog.build_catalog(SEED)
    viewer_index = {v: i for i, v in enumerate(hidden.viewers.ids.tolist())}
    item_index = {v: i for i, v in enumerate(hidden.items.ids.tolist())}
    viewer = np.array([viewer_index[v] for v in _column(rows, "viewer_id").tolist()])
    item = np.array([item_index[v] for v in _column(rows, "item_id").tolist()])
    clicked = _column(rows, "clicked")
    affinity = np.sum(hidden.viewers.factors[viewer] * hidden.items.factors[item], axis=1)
    affinity_auc = _auc(clicked, affinity)
    assert affinity_auc > 0.72
    assert affinity_auc > _auc(clicked, hidden.items.quality[item]) + 0.05
    assert affinity_auc > _auc(clicked, hidden.viewers.propensity[viewer]) + 0.05
    assert affinity_auc > _auc(clicked, _column(rows, "item_popularity_7d")) + 0.1


def test_ids_carry_signal_beyond_the_continuous_features(train_rows: list[Row], eval_rows: list[Row]) -> None:
    """Click rates by viewer, item and viewer x category, learned on train, rank eval's clicks."""
    train_clicks, eval_clicks = _column(train_rows, "clicked"), _column(eval_rows, "clicked")
    prior = train_clicks.mean()

    def encoded(key: str | tuple[str, str]) -> np.ndarray:
        def keys(rows: list[Row]) -> list:
            names = key if isinstance(key, tuple) else (key,)
            return [tuple(row[name][0] for name in names) for row in rows]

        clicks: Counter = Counter()
        seen: Counter = Counter()
        for k, clicked in zip(keys(train_rows), train_clicks, strict=True):
            clicks[k] += clicked
            seen[k] += 1
        rate = np.array([(clicks[k] + 10 * prior) / (seen[k] + 10) for k in keys(eval_rows)])
        return np.log(rate / (1 - rate))

    ids_score = encoded("item_id") + encoded("viewer_id") + encoded(("viewer_id", "item_category"))
    ids_auc = _auc(eval_clicks, ids_score)
    continuous_aucs = [
        max(_auc(eval_clicks, column), 1 - _auc(eval_clicks, column))
        for column in (
            _column(eval_rows, name)
            for name in ("item_popularity_7d", "item_age_hours", "viewer_tenure_days")
        )
    ]
    assert ids_auc > 0.62
    assert ids_auc > max(continuous_aucs) + 0.04


# ---- determinism and output ----------------------------------------------------------------------
def test_same_seed_and_arguments_give_identical_bytes(
    default_set: CatalogDataSummary, tmp_path: pathlib.Path
) -> None:
    again = write_catalog_data(str(tmp_path / "again"), seed=SEED, show_progress=False)
    first = _hashes(default_set.out_dir)
    assert len(first) == 8
    assert _hashes(again.out_dir) == first
    other = write_catalog_data(str(tmp_path / "other"), seed=SEED + 1, show_progress=False)
    assert set(_hashes(other.out_dir).values()).isdisjoint(first.values())


def test_few_requests_write_one_file_per_request_at_most(tmp_path: pathlib.Path) -> None:
    summary = write_catalog_data(str(tmp_path / "data"), requests=3, shards=4, show_progress=False)
    assert (summary.train.requests, summary.eval.requests) == (2, 1)
    assert sorted(os.listdir(tmp_path / "data" / "train")) == [
        "part-00000-of-00002.tfrecord.gz",
        "part-00001-of-00002.tfrecord.gz",
    ]
    assert os.listdir(tmp_path / "data" / "eval") == ["part-00000-of-00001.tfrecord.gz"]
    assert all(len(_read(path)) >= 30 for path in summary.train.files + summary.eval.files)


def test_existing_data_is_refused_untouched_and_replaced_only_with_overwrite(tmp_path: pathlib.Path) -> None:
    out_dir = tmp_path / "data"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match=str(out_dir)):
        write_catalog_data(str(out_dir), requests=2, show_progress=False)
    assert os.listdir(out_dir) == ["keep.txt"]
    write_catalog_data(str(out_dir), requests=2, show_progress=False, overwrite=True)
    assert sorted(os.listdir(out_dir)) == ["eval", "train"]
    assert os.listdir(tmp_path) == ["data"]  # no staging or old copy left behind


def test_a_failure_midway_leaves_nothing_and_keeps_old_data(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "data"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("old")
    real = catalog.generate_chunk

    def failing_chunk(*args: object, **kwargs: object) -> object:
        if args[2] == 1:  # the second chunk
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(catalog, "generate_chunk", failing_chunk)  # as `catalog_writer` calls it
    with pytest.raises(RuntimeError, match="disk full"):
        write_catalog_data(str(out_dir), requests=100, show_progress=False, overwrite=True)
    assert os.listdir(tmp_path) == ["data"]
    assert os.listdir(out_dir) == ["keep.txt"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests": 1}, "at least 2 requests"),
        ({"requests": 2, "shards": 0}, "shards"),
        ({"requests": 2, "seed": -1}, "seed"),
        ({"requests": 2, "seed": 2**32}, "seed"),
    ],
)
def test_invalid_arguments_are_rejected(tmp_path: pathlib.Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_catalog_data(str(tmp_path / "data"), show_progress=False, **kwargs)
    assert os.listdir(tmp_path) == []
