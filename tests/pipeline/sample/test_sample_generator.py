from __future__ import annotations

import math
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from sample_data_reader import group_by_request, read_data_set, read_examples, read_records, trace_id_of

from lightrank.pipeline.sample import DEFAULT_REQUESTS, SampleDataSummary, write_sample_data, writer
from lightrank.pipeline.sample import features as feat
from lightrank.pipeline.sample.chunk import CHUNK_REQUESTS, generate_chunk
from lightrank.pipeline.sample.population import build_population

Example = dict[str, list]


@pytest.fixture(scope="module")
def shards(small_data_set: SampleDataSummary) -> dict[str, list[Example]]:
    return read_data_set(small_data_set.out_dir)


@pytest.fixture(scope="module")
def examples(shards: dict[str, list[Example]]) -> list[Example]:
    return [example for file_examples in shards.values() for example in file_examples]


@pytest.fixture(scope="module")
def requests(examples: list[Example]) -> list[list[Example]]:
    return list(group_by_request(examples).values())


@pytest.fixture(scope="module")
def chunk_sizes() -> np.ndarray:
    """Candidates per request of the first 5 chunks (320 requests) of seed 7, without writing."""
    population = build_population(7)
    return np.concatenate([generate_chunk(population, 7, c, CHUNK_REQUESTS)[1] for c in range(5)])


def _value(example: Example, name: str) -> object:
    return example[name][0] if name in example else None


def _source(example: Example) -> str:
    return example[feat.CANDIDATE_SOURCE][0].decode()


# ---- output layout and determinism ---------------------------------------------------------------
def test_summary_describes_the_files(small_data_set: SampleDataSummary, examples: list[Example]) -> None:
    expected = [f"part-0000{i}-of-00003.tfrecord.gz" for i in range(3)]
    assert sorted(os.listdir(small_data_set.out_dir)) == expected
    assert small_data_set.files == tuple(os.path.join(small_data_set.out_dir, name) for name in expected)
    assert small_data_set.requests == 48
    assert small_data_set.candidates == len(examples)
    assert small_data_set.seconds > 0


def test_same_seed_gives_identical_bytes(small_data_set: SampleDataSummary, data_root: pathlib.Path) -> None:
    again = write_sample_data(str(data_root / "again"), requests=48, seed=7, shards=3, show_progress=False)
    for first, second in zip(small_data_set.files, again.files, strict=True):
        assert pathlib.Path(first).read_bytes() == pathlib.Path(second).read_bytes()


def test_different_seed_gives_different_data(requests: list[list[Example]], data_root: pathlib.Path) -> None:
    other = write_sample_data(str(data_root / "other"), requests=48, seed=8, shards=3, show_progress=False)
    other_ids = {example[feat.META_TRACE_ID][0] for path in other.files for example in read_examples(path)}
    assert len(other_ids) == 48
    assert other_ids.isdisjoint({request[0][feat.META_TRACE_ID][0] for request in requests})


def test_first_requests_do_not_depend_on_total_size_or_sharding(
    small_data_set: SampleDataSummary, data_root: pathlib.Path
) -> None:
    prefix = write_sample_data(str(data_root / "prefix"), requests=10, seed=7, shards=1, show_progress=False)
    # In the 3-shard set, request r sits in shard r % 3; rebuild the global order from the shards.
    by_shard = [read_records(path) for path in small_data_set.files]
    trace_of = [[trace_id_of(record) for record in records] for records in by_shard]
    ordered: list[bytes] = []
    cursors = [0, 0, 0]
    for request in range(10):
        shard = request % 3
        records, ids, start = by_shard[shard], trace_of[shard], cursors[shard]
        end = start
        while end < len(ids) and ids[end] == ids[start]:
            end += 1
        ordered.extend(records[start:end])
        cursors[shard] = end
    assert read_records(prefix.files[0]) == ordered


def test_each_request_is_whole_and_contiguous_in_its_shard(shards: dict[str, list[Example]]) -> None:
    seen: set[int] = set()
    for file_examples in shards.values():
        runs = [example[feat.META_TRACE_ID][0] for example in file_examples]
        starts = [trace for i, trace in enumerate(runs) if i == 0 or runs[i - 1] != trace]
        assert len(starts) == len(set(starts)), "a request is split into several runs"
        assert seen.isdisjoint(starts), "a request spans two files"
        seen.update(starts)
        assert len(starts) == 16  # 48 requests round-robin over 3 shards
    assert len(seen) == 48


def test_trace_ids_are_unique_positive_63_bit(requests: list[list[Example]]) -> None:
    ids = [request[0][feat.META_TRACE_ID][0] for request in requests]
    assert len(set(ids)) == len(ids) == 48
    assert all(0 < trace < 2**63 for trace in ids)
    assert max(ids) > 2**60  # random over 63 bits, not small counters


