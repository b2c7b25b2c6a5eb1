"""One chunk of requests end to end: draw, score, label, corrupt, lay out as columns.

Chunks are the unit of randomness: chunk `c` of seed `s` always draws its
`CHUNK_REQUESTS` requests from `np.random.default_rng([s, c])`, whatever the
total size, the shard count or the chunk's position in the output. A short last
chunk is drawn in full and cut, so the first k requests of a data set are the
same for every total size.
"""

from __future__ import annotations

import numpy as np

from lightrank.pipeline.sample import features as feat
from lightrank.pipeline.sample.candidates import Candidates, draw_candidates
from lightrank.pipeline.sample.encoding import Columns
from lightrank.pipeline.sample.population import Population
from lightrank.pipeline.sample.requests import Requests, draw_requests, draw_sources
from lightrank.pipeline.sample.teacher import heavy_scores, rank_positions, send_labels

#: Requests per chunk (about 14k examples): big enough for vectorised encoding, small in memory.
CHUNK_REQUESTS = 64

_VOCABULARIES = {
    feat.USER_DEVICE: feat.DEVICES,
    feat.USER_COUNTRY: feat.COUNTRY_CODES,
    feat.USER_LANGUAGE: feat.LANGUAGES,
    feat.CANDIDATE_SOURCE: feat.SOURCES,
}


def _corrupt(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Rare logging glitches: NaN and +Inf in some hydrated floats, independent per feature and row.
    draw = rng.random(values.size)
    out = values.copy()
    out[draw < feat.NAN_RATE] = np.nan
    out[(draw >= feat.NAN_RATE) & (draw < feat.NAN_RATE + feat.POS_INF_RATE)] = np.inf
    return out


def _columns(
    population: Population,
    requests: Requests,
    cand: Candidates,
    scores: np.ndarray,
    positions: np.ndarray,
    sent: np.ndarray,
    rng: np.random.Generator,
) -> Columns:
    users, authors = population.users, population.authors
    user = cand.user
    values: dict[str, np.ndarray] = {
        feat.META_TRACE_ID: requests.trace_ids[cand.request],
        feat.USER_ID: users.ids[user],
        feat.USER_ACCOUNT_AGE_DAYS: users.account_age_days[user],
        feat.USER_DAYS_ACTIVE_28D: users.days_active_28d[user],
        feat.USER_PUSH_OPENS_28D: users.push_opens_28d[user],
        feat.USER_PUSH_OPEN_RATE_28D: users.push_opens_28d[user]
        / np.maximum(users.pushes_received_28d[user], 1.0),
        feat.USER_NUM_FOLLOWINGS: users.num_followings[user],
        feat.USER_DEVICE: users.device[user],
        feat.USER_COUNTRY: users.country[user],
        feat.USER_LANGUAGE: users.language[user],
        feat.CANDIDATE_SOURCE: cand.source,
        feat.CANDIDATE_AUTHOR_ID: authors.ids[cand.author],
        feat.CANDIDATE_AUTHOR_FOLLOWERS: authors.followers[cand.author],
        feat.CANDIDATE_TWEET_AGE_MINUTES: cand.tweet_age_minutes,
        feat.CANDIDATE_LIKES_1H: cand.likes_1h,
        feat.CANDIDATE_RETWEETS_1H: cand.retweets_1h,
        feat.CANDIDATE_REPLIES_1H: cand.replies_1h,
        feat.CANDIDATE_REAL_GRAPH_SCORE: cand.real_graph_score,
        feat.CANDIDATE_AUTHOR_ENGAGEMENTS_28D: cand.author_engagements_28d,
        feat.CANDIDATE_TOPIC_IDS: cand.topic_slots[cand.topic_valid],
        feat.CANDIDATE_TOPIC_SCORE: cand.topic_score,
        feat.CANDIDATE_TREND_SCORE: cand.trend_score,
        feat.CANDIDATE_HAS_MEDIA: cand.has_media,
        feat.META_WEIGHT: positions.astype(np.float64),
        feat.META_HEAVY_SCORE: scores,
        feat.META_IS_TOP3: (positions < 3).astype(np.int64),
        feat.LABEL_SENT: sent,
    }
    for name in feat.CORRUPTIBLE_FLOATS:
        values[name] = _corrupt(values[name], rng)
    tweet = cand.is_tweet
    present = {
        feat.USER_PUSH_OPEN_RATE_28D: users.pushes_received_28d[user] > 0,
        feat.CANDIDATE_TWEET_AGE_MINUTES: tweet,
        feat.CANDIDATE_LIKES_1H: tweet,
        feat.CANDIDATE_RETWEETS_1H: tweet,
        feat.CANDIDATE_REPLIES_1H: tweet,
        feat.CANDIDATE_HAS_MEDIA: tweet,
        feat.CANDIDATE_REAL_GRAPH_SCORE: cand.has_affinity,
        feat.CANDIDATE_AUTHOR_ENGAGEMENTS_28D: cand.has_affinity,
        feat.CANDIDATE_TOPIC_SCORE: cand.source == feat.TOPIC,
        feat.CANDIDATE_TREND_SCORE: cand.source == feat.TREND,
    }
    return Columns(
        num_rows=user.size,
        values=values,
        present=present,
        lengths={feat.CANDIDATE_TOPIC_IDS: cand.topic_valid.sum(axis=1)},
        vocabularies=dict(_VOCABULARIES),
    )


def _head(columns: Columns, rows: int) -> Columns:
    """The first `rows` examples of `columns`."""
    values = {}
    for name, column in columns.values.items():
        if name in columns.lengths:
            values[name] = column[: int(columns.lengths[name][:rows].sum())]
        else:
            values[name] = column[:rows]
    return Columns(
        num_rows=rows,
        values=values,
        present={name: mask[:rows] for name, mask in columns.present.items()},
        lengths={name: lengths[:rows] for name, lengths in columns.lengths.items()},
        vocabularies=columns.vocabularies,
    )


def generate_chunk(
    population: Population, seed: int, chunk_index: int, keep: int
) -> tuple[Columns, np.ndarray]:
    """Generate chunk `chunk_index` and keep its first `keep` requests.

    Args:
        population: `build_population(seed)`.
        seed: The data set's seed.
        chunk_index: Which chunk; its requests are numbered from `chunk_index * CHUNK_REQUESTS`.
        keep: Requests to keep, 1..CHUNK_REQUESTS.

    Returns:
        The kept rows as columns (grouped by request, in request order) and the candidate count
        of each kept request.
    """
    if not 1 <= keep <= CHUNK_REQUESTS:
        raise ValueError(f"keep must be in [1, {CHUNK_REQUESTS}], got {keep}")
    rng = np.random.default_rng([seed, chunk_index])
    requests = draw_requests(population, rng, chunk_index * CHUNK_REQUESTS, CHUNK_REQUESTS)
    cand = draw_candidates(population, requests, draw_sources(requests, rng), rng)
    scores = heavy_scores(population, cand, rng)
    positions = rank_positions(scores, cand.request, requests.sizes)
    sent = send_labels(scores, positions, rng)
    columns = _columns(population, requests, cand, scores, positions, sent, rng)
    if keep < CHUNK_REQUESTS:
        columns = _head(columns, int(requests.sizes[:keep].sum()))
    return columns, requests.sizes[:keep]
