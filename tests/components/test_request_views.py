"""Request views and candidate cells built from TFMA's scored batches, and how TFMA slices them."""

from __future__ import annotations

import pickle
from collections import Counter, defaultdict

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from apache_beam.utils.windowed_value import WindowedValue
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.api import types
from tensorflow_model_analysis.extractors import slice_key_extractor
from tensorflow_model_analysis.slicer import slicer_lib
from tensorflow_model_analysis.utils import util

from lightrank.components.cell_batches import CellBatches, candidate_count
from lightrank.components.eval_extractors import view_plan
from lightrank.components.request_views import NO_REQUEST, ViewPlan, join_parts, request_keys
from lightrank.components.row_values import as_rows, concatenate, take
from lightrank.models.metrics.specs import light_ranking_metrics_specs
from lightrank.models.metrics.views import CANDIDATES, REQUEST, REQUEST_FEATURES_KEY, REQUEST_ID_KEY, VIEW_KEY

FEATURES = constants.FEATURES_KEY
TRANSFORMED = constants.TRANSFORMED_FEATURES_KEY
LABELS, WEIGHTS, PREDICTIONS = constants.LABELS_KEY, constants.EXAMPLE_WEIGHTS_KEY, constants.PREDICTIONS_KEY
TRACE, HEAVY = "meta.trace_id", "meta.heavy_score"
SOURCE, TOPICS, BUCKET = "candidate.source", "candidate.topics", "user.age_bucket"

# Candidate i of `_batch()`: its request key values, source, topics and (transformed) bucket.
TRACES = [[b"r1"], [b"r2"], [b"r1"], [], [b"r1", b"r2"], [b"r2"], [b"r1"], [b"r2"], [b"r1"]]
SOURCES = [b"a", b"b", b"a", b"a", b"b", b"b", b"a", b"a", b"a"]
TOPIC_ROWS = [[3], [], [3, 4], [4], [3], [3, 4], [3], [3], [3]]
BUCKETS = [0, 1, 0, 0, 1, 1, 0, 0, 1]  # 0, 6 (request r1) and 7 (r2) share every slice value; 8 not
SLICING_SPECS = [
    tfma.SlicingSpec(),
    tfma.SlicingSpec(feature_keys=[SOURCE]),
    tfma.SlicingSpec(feature_keys=[TOPICS]),
    tfma.SlicingSpec(feature_keys=[BUCKET]),
    tfma.SlicingSpec(feature_keys=[SOURCE, TOPICS]),
    tfma.SlicingSpec(feature_keys=[TOPICS, BUCKET]),
    tfma.SlicingSpec(feature_keys=[TOPICS], feature_values={SOURCE: "a"}),
]
PLAN = ViewPlan(TRACE, {TRACE, HEAVY}, {SOURCE, TOPICS, BUCKET}, SLICING_SPECS)


def _varlen(rows: list[list], dtype) -> types.VarLenTensorValue:
    indices = [[i, j] for i, row in enumerate(rows) for j in range(len(row))]
    return types.VarLenTensorValue(
        values=np.array([value for row in rows for value in row], dtype=dtype),
        indices=np.array(indices, dtype=np.int64).reshape(-1, 2),
        dense_shape=np.array([len(rows), max(map(len, rows))]),
    )


def _batch(rows=None, trace=None) -> dict:
    """A scored batch shaped as TFMA's extractors hand it over, of the candidates `rows`."""
    rows = list(range(len(SOURCES))) if rows is None else list(rows)
    ids = np.array(rows)
    return {
        FEATURES: {
            TRACE: _varlen([TRACES[i] for i in rows], object) if trace is None else trace,
            SOURCE: np.array([[SOURCES[i]] for i in rows], dtype=object),
            TOPICS: _varlen([TOPIC_ROWS[i] for i in rows], np.int64),
            HEAVY: (ids / 10).astype(np.float32).reshape(-1, 1),
            "user.id": ids.reshape(-1, 1),
        },
        TRANSFORMED: {
            BUCKET: np.array([BUCKETS[i] for i in rows], dtype=np.int64),
            "continuous": np.zeros((len(rows), 3), np.float32),
        },
        LABELS: (ids % 2).astype(np.float64).reshape(-1, 1),
        WEIGHTS: np.full((len(rows), 1), 1.5),
        PREDICTIONS: (ids / 100).reshape(-1, 1),  # candidate i predicts i / 100: its name below
        constants.INPUT_KEY: np.array([b"example %d" % i for i in rows], dtype=object),
    }


