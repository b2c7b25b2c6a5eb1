"""Push requests: who is notified, with how many candidates, from which sources.

A request is one refresh of one user's push pipeline (docs/model.md, Serving context): every
candidate that survived pre-ranking is logged with the request's trace id. Sizes
are heavy-tailed (lognormal around 200, clipped to [20, 1000]) because candidate
sources return very different volumes per user, and the source mix is tilted per
user: few followings mean few in-network tweets, new accounts get more follow
recommendations.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lightrank.pipeline.sample import features as feat
from lightrank.pipeline.sample.hashing import obfuscate_ids
from lightrank.pipeline.sample.population import Population, draw_from_cdf

MIN_CANDIDATES = 20
MAX_CANDIDATES = 1000
MEDIAN_CANDIDATES = 195.0
CANDIDATES_LOG_SIGMA = 0.6
#: Dirichlet concentration of a request's source mix around `features.SOURCE_SHARES`.
SOURCE_MIX_CONCENTRATION = 25.0


@dataclasses.dataclass(frozen=True)
class Requests:
    """Request-level draws of one chunk, one entry per request."""

    trace_ids: np.ndarray  # int64, unique, positive
    user: np.ndarray  # dense user index
    sizes: np.ndarray  # candidates per request
    source_cdf: np.ndarray  # [requests, len(SOURCES)] cumulative source mix

    @property
    def num_candidates(self) -> int:
        """Rows in this chunk."""
        return int(self.sizes.sum())


def draw_requests(population: Population, rng: np.random.Generator, first_index: int, count: int) -> Requests:
    """Draw `count` requests numbered `first_index`, `first_index + 1`, ...

    Args:
        population: The seed's users and authors.
        rng: The chunk's random stream.
        first_index: Global number of the first request (its trace id is a keyed hash of it).
        count: How many requests.

    Returns:
        The chunk's requests.
    """
    users = population.users
    user = draw_from_cdf(rng, users.request_cdf, count)
    raw_sizes = rng.lognormal(np.log(MEDIAN_CANDIDATES), CANDIDATES_LOG_SIGMA, count)
    sizes = np.clip(np.rint(raw_sizes), MIN_CANDIDATES, MAX_CANDIDATES).astype(np.int64)
    mix = rng.dirichlet(feat.SOURCE_SHARES * SOURCE_MIX_CONCENTRATION, count)
    mix[:, feat.IN_NETWORK] *= np.minimum(1.0, (users.num_followings[user] + 10.0) / 100.0)
    mix[:, feat.FOLLOW_REC] *= 1.0 + 2.0 * np.exp(-users.account_age_days[user] / 60.0)
    source_cdf = np.cumsum(mix, axis=1)
    source_cdf /= source_cdf[:, -1:]
    trace_ids = obfuscate_ids(np.arange(first_index, first_index + count), population.trace_id_key)
    return Requests(trace_ids=trace_ids, user=user, sizes=sizes, source_cdf=source_cdf)


def draw_sources(requests: Requests, rng: np.random.Generator) -> np.ndarray:
    """Each candidate's source index, drawn from its request's mix; rows grouped by request."""
    cdf = np.repeat(requests.source_cdf, requests.sizes, axis=0)
    draws = rng.random(requests.num_candidates)
    return np.minimum((cdf < draws[:, None]).sum(axis=1), len(feat.SOURCES) - 1)
