"""The catalog data set: a second ranking data set, shaped like a user's own logs would be.

The sample data mimics the push light ranker's logs (`user.*`, `candidate.*`, `meta.*`). The
"bring your own data" docs, their end-to-end test and the quality benchmark need data that does
*not* follow those conventions, so nothing can silently depend on them: plain feature names, a
request key and timestamp, large random viewer and item ids, a multi-valued tag list, a price
that is sometimes missing, a reference ranker's score and rank, and two labels.

The signal is built so that ids matter. The click logit is mostly a hidden viewer x item affinity
(a dot product of latent factors), plus the item's hidden quality, the viewer's hidden click
propensity and the item's popularity, and only a little the logged continuous features. A model
that learns from `viewer_id` and `item_id` therefore beats one that sees only the floats. The
last `EVAL_FRACTION` of requests in time form the eval split, with a higher base click rate and
drifted item popularity: the prior shift that a real time split has too.

This module draws the data (the catalog once per seed, then requests chunk by chunk);
`catalog_writer` encodes and writes it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lightrank.pipeline.sample.encoding import Columns
from lightrank.pipeline.sample.features import ValueKind
from lightrank.pipeline.sample.hashing import KEY_HIGH, KEY_LOW, obfuscate_ids
from lightrank.pipeline.sample.population import draw_from_cdf
from lightrank.pipeline.sample.teacher import rank_positions

# ---- the feature contract (docs/sample_data.md, The catalog dataset) -----------------------------
QUERY_ID = "query_id"
TS = "ts"
VIEWER_ID = "viewer_id"
VIEWER_COUNTRY = "viewer_country"
VIEWER_TENURE_DAYS = "viewer_tenure_days"
ITEM_ID = "item_id"
ITEM_CATEGORY = "item_category"
ITEM_TAGS = "item_tags"
ITEM_PRICE = "item_price"
ITEM_AGE_HOURS = "item_age_hours"
ITEM_POPULARITY_7D = "item_popularity_7d"
REF_SCORE = "ref_score"
REF_RANK = "ref_rank"
CLICKED = "clicked"
RELEVANCE = "relevance"

#: Every feature of the catalog data set and its value kind.
FEATURE_KINDS: dict[str, ValueKind] = {
    QUERY_ID: ValueKind.INT,
    TS: ValueKind.INT,
    VIEWER_ID: ValueKind.INT,
    VIEWER_COUNTRY: ValueKind.BYTES,
    VIEWER_TENURE_DAYS: ValueKind.FLOAT,
    ITEM_ID: ValueKind.INT,
    ITEM_CATEGORY: ValueKind.BYTES,
    ITEM_TAGS: ValueKind.BYTES,
    ITEM_PRICE: ValueKind.FLOAT,
    ITEM_AGE_HOURS: ValueKind.FLOAT,
    ITEM_POPULARITY_7D: ValueKind.FLOAT,
    REF_SCORE: ValueKind.FLOAT,
    REF_RANK: ValueKind.INT,
    CLICKED: ValueKind.FLOAT,
    RELEVANCE: ValueKind.FLOAT,
}

# ---- sizes and vocabularies ----------------------------------------------------------------------
NUM_VIEWERS = 2_000
NUM_ITEMS = 20_000
NUM_CATEGORIES = 30
NUM_TAGS = 200
MAX_TAGS = 5
FACTOR_DIM = 8
MIN_CANDIDATES, MAX_CANDIDATES = 30, 120
#: Share of requests, the latest in time, that form the eval split.
EVAL_FRACTION = 0.2
TRAIN, EVAL = 0, 1
#: Requests per chunk (about 4.8k rows): the unit of randomness and of memory.
CHUNK_REQUESTS = 64
COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "FR", "BR", "IN", "JP", "MX")
COUNTRY_SHARES = np.array([0.34, 0.10, 0.10, 0.08, 0.12, 0.14, 0.07, 0.05])
CATEGORIES: tuple[str, ...] = tuple(f"cat{c:02d}" for c in range(NUM_CATEGORIES))
TAGS: tuple[str, ...] = tuple(f"tag{t:03d}" for t in range(NUM_TAGS))
#: Share of items with 0, 1, ..., MAX_TAGS tags.
TAG_COUNT_SHARES = np.array([0.12, 0.20, 0.25, 0.20, 0.13, 0.10])
PRICE_RATE = 0.75
#: Item draw weights are `(popularity rank + 8) ** -POPULARITY_EXPONENT` (Zipf-like).
POPULARITY_EXPONENT = 1.3
#: Request r happens at `FIRST_TS + r * REQUEST_SPACING_S` plus up to one spacing of jitter.
FIRST_TS = 1_700_000_000
REQUEST_SPACING_S = 600
#: Expected 7-day interactions of the most popular item.
TOP_WEEKLY_INTERACTIONS = 40_000.0

# ---- the click model ------------------------------------------------------------------------------
#: Train's base logit; eval adds `EVAL_PRIOR_SHIFT` (about 1.5x the click rate).
CLICK_BIAS = -3.4
EVAL_PRIOR_SHIFT = 0.6
#: Std of the affinity's category part and item-specific part (viewer factors are N(0, 1)).
CATEGORY_AFFINITY = 1.0
ITEM_AFFINITY = 0.7
#: Weights of the item's hidden quality and the viewer's hidden click propensity (both N(0, 1)),
#: and of the item's log popularity (relative to the top item's).
QUALITY_WEIGHT = 0.8
PROPENSITY_WEIGHT = 0.6
POPULARITY_WEIGHT = 0.12
#: Std of the per-item log-popularity drift between the train and the eval period.
POPULARITY_DRIFT_STD = 0.35
#: Logit noise of the reference ranker's estimate, and of the soft `relevance` label.
REF_NOISE_STD = 0.8
RELEVANCE_NOISE_STD = 0.3
_STREAM = 0xCA7A  # entropy tag: the catalog's streams never coincide with the sample's


@dataclasses.dataclass(frozen=True)
class Viewers:
    """Per-viewer arrays, indexed by activity rank (0 = most requests)."""

    ids: np.ndarray  # int64 obfuscated ids
    country: np.ndarray  # index into COUNTRIES
    tenure_days: np.ndarray
    propensity: np.ndarray  # hidden click propensity, ~N(0, 1)
    factors: np.ndarray  # hidden [viewers, FACTOR_DIM]
    request_cdf: np.ndarray  # Zipf-like: a few viewers make many requests


@dataclasses.dataclass(frozen=True)
class Items:
    """Per-item arrays, indexed by train-period popularity rank (0 = most popular)."""

    ids: np.ndarray
    category: np.ndarray  # index into CATEGORIES
    tags: np.ndarray  # [items, MAX_TAGS] indices into TAGS; the first `num_tags` are valid
    num_tags: np.ndarray
    price: np.ndarray
    has_price: np.ndarray
    age_at_start_hours: np.ndarray
    quality: np.ndarray  # hidden, ~N(0, 1)
    factors: np.ndarray  # hidden [items, FACTOR_DIM]
    log_popularity: np.ndarray  # [2, items]: train and eval period, log of the draw weight


@dataclasses.dataclass(frozen=True)
class Catalog:
    """Everything drawn once per seed."""

    viewers: Viewers
    items: Items
    query_id_key: int


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=np.float64)
    return cdf / cdf[-1]


def _gumbel_top(rng: np.random.Generator, logits: np.ndarray, k: int) -> np.ndarray:
    """Per row, `k` distinct column indices drawn without replacement with weights `exp(logits)`."""
    keys = logits + rng.gumbel(size=logits.shape)
    top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def _item_factors(rng: np.random.Generator, centroids: np.ndarray, category: np.ndarray) -> np.ndarray:
    # A viewer's taste times the category centroid is the part of the affinity that a model can learn
    # from viewer_id x item_category; the item's own direction is the part only the pair of ids has.
    noise = rng.normal(size=(category.size, FACTOR_DIM)) / np.sqrt(FACTOR_DIM)
    return CATEGORY_AFFINITY * centroids[category] + ITEM_AFFINITY * noise


def _draw_items(rng: np.random.Generator, centroids: np.ndarray, category_cdf: np.ndarray) -> Items:
    n = NUM_ITEMS
    category = draw_from_cdf(rng, category_cdf, n)
    tag_logits = rng.normal(0.0, 1.5, (NUM_CATEGORIES, NUM_TAGS))  # each category favours some tags
    log_popularity = -POPULARITY_EXPONENT * np.log(np.arange(n) + 8.0)
    drifted = log_popularity + rng.normal(0.0, POPULARITY_DRIFT_STD, n)
    return Items(
        ids=obfuscate_ids(np.arange(n), int(rng.integers(KEY_LOW, KEY_HIGH))),
        category=category,
        tags=_gumbel_top(rng, tag_logits[category], MAX_TAGS),
        num_tags=draw_from_cdf(rng, _cdf(TAG_COUNT_SHARES), n),
        price=np.round(rng.lognormal(np.log(25.0) + 0.25 * (category % 5), 0.8, n), 2),
        has_price=rng.random(n) < PRICE_RATE,
        age_at_start_hours=rng.lognormal(np.log(120.0), 1.2, n),
        quality=rng.normal(0.0, 1.0, n),
        factors=_item_factors(rng, centroids, category),
        log_popularity=np.stack([log_popularity, drifted]),
    )


def build_catalog(seed: int) -> Catalog:
    """Draw the viewers and items for `seed` (about 0.3 s).

    Args:
        seed: The data set's seed, in [0, 2**32).

    Returns:
        The viewers, the items and the key that turns request numbers into query ids.
    """
    rng = np.random.default_rng([seed, _STREAM, 1])
    centroids = rng.normal(size=(NUM_CATEGORIES, FACTOR_DIM))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    category_cdf = _cdf((np.arange(NUM_CATEGORIES) + 3.0) ** -0.8)
    view_key, query_id_key = (int(k) for k in rng.integers(KEY_LOW, KEY_HIGH, 2))
    n = NUM_VIEWERS
    viewers = Viewers(
        ids=obfuscate_ids(np.arange(n), view_key),
        country=draw_from_cdf(rng, _cdf(COUNTRY_SHARES), n),
        tenure_days=np.floor(np.clip(rng.lognormal(np.log(400.0), 1.1, n), 0.0, 5000.0)),
        propensity=rng.normal(0.0, 1.0, n),
        factors=rng.normal(size=(n, FACTOR_DIM)),
        request_cdf=_cdf((np.arange(n) + 2.0) ** -0.9),
    )
    return Catalog(
        viewers=viewers, items=_draw_items(rng, centroids, category_cdf), query_id_key=query_id_key
    )


def split_sizes(requests: int) -> tuple[int, int]:
    """(train, eval) request counts: eval is the last `EVAL_FRACTION`, at least one each.

    Raises:
        ValueError: Fewer than 2 requests (a split would be empty).
    """
    if requests < 2:
        raise ValueError(f"the catalog data set needs at least 2 requests (one per split), got {requests}")
    eval_requests = min(max(1, round(requests * EVAL_FRACTION)), requests - 1)
    return requests - eval_requests, eval_requests


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw_items_per_request(
    catalog: Catalog, rng: np.random.Generator, split: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """Each request's candidate items: distinct, popularity-weighted, in shuffled order."""
    top = _gumbel_top(rng, catalog.items.log_popularity[split], MAX_CANDIDATES)
    return np.concatenate([rng.permutation(row[:size]) for row, size in zip(top, sizes, strict=True)])