def _ids(extracts: dict) -> list[int]:
    """The candidates of a view, by their predictions."""
    return np.rint(np.asarray(extracts[PREDICTIONS]).reshape(-1) * 100).astype(int).tolist()


def _per_candidate(value) -> list[tuple]:
    """A row-aligned value (dense or object rows) as one tuple of values per candidate."""
    return [tuple(np.asarray(row).reshape(-1).tolist()) for row in value]


def _key(trace: bytes) -> str:
    """The request key text of `trace`, as a dense one-value feature gives it."""
    return str(request_keys(np.array([[trace]], dtype=object), 1)[0])


def _requests(batch: dict, plan: ViewPlan = PLAN) -> dict[str, dict]:
    parts = list(plan.split_batch(batch))
    assert len({key for key, _ in parts}) == len(parts)  # one partial per request and batch
    return dict(parts)


def _slice_keys(extracts: dict, specs=SLICING_SPECS) -> set:
    """The slice keys TFMA's SliceKeyExtractor gives an extract (slicing transformed features too)."""
    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec()], slicing_specs=specs)
    single_specs = [slicer_lib.SingleSliceSpec(spec=spec) for spec in specs]
    (sliced,) = slice_key_extractor.ExtractSliceKeysFn(config, False).process(extracts, single_specs)
    return set(sliced[constants.SLICE_KEY_TYPES_KEY])


def _candidate_slice_keys(specs=SLICING_SPECS) -> list[set]:
    """The slice keys of every candidate, as TFMA slices its own per-candidate extracts."""
    return [_slice_keys(extracts, specs) for extracts in util.split_extracts(_batch())]


def test_request_keys_read_every_layout_and_only_single_values():
    dense = np.array([[b"x"], [b"y"]], dtype=object)
    assert request_keys(dense, 2).tolist() == [_key(b"x"), _key(b"y")]
    assert request_keys(np.array([5, 6]), 2).tolist() == ["5", "6"]
    assert request_keys(np.array([[5], [6]]), 2).tolist() == ["5", "6"]
    assert request_keys(as_rows(_varlen([[5], [6]], np.int64), 2), 2).tolist() == ["5", "6"]
    assert request_keys(np.zeros((2, 0)), 2).tolist() == [NO_REQUEST] * 2
    assert request_keys(np.array([[1, 2], [3, 4]]), 2).tolist() == [NO_REQUEST] * 2
    assert request_keys(None, 2).tolist() == [NO_REQUEST] * 2
    rows = as_rows(_varlen([[b"x"], [], [b"x", b"y"]], object), 3)
    assert request_keys(rows, 3).tolist() == [_key(b"x"), NO_REQUEST, NO_REQUEST]
    assert _key(b"x") not in (_key(b"y"), NO_REQUEST)


def test_as_rows_turns_sparse_values_into_per_candidate_rows():
    rows = as_rows(_varlen([[1, 2], [], [3]], np.int64), 3)
    assert rows.dtype == object and _per_candidate(rows) == [(1, 2), (), (3,)]
    unsorted = types.SparseTensorValue(  # rows out of order: values still land with their row
        values=np.array([30, 10, 11]),
        indices=np.array([[2, 0], [0, 0], [0, 1]]),
        dense_shape=np.array([4, 2]),
    )
    assert _per_candidate(as_rows(unsorted, 4)) == [(10, 11), (), (30,), ()]
    empty = types.VarLenTensorValue(np.array([]), np.zeros((0, 2), np.int64), np.array([2, 0]))
    assert _per_candidate(as_rows(empty, 2)) == [(), ()]
    dense = np.array([[1.0], [2.0]])
    assert as_rows(dense, 2) is dense
    nested = as_rows({"a": dense, "b": None}, 2)
    assert nested["a"] is dense and nested["b"] is None


def test_take_follows_nested_dicts():
    value = {"x": np.array([10, 11, 12]), "y": {"z": np.array([[1], [2], [3]])}, "none": None}
    taken = take(value, np.array([2, 0]))
    assert taken["x"].tolist() == [12, 10] and taken["y"]["z"].tolist() == [[3], [1]]
    assert taken["none"] is None