def test_files_are_readable_by_tensorflow_with_valid_checksums(small_data_set: SampleDataSummary) -> None:
    dataset = tf.data.TFRecordDataset(list(small_data_set.files), compression_type="GZIP")
    assert sum(1 for _ in dataset) == small_data_set.candidates


# ---- heavy ranker labels -------------------------------------------------------------------------
def test_rank_positions_follow_descending_score_with_ties_in_file_order(
    requests: list[list[Example]],
) -> None:
    for request in requests:
        positions = [int(example[feat.META_WEIGHT][0]) for example in request]
        assert sorted(positions) == list(range(len(request)))
        assert all(float(example[feat.META_WEIGHT][0]).is_integer() for example in request)
        scores = np.array([example[feat.META_HEAVY_SCORE][0] for example in request], dtype=np.float32)
        expected = np.lexsort((np.arange(len(request)), -scores))
        assert np.argsort(positions).tolist() == expected.tolist()


def test_top3_marks_exactly_the_first_three_positions(requests: list[list[Example]]) -> None:
    for request in requests:
        top3 = [example[feat.META_IS_TOP3][0] for example in request]
        assert sum(top3) == min(3, len(request))
        assert all(
            flag == int(example[feat.META_WEIGHT][0] < 3) for flag, example in zip(top3, request, strict=True)
        )


def test_at_most_one_send_per_request_and_only_at_the_top(requests: list[list[Example]]) -> None:
    sends = 0
    for request in requests:
        sent = [example for example in request if example[feat.LABEL_SENT][0] == 1]
        assert len(sent) <= 1
        assert all(example[feat.META_WEIGHT][0] == 0.0 for example in sent)
        sends += len(sent)
    assert 0 < sends < len(requests)  # the threshold is neither always nor never cleared


def test_heavy_scores_are_probabilities_mostly_small(examples: list[Example]) -> None:
    scores = np.array([example[feat.META_HEAVY_SCORE][0] for example in examples])
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert 0.02 <= scores.mean() <= 0.1
    assert np.median(scores) < scores.mean()  # right-skewed, like a real open probability


# ---- requests and sizes --------------------------------------------------------------------------
def test_candidates_per_request_within_bounds(requests: list[list[Example]], chunk_sizes: np.ndarray) -> None:
    assert all(20 <= len(request) <= 1000 for request in requests)
    assert chunk_sizes.min() >= 20 and chunk_sizes.max() <= 1000


def test_candidates_per_request_are_heavy_tailed_around_200(chunk_sizes: np.ndarray) -> None:
    assert chunk_sizes.size == 320
    assert 160 <= np.median(chunk_sizes) <= 250
    assert chunk_sizes.mean() > np.median(chunk_sizes)
    assert chunk_sizes.max() >= 500 and chunk_sizes.min() <= 80


def test_default_size_is_about_100k_examples(chunk_sizes: np.ndarray) -> None:
    assert 80_000 <= DEFAULT_REQUESTS * chunk_sizes.mean() <= 125_000


def test_user_features_are_shared_by_the_whole_request(requests: list[list[Example]]) -> None:
    user_features = [name for name in feat.FEATURE_KINDS if name.startswith("user.")]
    for request in requests:
        first = {name: request[0].get(name) for name in user_features}
        assert all({name: example.get(name) for name in user_features} == first for example in request)


# ---- missingness and corruption ------------------------------------------------------------------
def test_affinity_is_present_exactly_where_the_source_has_a_graph_signal(examples: list[Example]) -> None:
    follow_recs_with_affinity = follow_recs = 0
    for example in examples:
        source = _source(example)
        has_score = feat.CANDIDATE_REAL_GRAPH_SCORE in example
        assert has_score == (feat.CANDIDATE_AUTHOR_ENGAGEMENTS_28D in example)
        if source == "in_network_tweet":
            assert has_score
        elif source in ("out_of_network_tweet", "topic_tweet", "trend_tweet"):
            assert not has_score
        else:
            follow_recs += 1
            follow_recs_with_affinity += has_score
    assert 0.6 < follow_recs_with_affinity / follow_recs < 0.95  # "most" follow recommendations


def test_source_specific_scores_and_tweet_features(examples: list[Example]) -> None:
    tweet_features = [
        feat.CANDIDATE_TWEET_AGE_MINUTES,
        feat.CANDIDATE_LIKES_1H,
        feat.CANDIDATE_RETWEETS_1H,
        feat.CANDIDATE_REPLIES_1H,
        feat.CANDIDATE_HAS_MEDIA,
    ]
    for example in examples:
        source = _source(example)
        assert (feat.CANDIDATE_TOPIC_SCORE in example) == (source == "topic_tweet")
        assert (feat.CANDIDATE_TREND_SCORE in example) == (source == "trend_tweet")
        assert all((name in example) == (source != "follow_recommendation") for name in tweet_features)
        if source == "topic_tweet":
            assert feat.CANDIDATE_TOPIC_IDS in example
    sources = {_source(example) for example in examples}
    assert sources == set(feat.SOURCES)


