"""One chunk's candidates: authors, tweet activity, affinity and topics, by source.

Each source behaves like its production counterpart:
in-network tweets come from followed accounts (the best taste match of three
popularity draws) and carry the user-author affinity features; out-of-network
tweets are a weaker taste match and carry no affinity; topic tweets come from one
of the user's interest topics and carry a topic score; trend tweets come from the
head of the popularity curve and carry a trend score; follow recommendations are
accounts, not tweets, so they have no tweet features and carry affinity only when
the recommender had a graph signal (80%). Values here are clean (no NaN); the
logging glitches are injected later so the teacher scores what the heavy ranker
saw.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lightrank.pipeline.sample import features as feat
from lightrank.pipeline.sample.hashing import pair_uniform
from lightrank.pipeline.sample.population import (
    INTERESTS_PER_USER,
    MAX_AUTHOR_TOPICS,
    Population,
    draw_from_cdf,
)
from lightrank.pipeline.sample.requests import Requests

#: Popularity draws per candidate from which the best taste match is kept, per source.
_AUTHOR_DRAWS = np.array([3, 2, 1, 1, 3])
_FOLLOW_REC_AFFINITY_RATE = 0.8
#: Share of non-topic candidates whose tweet/account carries topic annotations, per source.
_TOPIC_ANNOTATION_RATE = np.array([0.45, 0.45, 1.0, 0.45, 0.30])
#: Tweet age (minutes): lognormal median and log-sigma per source (follow recommendations unused).
_AGE_MEDIAN = np.array([110.0, 240.0, 600.0, 60.0, 1.0])
_AGE_LOG_SIGMA = np.array([1.0, 0.9, 1.0, 0.8, 0.0])
_MAX_AGE_MINUTES = 7 * 24 * 60.0


@dataclasses.dataclass(frozen=True)
class Candidates:
    """Row-aligned candidate draws of one chunk (rows grouped by request, in request order).

    Tweet fields are meaningful where `source != FOLLOW_REC`; affinity fields where
    `has_affinity`; `topic_score` for topic tweets and `trend_score` for trend tweets.
    """

    request: np.ndarray  # request index within the chunk
    user: np.ndarray
    source: np.ndarray
    author: np.ndarray
    affinity: np.ndarray  # hidden user-author taste match
    has_affinity: np.ndarray
    real_graph_score: np.ndarray
    author_engagements_28d: np.ndarray
    tweet_age_minutes: np.ndarray
    likes_1h: np.ndarray
    retweets_1h: np.ndarray
    replies_1h: np.ndarray
    has_media: np.ndarray
    topic_slots: np.ndarray  # [rows, MAX_TOPICS_PER_CANDIDATE]
    topic_valid: np.ndarray  # [rows, MAX_TOPICS_PER_CANDIDATE], distinct ids, valid slots first
    interest_match: np.ndarray  # hidden: some topic id is one of the user's interests
    topic_score: np.ndarray
    trend_score: np.ndarray

    @property
    def is_tweet(self) -> np.ndarray:
        """Rows that are tweets (and so carry tweet features)."""
        return self.source != feat.FOLLOW_REC


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _choose_authors(
    population: Population, user: np.ndarray, source: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    authors = population.authors
    draws = int(_AUTHOR_DRAWS.max())
    pool = draw_from_cdf(rng, authors.popularity_cdf, (user.size, draws))
    trend_pick = draw_from_cdf(rng, authors.trend_cdf, user.size)
    pool[:, 0] = np.where(source == feat.TREND, trend_pick, pool[:, 0])
    match = np.einsum("nd,nkd->nk", population.users.taste[user], authors.taste[pool])
    usable = np.arange(draws)[None, :] < _AUTHOR_DRAWS[source][:, None]
    best = np.argmax(np.where(usable, match, -np.inf), axis=1)
    rows = np.arange(user.size)
    return pool[rows, best], match[rows, best]


def _affinity_features(
    population: Population, cand: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    # The logged real-graph score is a noisy view of the hidden taste match; its noise is a hash of
    # the (user, author) pair so the same pair logs the same score in every request.
    user, source = cand["user"], cand["source"]
    pair_noise = _logit(pair_uniform(user, cand["author"], population.pair_salt))
    follow_shift = np.where(source == feat.FOLLOW_REC, -1.0, 0.0)
    real_graph = _sigmoid(-1.0 + 3.0 * cand["affinity"] + 0.6 * pair_noise + follow_shift)
    activity = (population.users.days_active_28d[user] + 1.0) / 29.0
    engagements = rng.poisson(12.0 * real_graph**2 * activity).astype(np.float64)
    has_affinity = (source == feat.IN_NETWORK) | (
        (source == feat.FOLLOW_REC) & (rng.random(user.size) < _FOLLOW_REC_AFFINITY_RATE)
    )
    return {
        "real_graph_score": real_graph,
        "author_engagements_28d": engagements,
        "has_affinity": has_affinity,
    }


def _tweet_features(
    population: Population, author: np.ndarray, source: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    authors = population.authors
    n = author.size
    age = np.exp(np.log(_AGE_MEDIAN[source]) + _AGE_LOG_SIGMA[source] * rng.normal(size=n))
    age = np.round(np.clip(age, 1.0, _MAX_AGE_MINUTES), 1)
    trend_boost = np.where(source == feat.TREND, 3.0, 1.0)
    rate = 0.004 * authors.followers[author] ** 0.75 * np.exp(0.5 * authors.quality[author])
    rate *= trend_boost / (1.0 + age / 120.0)
    likes = rng.poisson(rate * rng.gamma(1.2, 1.0 / 1.2, n))
    retweets = rng.poisson(0.15 * likes + 0.02 * rate)
    replies = rng.poisson(0.06 * likes + 0.01 * rate)
    has_media = (rng.random(n) < authors.media_rate[author]).astype(np.int64)
    return {
        "tweet_age_minutes": age,
        "likes_1h": likes.astype(np.float64),
        "retweets_1h": retweets.astype(np.float64),
        "replies_1h": replies.astype(np.float64),
        "has_media": has_media,
    }


def _topic_features(
    population: Population, user: np.ndarray, author: np.ndarray, source: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    users, authors = population.users, population.authors
    n = user.size
    is_topic = source == feat.TOPIC
    interest = rng.integers(0, INTERESTS_PER_USER, n)
    strength = users.interest_strength[user, interest]
    # Topic tweets: the user's interest topic, plus some of the author's topics. Other candidates: the
    # author's topics, sometimes plus one unrelated topic. Duplicates are dropped below.
    author_topics = authors.topics[author]
    author_topic_ok = np.arange(MAX_AUTHOR_TOPICS)[None, :] < authors.num_topics[author][:, None]
    own_topic = users.interests[user, interest][:, None]
    random_topic = rng.integers(0, feat.NUM_TOPICS, (n, 1))
    keep_author_topic = rng.random((n, MAX_AUTHOR_TOPICS)) < 0.5
    extra_topic = rng.random((n, 1)) < 0.3
    slots = np.where(
        is_topic[:, None],
        np.concatenate([own_topic, author_topics], axis=1),
        np.concatenate([author_topics, random_topic], axis=1),
    )
    valid = np.where(
        is_topic[:, None],
        np.concatenate([np.ones((n, 1), dtype=bool), author_topic_ok & keep_author_topic], axis=1),
        np.concatenate([author_topic_ok, extra_topic], axis=1),
    )
    annotated = is_topic | (rng.random(n) < _TOPIC_ANNOTATION_RATE[source])
    valid &= annotated[:, None]
    width = feat.MAX_TOPICS_PER_CANDIDATE
    for j in range(1, width):
        valid[:, j] &= ~((slots[:, :j] == slots[:, j : j + 1]) & valid[:, :j]).any(axis=1)
    # Compact so valid slots come first (flattening then keeps each row's order).
    order = np.argsort(~valid, axis=1, kind="stable")
    slots = np.take_along_axis(slots, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    in_interests = (slots[:, :, None] == users.interests[user][:, None, :]).any(axis=2)
    language_match = users.language[user] == authors.language[author]
    trend_base = _logit(rng.beta(2.0, 4.0, n))
    return {
        "topic_slots": slots,
        "topic_valid": valid,
        "interest_match": (in_interests & valid).any(axis=1),
        "topic_score": _sigmoid(_logit(strength) + rng.normal(0.0, 0.6, n)),
        "trend_score": _sigmoid(trend_base + 0.8 * language_match - 0.4),
    }


def draw_candidates(
    population: Population, requests: Requests, sources: np.ndarray, rng: np.random.Generator
) -> Candidates:
    """Draw every candidate of the chunk's requests.

    Args:
        population: The seed's users and authors.
        requests: The chunk's requests.
        sources: Source index per candidate row (see `requests.draw_sources`).
        rng: The chunk's random stream.

    Returns:
        Clean, row-aligned candidate features and the hidden values the teacher uses.
    """
    request = np.repeat(np.arange(requests.sizes.size), requests.sizes)
    user = requests.user[request]
    author, affinity = _choose_authors(population, user, sources, rng)
    cand = {"request": request, "user": user, "source": sources, "author": author, "affinity": affinity}
    cand |= _affinity_features(population, cand, rng)
    cand |= _tweet_features(population, author, sources, rng)
    cand |= _topic_features(population, user, author, sources, rng)
    return Candidates(**cand)
