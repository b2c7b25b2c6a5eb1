"""The hidden heavy ranker: scores every candidate, ranks each request, decides the send.

The light ranker distils this teacher (docs/model.md, Data contract), so it is built
to be learnable but not trivially: its logit mixes observable features through
non-linear terms and interactions (engagement relative to audience size, media by
device, affinity by activity, follow recommendations for new accounts) with hidden
quantities that a model can only recover indirectly: the user's open propensity
(seen through `user.push_open_rate_28d`), the author's quality (through the
hashed `candidate.author_id` and engagement rates), the user-author taste match
(through `candidate.real_graph_score` where logged, and the language of user and
author), topic interest matches, and per-candidate noise the heavy ranker had
features for but the logs do not.

As in the production ClemNet heavy ranker, the logged score is a weighted mix of
an open-or-ntab-click probability and a cumulative engagement probability:
`0.9 * p_oonc + 0.1 * p_oonc * p_eng_given_open`.
"""

from __future__ import annotations

import numpy as np

from lightrank.pipeline.sample import features as feat
from lightrank.pipeline.sample.candidates import Candidates
from lightrank.pipeline.sample.population import Population

#: Intercept of the open-or-ntab-click logit; sets the mean heavy score near 0.05.
OONC_BIAS = -4.1
#: Per-source offset of the logit (in-network, out-of-network, topic, trend, follow recommendation).
SOURCE_OFFSET = np.array([0.0, -0.25, -0.2, -0.3, -0.6])
#: Media lift per device (ios, android, web).
MEDIA_BY_DEVICE = np.array([0.35, 0.15, -0.3])
#: Std of the teacher's per-candidate logit noise (features the logs never had).
HIDDEN_NOISE_STD = 0.55
#: Task weights of the heavy ranker's score (OONC, engagement): production's defaults
#: (docs/model.md, Data contract).
TASK_WEIGHTS = (0.9, 0.1)
#: A request's top candidate is sent when its score, times lognormal noise, clears this threshold.
SEND_THRESHOLD = 0.35
SEND_NOISE_LOG_SIGMA = 0.35


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def heavy_scores(population: Population, cand: Candidates, rng: np.random.Generator) -> np.ndarray:
    """The heavy ranker's weighted OONC score for every candidate row.

    Args:
        population: The seed's users and authors (hidden quantities included).
        cand: The chunk's clean candidate draws.
        rng: The chunk's random stream (draws the hidden per-candidate noise).

    Returns:
        float32 scores in [0, 1].
    """
    users, authors = population.users, population.authors
    user, author, source = cand.user, cand.author, cand.source
    tweet = cand.is_tweet
    log_followers = np.log1p(authors.followers[author])
    engagement = cand.likes_1h + 2.0 * cand.retweets_1h + 3.0 * cand.replies_1h
    # Engagement relative to what the author's audience size predicts (velocity beats raw counts).
    relative_engagement = np.log1p(engagement) - 0.75 * log_followers + 5.0
    freshness = np.log1p(cand.tweet_age_minutes / 60.0) * np.where(source == feat.TREND, 0.65, 0.35)
    activity = users.days_active_28d[user] / 28.0
    logit = (
        OONC_BIAS
        + 0.9 * (users.open_logit[user] + 2.3)
        + SOURCE_OFFSET[source]
        + 1.6 * cand.affinity
        + 0.7 * authors.quality[author]
        + 0.35 * np.tanh((log_followers / np.log(10.0) - 3.5) / 1.5)
        + np.where(users.device[user] == feat.WEB, -0.3, 0.0)
        + 0.5 * cand.interest_match
        + np.where(cand.has_affinity, 0.6 * cand.real_graph_score * activity, 0.0)
        + np.where(source == feat.FOLLOW_REC, 1.2 * np.exp(-users.account_age_days[user] / 45.0), 0.0)
        + np.where(tweet, 0.5 * np.tanh(relative_engagement) - freshness, 0.0)
        + np.where(tweet, cand.has_media * MEDIA_BY_DEVICE[users.device[user]], 0.0)
        + np.where(source == feat.TOPIC, 2.0 * (cand.topic_score - 0.5), 0.0)
        + np.where(source == feat.TREND, 1.5 * (cand.trend_score - 0.4), 0.0)
        + rng.normal(0.0, HIDDEN_NOISE_STD, user.size)
    )
    engagement_logit = (
        -0.5 + 0.5 * authors.quality[author] + 0.5 * cand.affinity + 0.8 * (cand.has_media * tweet)
    )
    p_open = _sigmoid(logit)
    p_engage = p_open * _sigmoid(engagement_logit)
    oonc_weight, engagement_weight = TASK_WEIGHTS
    score = (oonc_weight * p_open + engagement_weight * p_engage) / (oonc_weight + engagement_weight)
    return np.clip(score, 0.0, 1.0).astype(np.float32)


def rank_positions(scores: np.ndarray, request: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Heavy rank position of each row within its request (0 = top).

    Rows are sorted by descending float32 score, as logged; exact ties go to the
    earlier row of the request, so positions are deterministic and a reader of
    the data can reproduce them from `meta.ranking.weighted_oonc_model_score`.

    Args:
        scores: float32 heavy scores, rows grouped by request.
        request: Request index per row (non-decreasing).
        sizes: Rows per request.

    Returns:
        int64 positions; each request holds exactly 0..size-1.
    """
    rows = np.arange(scores.size)
    order = np.lexsort((rows, -scores, request))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    positions = np.empty(scores.size, dtype=np.int64)
    positions[order] = rows - starts[request[order]]
    return positions


def send_labels(scores: np.ndarray, positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`label.sent`: the top candidate, when its noisy score clears the send threshold.

    Args:
        scores: float32 heavy scores.
        positions: Heavy rank positions from `rank_positions`.
        rng: The chunk's random stream (one draw per request's top candidate).

    Returns:
        int64 0/1 per row; at most one 1 per request, always at position 0.
    """
    top = positions == 0
    noise = np.exp(rng.normal(0.0, SEND_NOISE_LOG_SIGMA, int(top.sum())))
    sent = np.zeros(scores.size, dtype=np.int64)
    sent[top] = (scores[top].astype(np.float64) * noise > SEND_THRESHOLD).astype(np.int64)
    return sent