def test_prune_keeps_what_a_metric_or_slice_reads_with_one_entry_per_candidate():
    batch = _batch()
    pruned, size = PLAN.prune(batch)
    assert size == 9
    assert set(pruned) == {FEATURES, TRANSFORMED, LABELS, WEIGHTS, PREDICTIONS}  # no serialized input
    assert set(pruned[FEATURES]) == {TRACE, HEAVY, SOURCE, TOPICS}
    assert set(pruned[TRANSFORMED]) == {BUCKET}
    assert _per_candidate(pruned[FEATURES][TRACE]) == [tuple(trace) for trace in TRACES]
    assert _per_candidate(pruned[FEATURES][TOPICS]) == [tuple(topics) for topics in TOPIC_ROWS]
    np.testing.assert_array_equal(pruned[FEATURES][SOURCE], batch[FEATURES][SOURCE])
    np.testing.assert_array_equal(pruned[FEATURES][HEAVY], batch[FEATURES][HEAVY])
    np.testing.assert_array_equal(pruned[TRANSFORMED][BUCKET], BUCKETS)
    for key in (LABELS, WEIGHTS, PREDICTIONS):
        np.testing.assert_array_equal(pruned[key], batch[key])
    assert set(batch[FEATURES]) == {TRACE, SOURCE, TOPICS, HEAVY, "user.id"}  # the batch is untouched


def test_prune_keeps_transformed_slice_features_per_model():
    batch = _batch()
    batch[TRANSFORMED] = {"candidate": dict(batch[TRANSFORMED]), "baseline": {BUCKET: np.arange(9)}}
    pruned, _ = PLAN.prune(batch)
    assert pruned[TRANSFORMED]["candidate"].keys() == pruned[TRANSFORMED]["baseline"].keys() == {BUCKET}


def test_the_candidates_are_counted_from_input_labels_or_predictions():
    assert candidate_count({PREDICTIONS: {"head": np.zeros((4, 1))}}) == 4
    assert candidate_count({LABELS: np.zeros((3, 1)), WEIGHTS: np.array(1.0)}) == 3
    with pytest.raises(ValueError, match="cannot tell the candidates"):
        candidate_count({FEATURES: {}})


def test_split_batch_groups_candidates_by_request_key_in_batch_order():
    requests = _requests(_batch())
    assert {key: _ids(part) for key, part in requests.items()} == {
        _key(b"r1"): [0, 2, 6, 8],
        _key(b"r2"): [1, 5, 7],
        NO_REQUEST: [3, 4],  # no request key, two request keys: TFMA's '' pseudo-request
    }
    r1 = requests[_key(b"r1")]
    assert set(r1[FEATURES]) == {TRACE, HEAVY, SOURCE, TOPICS}
    assert _per_candidate(r1[FEATURES][SOURCE]) == [(b"a",)] * 4
    assert _per_candidate(r1[FEATURES][TOPICS]) == [(3,), (3, 4), (3,), (3,)]
    assert r1[TRANSFORMED][BUCKET].tolist() == [0, 0, 0, 1]
    assert r1[FEATURES][HEAVY].ravel().tolist() == pytest.approx([0.0, 0.2, 0.6, 0.8])
    assert r1[LABELS].ravel().tolist() == [0.0, 0.0, 0.0, 0.0]
    assert r1[WEIGHTS].shape == (4, 1)


def test_a_request_key_in_any_layout_gives_the_same_request():
    dense = _requests(_batch([0, 2], trace=np.array([[b"r1"], [b"r1"]], dtype=object)))
    varlen = _requests(_batch([6, 8]))
    assert list(dense) == [_key(b"r1")] and _key(b"r1") in varlen
    ints = _requests(_batch([0, 1], trace=np.array([7, 7])))
    int_rows = _requests(_batch([2, 3], trace=_varlen([[7], [7]], np.int64)))
    assert list(ints) == list(int_rows) == ["7"]


def test_without_a_request_key_the_whole_batch_is_one_part():
    plan = ViewPlan(None, {HEAVY}, {SOURCE, TOPICS, BUCKET})
    ((key, part),) = plan.split_batch(_batch())
    assert key == NO_REQUEST and _ids(part) == list(range(9))
    assert TRACE not in part[FEATURES]


