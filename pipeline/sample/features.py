"""The sample data's feature contract: names, value types and vocabularies.

One place names every feature the generator writes, so the encoder, the curated
schema (`schema/sample/schema.pbtxt`) and the tests cannot drift apart. The names
follow the legacy light ranker's DataRecord naming (`user.*`, `candidate.*`,
`meta.*`, `label.*`) because the pipeline's feature spec selects model inputs by
regex over these prefixes (docs/configuration.md, The feature spec).
"""

from __future__ import annotations

import enum

import numpy as np


class ValueKind(enum.Enum):
    """The tf.Example list a feature is stored in."""

    FLOAT = "float"
    INT = "int"
    BYTES = "bytes"


# ---- names --------------------------------------------------------------------------------------
USER_ID = "user.id"
USER_ACCOUNT_AGE_DAYS = "user.account_age_days"
USER_DAYS_ACTIVE_28D = "user.days_active_28d"
USER_PUSH_OPENS_28D = "user.push_opens_28d"
USER_PUSH_OPEN_RATE_28D = "user.push_open_rate_28d"
USER_NUM_FOLLOWINGS = "user.num_followings"
USER_DEVICE = "user.device"
USER_COUNTRY = "user.country"
USER_LANGUAGE = "user.language"

CANDIDATE_SOURCE = "candidate.source"
CANDIDATE_AUTHOR_ID = "candidate.author_id"
CANDIDATE_AUTHOR_FOLLOWERS = "candidate.author_followers"
CANDIDATE_TWEET_AGE_MINUTES = "candidate.tweet_age_minutes"
CANDIDATE_LIKES_1H = "candidate.likes_1h"
CANDIDATE_RETWEETS_1H = "candidate.retweets_1h"
CANDIDATE_REPLIES_1H = "candidate.replies_1h"
CANDIDATE_REAL_GRAPH_SCORE = "candidate.real_graph_score"
CANDIDATE_AUTHOR_ENGAGEMENTS_28D = "candidate.author_engagements_28d"
CANDIDATE_TOPIC_IDS = "candidate.topic_ids"
CANDIDATE_TOPIC_SCORE = "candidate.topic_score"
CANDIDATE_TREND_SCORE = "candidate.trend_score"
CANDIDATE_HAS_MEDIA = "candidate.has_media"

META_TRACE_ID = "meta.trace_id"
META_WEIGHT = "meta.weight"
META_HEAVY_SCORE = "meta.ranking.weighted_oonc_model_score"
META_IS_TOP3 = "meta.ranking.is_top3"
LABEL_SENT = "label.sent"

#: Every feature and its value kind, in the column order the encoder writes.
FEATURE_KINDS: dict[str, ValueKind] = {
    META_TRACE_ID: ValueKind.INT,
    USER_ID: ValueKind.INT,
    USER_ACCOUNT_AGE_DAYS: ValueKind.FLOAT,
    USER_DAYS_ACTIVE_28D: ValueKind.FLOAT,
    USER_PUSH_OPENS_28D: ValueKind.FLOAT,
    USER_PUSH_OPEN_RATE_28D: ValueKind.FLOAT,
    USER_NUM_FOLLOWINGS: ValueKind.FLOAT,
    USER_DEVICE: ValueKind.BYTES,
    USER_COUNTRY: ValueKind.BYTES,
    USER_LANGUAGE: ValueKind.BYTES,
    CANDIDATE_SOURCE: ValueKind.BYTES,
    CANDIDATE_AUTHOR_ID: ValueKind.INT,
    CANDIDATE_AUTHOR_FOLLOWERS: ValueKind.FLOAT,
    CANDIDATE_TWEET_AGE_MINUTES: ValueKind.FLOAT,
    CANDIDATE_LIKES_1H: ValueKind.FLOAT,
    CANDIDATE_RETWEETS_1H: ValueKind.FLOAT,
    CANDIDATE_REPLIES_1H: ValueKind.FLOAT,
    CANDIDATE_REAL_GRAPH_SCORE: ValueKind.FLOAT,
    CANDIDATE_AUTHOR_ENGAGEMENTS_28D: ValueKind.FLOAT,
    CANDIDATE_TOPIC_IDS: ValueKind.INT,
    CANDIDATE_TOPIC_SCORE: ValueKind.FLOAT,
    CANDIDATE_TREND_SCORE: ValueKind.FLOAT,
    CANDIDATE_HAS_MEDIA: ValueKind.INT,
    META_WEIGHT: ValueKind.FLOAT,
    META_HEAVY_SCORE: ValueKind.FLOAT,
    META_IS_TOP3: ValueKind.INT,
    LABEL_SENT: ValueKind.INT,
}