def _click_logit(
    catalog: Catalog,
    viewer: np.ndarray,
    item: np.ndarray,
    split: np.ndarray,
    popularity: np.ndarray,
    age_hours: np.ndarray,
) -> np.ndarray:
    """The true click logit of each row: ids-borne terms dominate, logged floats add a little."""
    viewers, items = catalog.viewers, catalog.items
    log_price = np.where(items.has_price[item], np.log(items.price[item] / 25.0), 0.0)
    return (
        CLICK_BIAS
        + EVAL_PRIOR_SHIFT * split
        + np.sum(viewers.factors[viewer] * items.factors[item], axis=1)
        + QUALITY_WEIGHT * items.quality[item]
        + PROPENSITY_WEIGHT * viewers.propensity[viewer]
        + POPULARITY_WEIGHT * popularity
        + 0.15 * np.tanh((np.log1p(viewers.tenure_days[viewer]) - 5.5) / 1.5)
        - 0.15 * np.log1p(age_hours / 24.0)
        - 0.1 * log_price
    )


def generate_chunk(
    catalog: Catalog, seed: int, chunk_index: int, requests: int, train_requests: int
) -> tuple[Columns, np.ndarray, np.ndarray]:
    """Draw chunk `chunk_index` of a data set of `requests` requests, the first `train_requests` train.

    Args:
        catalog: `build_catalog(seed)`.
        seed: The data set's seed; the chunk draws from `default_rng([seed, 0xCA7A, 2, chunk_index])`.
        chunk_index: Which chunk; its requests are numbered from `chunk_index * CHUNK_REQUESTS`.
        requests: Requests in the whole data set (the chunk stops at the last one).
        train_requests: Requests before the eval split starts.

    Returns:
        The rows as columns (grouped by request, in request order), the candidate count of each
        request, and each request's split (`TRAIN` or `EVAL`).
    """
    first = chunk_index * CHUNK_REQUESTS
    if not 0 <= first < requests:
        raise ValueError(f"chunk {chunk_index} starts after the last of {requests} requests")
    rng = np.random.default_rng([seed, _STREAM, 2, chunk_index])
    number = np.arange(first, min(first + CHUNK_REQUESTS, requests))
    split = np.where(number < train_requests, TRAIN, EVAL)
    viewer_of_request = draw_from_cdf(rng, catalog.viewers.request_cdf, number.size)
    sizes = rng.integers(MIN_CANDIDATES, MAX_CANDIDATES + 1, number.size)
    ts_of_request = FIRST_TS + number * REQUEST_SPACING_S + rng.integers(0, REQUEST_SPACING_S, number.size)
    item = _draw_items_per_request(catalog, rng, split, sizes)
    request = np.repeat(np.arange(number.size), sizes)
    viewer, row_split, ts = viewer_of_request[request], split[request], ts_of_request[request]
    viewers, items = catalog.viewers, catalog.items
    # Log popularity relative to the train period's top item: 0 at the head, about -10 in the tail.
    popularity = items.log_popularity[row_split, item] - items.log_popularity[TRAIN, 0]
    age_hours = items.age_at_start_hours[item] + (ts - FIRST_TS) / 3600.0
    logit = _click_logit(catalog, viewer, item, row_split, popularity, age_hours)
    ref_score = _sigmoid(logit + rng.normal(0.0, REF_NOISE_STD, item.size)).astype(np.float32)
    relevance = _sigmoid(logit + rng.normal(0.0, RELEVANCE_NOISE_STD, item.size)).astype(np.float32)
    clicked = (rng.random(item.size) < _sigmoid(logit)).astype(np.float32)
    tag_valid = np.arange(MAX_TAGS) < items.num_tags[item][:, None]
    values = {
        QUERY_ID: obfuscate_ids(number, catalog.query_id_key)[request],
        TS: ts,
        VIEWER_ID: viewers.ids[viewer],
        VIEWER_COUNTRY: viewers.country[viewer],
        VIEWER_TENURE_DAYS: viewers.tenure_days[viewer],
        ITEM_ID: items.ids[item],
        ITEM_CATEGORY: items.category[item],
        ITEM_TAGS: items.tags[item][tag_valid],
        ITEM_PRICE: items.price[item],
        ITEM_AGE_HOURS: age_hours,
        ITEM_POPULARITY_7D: np.log1p(rng.poisson(TOP_WEEKLY_INTERACTIONS * np.exp(popularity))),
        REF_SCORE: ref_score,
        REF_RANK: rank_positions(ref_score, request, sizes),
        CLICKED: clicked,
        RELEVANCE: relevance,
    }
    columns = Columns(
        num_rows=item.size,
        values=values,
        present={ITEM_PRICE: items.has_price[item]},
        lengths={ITEM_TAGS: items.num_tags[item]},
        vocabularies={VIEWER_COUNTRY: COUNTRIES, ITEM_CATEGORY: CATEGORIES, ITEM_TAGS: TAGS},
    )
    return columns, sizes, split
