"""The fixed population behind every request: users, authors, topics and their latents.

The population depends on the seed only, never on how many requests are drawn,
so a user or author keeps the same features, ids and hidden tastes in every chunk
of requests. Hidden quantities (taste vectors, open propensity, author quality,
author language, topic interests) are what the heavy-ranker teacher sees and the
light ranker has to infer from logged features and hashed ids.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lightrank.pipeline.sample import features as feat
from lightrank.pipeline.sample.hashing import KEY_HIGH, KEY_LOW, obfuscate_ids

NUM_USERS = 200_000
NUM_AUTHORS = 60_000
TASTE_DIM = 8
INTERESTS_PER_USER = 5
#: A topic tweet lists its own topic plus up to all of its author's, within the 4-id valency.
MAX_AUTHOR_TOPICS = feat.MAX_TOPICS_PER_CANDIDATE - 1
#: Entropy suffix of the population's random stream; chunk streams use `[seed, chunk]`.
_POPULATION_STREAM = (0x5EED, 1)


@dataclasses.dataclass(frozen=True)
class Users:
    """Per-user arrays, indexed by dense user index."""

    ids: np.ndarray  # int64 obfuscated ids
    country: np.ndarray  # index into features.COUNTRY_CODES
    language: np.ndarray  # index into features.LANGUAGES
    device: np.ndarray  # index into features.DEVICES
    account_age_days: np.ndarray
    days_active_28d: np.ndarray
    num_followings: np.ndarray
    pushes_received_28d: np.ndarray  # hidden; zero means no open rate is logged
    push_opens_28d: np.ndarray
    open_logit: np.ndarray  # hidden propensity to open a push
    taste: np.ndarray  # hidden [users, TASTE_DIM]
    interests: np.ndarray  # hidden [users, INTERESTS_PER_USER] topic ids
    interest_strength: np.ndarray  # hidden [users, INTERESTS_PER_USER] in (0, 1)
    request_cdf: np.ndarray  # who gets push requests: active users more often


@dataclasses.dataclass(frozen=True)
class Authors:
    """Per-author arrays, indexed by popularity rank (0 = most popular)."""

    ids: np.ndarray
    followers: np.ndarray
    language: np.ndarray  # hidden
    quality: np.ndarray  # hidden content appeal, ~N(0, 1)
    media_rate: np.ndarray  # hidden share of tweets with media
    topics: np.ndarray  # [authors, MAX_AUTHOR_TOPICS] topic ids
    num_topics: np.ndarray  # 1..MAX_AUTHOR_TOPICS valid entries in `topics`
    taste: np.ndarray  # hidden [authors, TASTE_DIM]
    popularity_cdf: np.ndarray  # Zipf-like candidate draw
    trend_cdf: np.ndarray  # trends concentrate on the head of the popularity curve


@dataclasses.dataclass(frozen=True)
class Population:
    """Everything drawn once per seed."""

    users: Users
    authors: Authors
    trace_id_key: int
    pair_salt: int


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=np.float64)
    return cdf / cdf[-1]


def draw_from_cdf(rng: np.random.Generator, cdf: np.ndarray, size: int | tuple[int, ...]) -> np.ndarray:
    """Inverse-CDF sampling; O(log n) per draw, unlike `rng.choice(p=...)` which rebuilds the CDF."""
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), cdf.size - 1)


def _zipf_weights(count: int, exponent: float, offset: float) -> np.ndarray:
    return (np.arange(count) + offset) ** -exponent


def _taste(rng: np.random.Generator, language: np.ndarray, language_axes: np.ndarray) -> np.ndarray:
    # Language dominates the taste, so user-author affinity is partly a language match that a model
    # can recover from `user.language` and the author id; the rest is individual and stays hidden.
    noise = rng.normal(size=(language.size, TASTE_DIM)) / np.sqrt(TASTE_DIM)
    return 0.8 * language_axes[language] + 0.6 * noise


def _draw_languages(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(feat.language_given_country(), axis=1)
    return np.minimum((cdf[country] < rng.random(country.size)[:, None]).sum(axis=1), len(feat.LANGUAGES) - 1)


def _draw_users(
    rng: np.random.Generator, language_axes: np.ndarray, topic_cdf: np.ndarray, id_key: int
) -> Users:
    n = NUM_USERS
    country = draw_from_cdf(rng, _cdf(feat.country_shares()), n)
    language = _draw_languages(rng, country)
    device = draw_from_cdf(rng, _cdf(feat.DEVICE_SHARES), n)
    is_new = rng.random(n) < 0.06
    age = np.where(
        is_new, rng.uniform(0.0, 30.0, n), np.clip(rng.lognormal(np.log(1400.0), 0.7, n), 30, 6200)
    )
    age = np.floor(age)
    activity = rng.beta(1.3, 1.0, n)
    days_active = rng.binomial(np.minimum(28, age + 1).astype(np.int64), activity).astype(np.float64)
    followings = rng.lognormal(np.log(180.0), 1.0, n) * np.minimum(1.0, (age + 5.0) / 90.0)
    followings = np.floor(np.minimum(followings, 7500.0))
    open_logit = rng.normal(-2.3, 0.8, n)
    expected_pushes = (0.7 * days_active + 0.3) * np.minimum(1.0, age / 7.0)
    received = rng.poisson(expected_pushes)
    opens = rng.binomial(received, 1.0 / (1.0 + np.exp(-open_logit)))
    interests = draw_from_cdf(rng, topic_cdf, (n, INTERESTS_PER_USER))
    return Users(
        ids=obfuscate_ids(np.arange(n), id_key),
        country=country,
        language=language,
        device=device,
        account_age_days=age,
        days_active_28d=days_active,
        num_followings=followings,
        pushes_received_28d=received.astype(np.float64),
        push_opens_28d=opens.astype(np.float64),
        open_logit=open_logit,
        taste=_taste(rng, language, language_axes),
        interests=interests,
        interest_strength=rng.beta(2.0, 2.0, (n, INTERESTS_PER_USER)),
        request_cdf=_cdf(0.2 + days_active / 28.0),
    )


def _draw_authors(
    rng: np.random.Generator, language_axes: np.ndarray, topic_cdf: np.ndarray, id_key: int
) -> Authors:
    n = NUM_AUTHORS
    rank = np.arange(n, dtype=np.float64)
    log_followers = 6.7 - 4.0 * np.log(rank + 1.0) / np.log(n) + rng.normal(0.0, 0.25, n)
    language = _draw_languages(rng, draw_from_cdf(rng, _cdf(feat.country_shares()), n))
    return Authors(
        ids=obfuscate_ids(np.arange(n), id_key),
        followers=np.floor(10.0**log_followers),
        language=language,
        quality=rng.normal(0.0, 1.0, n),
        media_rate=rng.beta(2.0, 3.0, n),
        topics=draw_from_cdf(rng, topic_cdf, (n, MAX_AUTHOR_TOPICS)),
        num_topics=rng.integers(1, MAX_AUTHOR_TOPICS + 1, n),
        taste=_taste(rng, language, language_axes),
        popularity_cdf=_cdf(_zipf_weights(n, 0.85, 20.0)),
        trend_cdf=_cdf(_zipf_weights(n, 1.6, 5.0)),
    )


def build_population(seed: int) -> Population:
    """Draw the population for `seed` (about 0.3 s; ~60 MB).

    Args:
        seed: The data set's seed, in [0, 2**32).

    Returns:
        The users, authors and the keys that obfuscate ids and salt per-pair draws.
    """
    rng = np.random.default_rng([seed, *_POPULATION_STREAM])
    language_axes = rng.normal(size=(len(feat.LANGUAGES), TASTE_DIM))
    language_axes /= np.linalg.norm(language_axes, axis=1, keepdims=True)
    topic_cdf = _cdf(_zipf_weights(feat.NUM_TOPICS, 0.8, 1.0)[rng.permutation(feat.NUM_TOPICS)])
    user_key, author_key, trace_id_key = (int(k) for k in rng.integers(KEY_LOW, KEY_HIGH, 3))
    pair_salt = int(rng.integers(0, 1 << 62))
    return Population(
        users=_draw_users(rng, language_axes, topic_cdf, user_key),
        authors=_draw_authors(rng, language_axes, topic_cdf, author_key),
        trace_id_key=trace_id_key,
        pair_salt=pair_salt,
    )