def test_join_parts_concatenates_partial_requests_even_of_different_layouts():
    dense = _batch([0, 2], trace=np.array([[b"r1"], [b"r1"]], dtype=object))
    dense[FEATURES][TOPICS] = np.array([[3], [4]])  # a dense (n, 1) slice feature in this batch
    first = _requests(dense)[_key(b"r1")]
    second = _requests(_batch([6, 8]))[_key(b"r1")]
    joined = join_parts([first, second])
    assert _ids(joined) == [0, 2, 6, 8]
    for path in (
        (FEATURES, TRACE),
        (FEATURES, TOPICS),
        (FEATURES, SOURCE),
        (FEATURES, HEAVY),
        (TRANSFORMED, BUCKET),
    ):
        a, b, both = first, second, joined
        for key in path:
            a, b, both = a[key], b[key], both[key]
        assert _per_candidate(both) == _per_candidate(a) + _per_candidate(b), path
    assert _per_candidate(joined[FEATURES][TOPICS]) == [(3,), (4,), (3,), (3,)]
    assert _per_candidate(joined[FEATURES][TRACE]) == [(b"r1",)] * 4
    assert joined[LABELS].shape == (4, 1) and joined[WEIGHTS].tolist() == [[1.5]] * 4
    assert join_parts([first]) is first


def test_concatenate_skips_empty_parts_and_keeps_dense_layouts():
    empty_rows = np.empty(0, dtype=object)
    dense = np.array([[1.0], [2.0]])
    joined = concatenate([empty_rows, dense, np.array([[3.0]])])
    assert joined.shape == (3, 1) and joined.ravel().tolist() == [1.0, 2.0, 3.0]
    assert concatenate([None, None]) is None
    assert concatenate([{"a": dense}, {"a": dense}])["a"].shape == (4, 1)


def _views(batch: dict | None = None, plan: ViewPlan = PLAN) -> dict[str, list[dict]]:
    return {
        key: list(plan.views_of_request(key, part))
        for key, part in _requests(batch or _batch(), plan).items()
    }


def test_each_request_gives_one_request_view_and_cells_that_partition_its_candidates():
    for key, views in _views().items():
        request, *cells = views
        assert request[VIEW_KEY] == REQUEST and request[REQUEST_ID_KEY] == key
        assert all(cell[VIEW_KEY] == CANDIDATES and REQUEST_ID_KEY not in cell for cell in cells)
        assert sorted(i for cell in cells for i in _ids(cell)) == sorted(_ids(request))
        for name in (LABELS, WEIGHTS, PREDICTIONS):
            expected = Counter(np.asarray(request[name]).ravel().tolist())
            assert Counter(v for cell in cells for v in np.asarray(cell[name]).ravel().tolist()) == expected
        # The request view keeps what the grouped metrics read, one entry per candidate, and
        # no feature TFMA's slicer could read.
        assert set(request[REQUEST_FEATURES_KEY]) == {TRACE, HEAVY} and not request[FEATURES]
        assert len(request[REQUEST_FEATURES_KEY][TRACE]) == len(_ids(request))
        assert [t[0] for t in _per_candidate(request[REQUEST_FEATURES_KEY][HEAVY])] == pytest.approx(
            [i / 10 for i in _ids(request)]
        )


def test_one_cell_per_distinct_combination_of_slice_values():
    views = _views()
    cells = {key: [_ids(cell) for cell in rest] for key, (_, *rest) in views.items()}
    assert sorted(map(sorted, cells[_key(b"r1")])) == [[0, 6], [2], [8]]
    assert sorted(map(sorted, cells[_key(b"r2")])) == [[1], [5], [7]]
    assert sorted(map(sorted, cells[NO_REQUEST])) == [[3], [4]]


def test_a_cell_holds_the_slice_values_of_each_of_its_candidates():
    for _, *cells in _views().values():
        for cell in cells:
            assert set(cell[FEATURES]) == {SOURCE, TOPICS}  # no request key, no heavy score
            for i in _ids(cell):
                assert cell[FEATURES][SOURCE].tolist() == [SOURCES[i]]
                assert cell[FEATURES][TOPICS].tolist() == TOPIC_ROWS[i]
                assert cell[TRANSFORMED][BUCKET].tolist() == [BUCKETS[i]]