def test_topic_ids_hold_one_to_four_distinct_ids(examples: list[Example]) -> None:
    others = [example for example in examples if _source(example) != "topic_tweet"]
    annotated = sum(feat.CANDIDATE_TOPIC_IDS in example for example in others)
    assert 0.2 < annotated / len(others) < 0.7  # "sometimes" for non-topic candidates
    lengths = set()
    for example in examples:
        ids = example.get(feat.CANDIDATE_TOPIC_IDS)
        if ids is not None:
            assert 1 <= len(ids) <= 4 and len(set(ids)) == len(ids)
            assert all(0 <= topic < feat.NUM_TOPICS for topic in ids)
            lengths.add(len(ids))
    assert lengths == {1, 2, 3, 4}


def test_open_rate_is_missing_only_for_users_without_pushes(requests: list[list[Example]]) -> None:
    for request in requests:
        example = request[0]
        if feat.USER_PUSH_OPEN_RATE_28D not in example:
            assert example[feat.USER_PUSH_OPENS_28D] == [0.0]
        else:
            assert 0.0 <= example[feat.USER_PUSH_OPEN_RATE_28D][0] <= 1.0


def test_nan_and_inf_are_rare_and_only_in_hydrated_candidate_floats(examples: list[Example]) -> None:
    nan = inf = values = 0
    for example in examples:
        for name, kind in feat.FEATURE_KINDS.items():
            if kind is not feat.ValueKind.FLOAT or name not in example:
                continue
            value = example[name][0]
            if name in feat.CORRUPTIBLE_FLOATS:
                values += 1
                nan += math.isnan(value)
                inf += value == math.inf
                assert value != -math.inf
            else:
                assert math.isfinite(value), name
    assert 0 < nan < 0.005 * values
    assert 0 < inf < 0.002 * values


def test_ids_are_high_cardinality_int64(examples: list[Example]) -> None:
    authors = {example[feat.CANDIDATE_AUTHOR_ID][0] for example in examples}
    assert len(authors) > 3000
    assert all(0 < author < 2**63 for author in authors)
    users = {example[feat.USER_ID][0] for example in examples}
    assert 40 <= len(users) <= 48  # one user per request, rare repeats


# ---- atomic output -------------------------------------------------------------------------------
def test_existing_non_empty_directory_is_refused_and_untouched(data_root: pathlib.Path) -> None:
    out_dir = data_root / "data"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match=str(out_dir)):
        write_sample_data(str(out_dir), requests=2, show_progress=False)
    assert os.listdir(out_dir) == ["keep.txt"]
    assert (out_dir / "keep.txt").read_text() == "precious"
    assert os.listdir(data_root) == ["data"]


def test_overwrite_replaces_the_directory(data_root: pathlib.Path) -> None:
    out_dir = data_root / "data"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("stale")
    summary = write_sample_data(str(out_dir), requests=2, shards=2, show_progress=False, overwrite=True)
    assert sorted(os.listdir(out_dir)) == [
        "part-00000-of-00002.tfrecord.gz",
        "part-00001-of-00002.tfrecord.gz",
    ]
    assert os.listdir(data_root) == ["data"]
    assert summary.candidates == sum(len(read_records(path)) for path in summary.files)


def test_empty_existing_directory_is_filled(data_root: pathlib.Path) -> None:
    (data_root / "data").mkdir()
    summary = write_sample_data(str(data_root / "data"), requests=1, shards=1, show_progress=False)
    assert os.listdir(data_root / "data") == ["part-00000-of-00001.tfrecord.gz"]
    assert 20 <= summary.candidates <= 1000


def test_failure_midway_leaves_nothing_and_keeps_old_data(
    data_root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = data_root / "data"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("old")
    calls = []

    def failing_chunk(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return generate_chunk(*args, **kwargs)

    monkeypatch.setattr(writer, "generate_chunk", failing_chunk)
    with pytest.raises(RuntimeError, match="disk full"):
        write_sample_data(str(out_dir), requests=CHUNK_REQUESTS + 1, show_progress=False, overwrite=True)
    assert os.listdir(data_root) == ["data"]
    assert os.listdir(out_dir) == ["keep.txt"]
    with pytest.raises(RuntimeError, match="disk full"):
        calls.clear()
        write_sample_data(str(data_root / "fresh"), requests=CHUNK_REQUESTS + 1, show_progress=False)
    assert os.listdir(data_root) == ["data"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests": 0}, "requests"),
        ({"requests": 1, "shards": 0}, "shards"),
        ({"requests": 1, "seed": -1}, "seed"),
        ({"requests": 1, "seed": 2**32}, "seed"),
    ],
)
def test_invalid_arguments_are_rejected(data_root: pathlib.Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_sample_data(str(data_root / "data"), show_progress=False, **kwargs)
    assert os.listdir(data_root) == []