#: Logged float features that occasionally carry NaN / +Inf (hydration glitches in the logs).
CORRUPTIBLE_FLOATS: tuple[str, ...] = (
    CANDIDATE_AUTHOR_FOLLOWERS,
    CANDIDATE_TWEET_AGE_MINUTES,
    CANDIDATE_LIKES_1H,
    CANDIDATE_RETWEETS_1H,
    CANDIDATE_REPLIES_1H,
    CANDIDATE_REAL_GRAPH_SCORE,
)
NAN_RATE = 0.001
POS_INF_RATE = 0.0002

# ---- vocabularies -------------------------------------------------------------------------------
#: Candidate sources and their share of an average request's candidates (skewed mix).
SOURCES: tuple[str, ...] = (
    "in_network_tweet",
    "out_of_network_tweet",
    "topic_tweet",
    "trend_tweet",
    "follow_recommendation",
)
SOURCE_SHARES = np.array([0.38, 0.32, 0.12, 0.08, 0.10])
IN_NETWORK, OUT_OF_NETWORK, TOPIC, TREND, FOLLOW_REC = range(len(SOURCES))

DEVICES: tuple[str, ...] = ("ios", "android", "web")
DEVICE_SHARES = np.array([0.42, 0.48, 0.10])
IOS, ANDROID, WEB = range(len(DEVICES))

LANGUAGES: tuple[str, ...] = ("en", "ja", "es", "pt", "hi", "id", "ar", "tr", "fr", "de")

#: Country code, share of users, and its language mix (the rest of the mass goes to "en").
COUNTRIES: tuple[tuple[str, float, dict[str, float]], ...] = (
    ("US", 0.280, {"en": 0.90, "es": 0.10}),
    ("JP", 0.120, {"ja": 0.97}),
    ("IN", 0.090, {"hi": 0.35}),
    ("GB", 0.060, {"en": 1.00}),
    ("BR", 0.060, {"pt": 0.95}),
    ("ID", 0.045, {"id": 0.90}),
    ("MX", 0.035, {"es": 0.95}),
    ("TR", 0.030, {"tr": 0.95}),
    ("ES", 0.030, {"es": 0.92}),
    ("FR", 0.030, {"fr": 0.95}),
    ("DE", 0.025, {"de": 0.85}),
    ("SA", 0.025, {"ar": 0.85}),
    ("CA", 0.025, {"en": 0.78, "fr": 0.22}),
    ("AR", 0.020, {"es": 0.96}),
    ("PH", 0.020, {"en": 1.00}),
    ("NG", 0.015, {"en": 1.00}),
    ("EG", 0.015, {"ar": 0.90}),
    ("AU", 0.015, {"en": 1.00}),
    ("CO", 0.015, {"es": 0.96}),
    ("AE", 0.015, {"ar": 0.50}),
)
COUNTRY_CODES: tuple[str, ...] = tuple(code for code, _, _ in COUNTRIES)

NUM_TOPICS = 2000
MAX_TOPICS_PER_CANDIDATE = 4


def country_shares() -> np.ndarray:
    """Normalised user share per country, in `COUNTRY_CODES` order."""
    shares = np.array([share for _, share, _ in COUNTRIES])
    return shares / shares.sum()


def language_given_country() -> np.ndarray:
    """Row-stochastic `[country, language]` matrix; unassigned mass means English."""
    matrix = np.zeros((len(COUNTRIES), len(LANGUAGES)))
    english = LANGUAGES.index("en")
    for row, (_, _, mix) in enumerate(COUNTRIES):
        for language, share in mix.items():
            matrix[row, LANGUAGES.index(language)] += share
        matrix[row, english] += 1.0 - matrix[row].sum()
    return matrix