def test_tfma_slices_each_cell_as_each_of_its_candidates():
    per_candidate = _candidate_slice_keys()
    assert any(len(keys) > 4 for keys in per_candidate)  # varlen topics: several slices per spec
    for _, *cells in _views().values():
        for cell in cells:
            sliced = _slice_keys(cell)
            for i in _ids(cell):
                assert sliced == per_candidate[i], i


def test_tfma_slices_a_request_view_as_tfma_slices_a_query():
    """TFMA slices a query by the union of its candidates' slice keys, crosses included."""
    per_candidate = _candidate_slice_keys()
    for request, *_ in _views().values():
        assert _slice_keys(request) == set().union(*(per_candidate[i] for i in _ids(request)))
    # r1's (topics, bucket) are ([3], 0), ([3, 4], 0), ([3], 0), ([3], 1): no (4, 1) cross.
    (request, *_) = _views()[_key(b"r1")]
    assert ((TOPICS, 4), (BUCKET, 1)) not in _slice_keys(request)
    assert ((TOPICS, 4), (BUCKET, 0)) in _slice_keys(request)


def test_a_request_view_with_a_variable_length_transformed_slice_feature_is_sliced():
    batch = _batch()
    batch[TRANSFORMED][BUCKET] = _varlen([[b] for b in BUCKETS[:-1]] + [[0, 1]], np.int64)
    specs = [tfma.SlicingSpec(feature_keys=[BUCKET])]
    plan = ViewPlan(TRACE, {TRACE, HEAVY}, {BUCKET}, specs)
    per_candidate = [_slice_keys(extracts, specs) for extracts in util.split_extracts(batch)]
    for key, part in _requests(batch, plan).items():
        request, *_ = plan.views_of_request(key, part)
        assert _slice_keys(request, specs) == set().union(*(per_candidate[i] for i in _ids(request)))


def test_without_a_request_key_there_are_only_cells():
    plan = ViewPlan(None, {HEAVY}, {SOURCE, TOPICS, BUCKET})
    (views,) = _views(plan=plan).values()
    assert all(view[VIEW_KEY] == CANDIDATES for view in views)
    assert sorted(i for view in views for i in _ids(view)) == list(range(9))
    assert sorted(map(sorted, map(_ids, views))) == [[0, 6, 7], [1], [2], [3], [4], [5], [8]]


def test_an_empty_request_gives_no_views():
    part = take(PLAN.prune(_batch())[0], np.zeros(0, dtype=int))
    assert list(PLAN.views_of_request("x", part)) == []


def test_the_plan_of_an_eval_config_keeps_the_request_key_and_heavy_score():
    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="label")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[SOURCE, BUCKET])],
        metrics_specs=light_ranking_metrics_specs(TRACE, HEAVY),
    )
    plan = view_plan(config)
    assert plan.request_key == TRACE
    assert {TRACE, HEAVY} <= plan.candidate_features
    assert plan.slice_features == {SOURCE, BUCKET}
    assert not plan.candidate_features & plan.slice_features


def _cell(source: bytes, ids: list[int], bucket: int = 0) -> dict:
    n = len(ids)
    return {
        VIEW_KEY: CANDIDATES,
        FEATURES: {SOURCE: np.array([source], dtype=object), TOPICS: np.array([3, 4])},
        TRANSFORMED: {BUCKET: np.array([bucket])},
        LABELS: np.ones((n, 1)),
        WEIGHTS: np.ones((n, 1)),
        PREDICTIONS: (np.array(ids) / 100).reshape(-1, 1),
    }


def _flushed(batches: CellBatches) -> list[dict]:
    flushed = list(batches.finish_bundle())
    assert all(isinstance(value, WindowedValue) for value in flushed)
    return [value.value for value in flushed]


