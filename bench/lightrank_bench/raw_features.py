"""LightGBM's input from the raw features the model reads: floats as they are, ids as categories.

The fair comparator must see what the model sees. The model gets every continuous (FLOAT) feature
and every sparse (INT or BYTES) feature of the feature spec, ids included, hashed into embeddings;
a LightGBM that sees only the floats loses exactly the signal ids carry (the catalog data set puts
most of its signal there). Each kind goes in the form LightGBM handles natively:

- A continuous feature is one numeric column, its first value as it is, NaN when absent: LightGBM
  learns at every split which side missing values go to, so no marker is needed.
- A single-valued id is one categorical column. LightGBM wants dense codes from 0, so each value
  seen in at least `MIN_CATEGORY_COUNT` fit candidates gets a code, most frequent first, at most
  `MAX_CATEGORIES` of them; every other value, and every value first seen in eval, shares the next
  code. That shared code is learned on train's rare values, which is what an unseen eval value is
  most like; NaN is kept for an absent id. LightGBM leaves a category seen fewer than `cat_smooth`
  (10) times out of every split search anyway, and the cap with a per-feature `max_bin` to match
  (`gbdt.train_lightgbm_early_stopped`) keeps it from silently dropping categories of its own.
- A multi-valued feature (more than one value in some fit candidate, e.g. a tag list) becomes
  `MULTI_HOT_TOP_K` 0/1 columns for its most frequent values plus a count of its values. The
  columns are mostly zero; LightGBM bundles such mutually exclusive sparse columns itself.

The early-stopping slice is `EARLY_STOP_FRACTION` of the train requests, whole requests chosen by
request key with a fixed seed (`early_stopping_mask`): eval is never looked at, and the slice's
requests are as unseen to the trees as eval's are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from lightrank_bench.errors import BenchInputError
from lightrank_bench.raw_examples import RaggedColumn

#: A value needs this many fit candidates for a category or a multi-hot column of its own.
MIN_CATEGORY_COUNT = 10
#: Most categories one id feature gets (the rest share the rare code).
MAX_CATEGORIES = 1000
#: Multi-hot columns per multi-valued feature: its most frequent values.
MULTI_HOT_TOP_K = 64
#: Share of train requests held out for early stopping.
EARLY_STOP_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Kept values of one feature and their codes (0 = most frequent).

    Attributes:
        values: `[K]` the kept values, sorted (for `searchsorted`).
        codes: `[K]` the code of each of `values`.
    """

    values: np.ndarray
    codes: np.ndarray

    @property
    def size(self) -> int:
        """Number of kept values; as a categorical code, the rare-or-unseen code."""
        return int(self.values.size)

    @classmethod
    def most_frequent(cls, values: np.ndarray, limit: int, min_count: int) -> Vocabulary:
        """The `limit` most frequent `values` seen at least `min_count` times (ties: smaller value first)."""
        unique, counts = np.unique(values, return_counts=True)
        order = np.lexsort((np.arange(unique.size), -counts))  # by count descending, then value
        kept = order[counts[order] >= min_count][:limit]
        sorted_kept = np.sort(kept)  # `unique` is sorted, so sorted indices keep values sorted
        codes = np.empty(unique.size, np.int64)
        codes[kept] = np.arange(kept.size)
        return cls(unique[sorted_kept], codes[sorted_kept])

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """`[N]` the code of each value, -1 for values not kept."""
        if self.size == 0 or values.size == 0:
            return np.full(values.size, -1, np.int64)
        index = np.minimum(np.searchsorted(self.values, values), self.size - 1)
        return np.where(self.values[index] == values, self.codes[index], -1)