def test_cell_batches_merge_cells_of_one_signature_up_to_a_size():
    batches = CellBatches(max_candidates=5)
    batches.start_bundle()
    request = {VIEW_KEY: REQUEST, REQUEST_ID_KEY: "r", PREDICTIONS: np.zeros((3, 1))}
    a1, b1, a2, b_other, a3 = (
        _cell(b"a", [0, 1]),
        _cell(b"b", [2]),
        _cell(b"a", [3, 4]),
        _cell(b"b", [5], 1),
        _cell(b"a", [6, 7]),
    )
    emitted = []
    for extracts in (a1, b1, request, a2, b_other, a3):
        emitted.extend(batches.process(extracts))
    assert emitted[0] is request  # passed on at once, unchanged
    (merged,) = emitted[1:]  # the third "a" cell reached 6 >= 5 candidates
    assert _ids(merged) == [0, 1, 3, 4, 6, 7] and merged[LABELS].shape == (6, 1)
    assert merged[FEATURES][SOURCE].tolist() == [b"a"] and merged[TRANSFORMED][BUCKET].tolist() == [0]
    assert _ids(a1) == [0, 1]  # the merged cells are untouched
    rest = _flushed(batches)
    assert sorted(_ids(cell) for cell in rest) == [[2], [5]]  # equal sources, different buckets
    assert _flushed(batches) == []


def test_cell_batches_pass_a_large_cell_at_once_and_start_each_bundle_empty():
    batches = CellBatches(max_candidates=2)
    batches.start_bundle()
    big = _cell(b"a", [0, 1, 2])
    (passed,) = batches.process(big)
    assert passed is big
    assert list(batches.process(_cell(b"a", [3]))) == []
    batches.start_bundle()
    assert _flushed(batches) == []
    assert pickle.loads(pickle.dumps(CellBatches(7)))._max_candidates == 7


def test_merged_cells_are_sliced_as_each_of_their_candidates():
    """The whole chain, as the Beam stage runs it: split, group, join, views, merge."""
    batches = [_batch([0, 1, 2, 3, 4]), _batch([5, 6, 7, 8])]
    grouped = defaultdict(list)
    for batch in batches:
        for key, part in PLAN.split_batch(batch):
            grouped[key].append(part)
    merger = CellBatches(max_candidates=1000)
    merger.start_bundle()
    out = [v for key, parts in grouped.items() for view in PLAN.views_of_request(key, join_parts(parts))
           for v in merger.process(view)]  # fmt: skip
    out += _flushed(merger)
    requests = [view for view in out if view[VIEW_KEY] == REQUEST]
    cells = [view for view in out if view[VIEW_KEY] == CANDIDATES]
    assert sorted(view[REQUEST_ID_KEY] for view in requests) == sorted([_key(b"r1"), _key(b"r2"), NO_REQUEST])
    assert sorted(i for view in requests for i in _ids(view)) == list(range(9))
    assert sorted(i for cell in cells for i in _ids(cell)) == list(range(9))
    assert sorted(map(sorted, map(_ids, cells))) == [[0, 6, 7], [1], [2], [3], [4], [5], [8]]  # 7 is r2's
    per_candidate = _candidate_slice_keys()
    for cell in cells:
        sliced = _slice_keys(cell)
        assert all(sliced == per_candidate[i] for i in _ids(cell))


def test_a_request_spanning_batches_where_one_lacks_a_column_is_joined():
    """TFXIO without a schema leaves out a column no candidate of a batch holds."""
    first = _requests(_batch([0, 2]))[_key(b"r1")]
    second_batch = _batch([6, 8])
    del second_batch[FEATURES][HEAVY], second_batch[FEATURES][TOPICS]
    second = _requests(second_batch)[_key(b"r1")]
    joined = join_parts([first, second])
    assert _ids(joined) == [0, 2, 6, 8]
    assert _per_candidate(joined[FEATURES][HEAVY]) == [(0.0,), (pytest.approx(0.2),), (), ()]
    assert _per_candidate(joined[FEATURES][TOPICS]) == [(3,), (3, 4), (), ()]
    request, *cells = PLAN.views_of_request(_key(b"r1"), joined)
    assert [len(row) for row in request[REQUEST_FEATURES_KEY][HEAVY]] == [1, 1, 0, 0]  # counted as missing
    assert sorted(i for cell in cells for i in _ids(cell)) == [0, 2, 6, 8]
    # Candidates without topics fall into no topics slice, as TFMA slices them one by one.
    for cell in cells:
        if set(_ids(cell)) <= {6, 8}:
            assert not any(TOPICS in dict(key) for key in _slice_keys(cell))