@dataclasses.dataclass(frozen=True)
class RawFeatureEncoder:
    """The raw features as LightGBM columns, learned on the fit candidates (`fit`), applied to any split.

    Attributes:
        continuous: Continuous features, one numeric column each.
        categorical: Single-valued id feature -> its vocabulary, one categorical column each.
        multi_hot: Multi-valued feature -> its multi-hot values, a count column and one column each.
    """

    continuous: tuple[str, ...]
    categorical: Mapping[str, Vocabulary]
    multi_hot: Mapping[str, Vocabulary]

    @classmethod
    def fit(
        cls, columns: Mapping[str, RaggedColumn], continuous: tuple[str, ...], ids: tuple[str, ...]
    ) -> RawFeatureEncoder:
        """Codes and multi-hot values from the fit candidates.

        Args:
            columns: The fit candidates' raw columns (`raw_examples.read_raw_split`).
            continuous: The feature spec's continuous features.
            ids: The feature spec's sparse features (INT and BYTES).
        """
        categorical, multi_hot = {}, {}
        for name in ids:
            column = columns[name]
            many = bool(column.lengths.size) and column.lengths.max() > 1
            kept = Vocabulary.most_frequent(column.values, MULTI_HOT_TOP_K if many else MAX_CATEGORIES,
                                            MIN_CATEGORY_COUNT)  # fmt: skip
            (multi_hot if many else categorical)[name] = kept
        return cls(tuple(continuous), categorical, multi_hot)

    @property
    def column_names(self) -> list[str]:
        """The matrix's column names, in order: continuous, categorical, then each multi-hot block."""
        names = [*self.continuous, *self.categorical]
        for name, vocabulary in self.multi_hot.items():
            names += [f"{name}:count", *(f"{name}={value!r}" for value in _by_code(vocabulary))]
        return names

    @property
    def categorical_indices(self) -> list[int]:
        """Column indices of the categorical features."""
        return list(range(len(self.continuous), len(self.continuous) + len(self.categorical)))

    @property
    def category_counts(self) -> list[int]:
        """Codes of each categorical column, the shared rare-or-unseen code included."""
        return [vocabulary.size + 1 for vocabulary in self.categorical.values()]

    def matrix(self, columns: Mapping[str, RaggedColumn]) -> np.ndarray:
        """`[N, C]` float32 LightGBM input of a split's raw columns.

        Raises:
            BenchInputError: If the columns disagree on the number of candidates.
        """
        rows = {column.row_splits.size - 1 for column in columns.values()}
        if len(rows) != 1:
            raise BenchInputError(f"raw columns of different lengths {sorted(rows)}")
        count = rows.pop()
        matrix = np.full((count, len(self.column_names)), np.nan, dtype=np.float32)
        for index, name in enumerate(self.continuous):
            matrix[:, index] = columns[name].first(np.nan).astype(np.float32)
        for index, (name, vocabulary) in enumerate(self.categorical.items(), start=len(self.continuous)):
            column = columns[name]
            present = column.lengths > 0
            codes = vocabulary.lookup(column.values[column.row_splits[:-1][present]])
            matrix[present, index] = np.where(codes >= 0, codes, vocabulary.size)
        offset = len(self.continuous) + len(self.categorical)
        for name, vocabulary in self.multi_hot.items():
            column = columns[name]
            block = matrix[:, offset : offset + 1 + vocabulary.size]
            block[:] = 0.0
            block[:, 0] = column.lengths
            codes = vocabulary.lookup(column.values)
            value_rows = np.repeat(np.arange(count), column.lengths)
            block[value_rows[codes >= 0], 1 + codes[codes >= 0]] = 1.0
            offset += 1 + vocabulary.size
        return matrix

    def describe(self) -> str:
        """One line on what the columns are, for the table."""
        parts = [f"{len(self.continuous)} continuous features as they are (NaN when absent)"]
        if self.categorical:
            ids = ", ".join(f"`{name}` {vocabulary.size}" for name, vocabulary in self.categorical.items())
            parts.append(f"{len(self.categorical)} ids as categorical features, values with a code of their "
                         f"own ({ids}; the rest and unseen ones share one more code)")  # fmt: skip
        for name, vocabulary in self.multi_hot.items():
            parts.append(f"`{name}` multi-hot over its {vocabulary.size} most frequent values, and its count")
        return "; ".join(parts)


def _by_code(vocabulary: Vocabulary) -> np.ndarray:
    """The kept values in code order."""
    return vocabulary.values[np.argsort(vocabulary.codes)]


def early_stopping_mask(
    request_keys: np.ndarray, fraction: float = EARLY_STOP_FRACTION, seed: int = 0
) -> np.ndarray:
    """`[N]` True for the candidates of the train requests held out for early stopping.

    `round(fraction * requests)` requests, at least one, drawn by a seeded permutation of the sorted
    distinct keys: the same split gives the same slice, and a request is never divided.

    Raises:
        BenchInputError: If there are fewer than 2 requests (nothing would be left to train on).
    """
    keys = np.asarray(request_keys).reshape(-1)
    unique = np.unique(keys)
    if unique.size < 2:
        raise BenchInputError(f"early stopping needs at least 2 train requests; got {unique.size}")
    held_out = max(1, min(unique.size - 1, round(fraction * unique.size)))
    chosen = np.random.default_rng(seed).permutation(unique)[:held_out]
    return np.isin(keys, chosen)
