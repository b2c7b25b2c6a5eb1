"""Who plays which part: the request key, the labels, the weight and the heavy score.

A flag names a role outright and is checked against the statistics; without it the role is
guessed from names (whole words of the feature name: `ref_rank`, `heavyRank` and `meta.weight`
have the words rank, rank and weight) and statistics, and every guess says why, so a person can
confirm it in the summary rather than find it in a model that learned the wrong label. A role
that cannot be guessed stops the command with the flag to pass. Some features are set aside as
inputs (`ignore` in the feature spec), each with its reason: timestamp-like INTs (as hashed ids
every value is new), multi-valued FLOATs (a continuous input is one value) and FLOATs beyond
the 1e15 the preflight allows a continuous input.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Sequence

from lightrank.errors import shorten
from lightrank.pipeline.record_scan import MAX_CONTINUOUS_MAGNITUDE
from lightrank.pipeline.schema_infer import SchemaInferError
from lightrank.pipeline.schema_infer.statistics import DataStats, FeatureFacts

#: Substrings of a request key's name, in order of preference.
REQUEST_KEY_WORDS = ("request", "query", "trace", "session", "group", "qid")
#: Words of a label's name (besides any word starting with `label`, and `is_top`).
LABEL_WORDS = ("clicked", "click", "clicks", "sent", "relevance", "relevant")
#: Words of the weight's name (the heavy ranker's rank position), in order of preference.
WEIGHT_WORDS = ("weight", "weights", "position", "pos", "rank", "ranks")
#: Words that make a score the heavy (reference) ranker's rather than any score.
HEAVY_WORDS = ("heavy", "ref", "reference", "teacher", "ranker", "ranking", "model")
#: Words of a timestamp's name.
TIME_WORDS = ("ts", "time", "timestamp", "timestamps", "datetime", "epoch")


@dataclasses.dataclass(frozen=True)
class Role:
    """One feature in one role, and why it has it.

    Attributes:
        name: The feature.
        why: `given by --label`, or the guess's reason, e.g. `guessed: name contains 'query'`.
        guessed: Whether no flag named it.
        others: Other features the guess could have taken, best first.
    """

    name: str
    why: str
    guessed: bool
    others: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Roles:
    """Every role, plus the features set aside and those that only look like labels."""

    request_key: Role
    labels: tuple[Role, ...]
    weight: Role
    heavy_score: Role
    ignored: tuple[Role, ...]
    label_like: tuple[str, ...]

    @property
    def tasks(self) -> dict[str, str]:
        """Task name -> label feature: the label's name as an identifier (`label.sent` -> `label_sent`)."""
        tasks: dict[str, str] = {}
        for role in self.labels:
            base = re.sub(r"[^A-Za-z0-9]+", "_", role.name).strip("_") or "label"
            base = base if base[0].isalpha() else f"label_{base}"
            task, n = base, 1
            while task in tasks:
                n += 1
                task = f"{base}_{n}"
            tasks[task] = role.name
        return tasks

    @property
    def reserved(self) -> frozenset[str]:
        """Features the feature spec names explicitly: never model inputs."""
        names = {self.request_key.name, self.weight.name, self.heavy_score.name}
        return frozenset(names | {role.name for role in self.labels})


def words(name: str) -> tuple[str, ...]:
    """The lower-case words of a feature name: split at non-alphanumerics and camelCase humps."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return tuple(word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word)


def _request_word(facts: FeatureFacts) -> str | None:
    return next((word for word in REQUEST_KEY_WORDS if word in facts.name.lower()), None)


def _label_word(facts: FeatureFacts) -> str | None:
    lower = facts.name.lower()
    if "is_top" in lower or "istop" in lower:
        return "is_top"
    for word in words(facts.name):
        if word in LABEL_WORDS:
            return word
        if word.startswith("label"):
            return "label"
    return None


def _weight_word(facts: FeatureFacts) -> str | None:
    found = [word for word in WEIGHT_WORDS if word in words(facts.name)]
    if not found and any(word.endswith("rank") for word in words(facts.name)):
        found = ["rank"]
    return found[0] if found else None


def _heavy(facts: FeatureFacts) -> str | None:
    return next((word for word in words(facts.name) if word in HEAVY_WORDS), None)


def _is_score(facts: FeatureFacts) -> bool:
    return any("score" in word for word in words(facts.name))


def _score_words(facts: FeatureFacts) -> str:
    heavy = _heavy(facts)
    return "'score'" + (f" and {heavy!r}" if heavy else "")


def _closest(name: str, stats: DataStats) -> str:
    names = list(stats.features)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    return f"closest: {', '.join(close)}" if close else f"features: {shorten(', '.join(names), 200)}"


def _given(flag: str, name: str, stats: DataStats, check: Callable[[FeatureFacts], str | None]) -> Role:
    """A role named by a flag: it must be in the data and pass `check` (which returns a problem)."""
    facts = stats.features.get(name)
    if facts is None:
        raise SchemaInferError(f"{flag} {name!r}: no such feature in the data; {_closest(name, stats)}")
    problem = check(facts)
    if problem:
        raise SchemaInferError(f"{flag} {name!r}: {problem}")
    return Role(name, f"given by {flag}", guessed=False)


def _guess(what: str, flag: str, candidates: Sequence[tuple[tuple, FeatureFacts, str]], rule: str) -> Role:
    """The best candidate (lowest sort key), or a one-line error naming the flag to pass.

    Each candidate is (sort key, facts, the words of its name that made it one, e.g. `'rank'`).
    """
    if not candidates:
        raise SchemaInferError(f"could not guess the {what}: no feature is {rule}; pass {flag} NAME")
    ranked = sorted(candidates, key=lambda c: (c[0], c[1].name))
    _, facts, found = ranked[0]
    others = tuple(c[1].name for c in ranked[1:])
    return Role(facts.name, f"guessed: name contains {found}", guessed=True, others=others)


def _key_problem(facts: FeatureFacts) -> str | None:
    if facts.kind not in ("INT", "BYTES") or not facts.scalar or not facts.always_present:
        return (
            f"a request key must be an INT or BYTES feature with one value in every example (requests "
            f"are split by it); this one is {facts.describe()}"
        )
    return None


def _label_problem(facts: FeatureFacts) -> str | None:
    if not facts.numeric or facts.max_values > 1:
        return f"a label must be one FLOAT or INT value; this one is {facts.describe()}"
    if not facts.in_unit_interval:
        where = "no value" if facts.minimum is None else f"values in [{facts.minimum:g}, {facts.maximum:g}]"
        return f"label has {where}; a label must lie in [0, 1] (the loss is a sigmoid cross entropy)"
    return None


def _number_problem(facts: FeatureFacts) -> str | None:
    if not facts.numeric or facts.max_values > 1:
        return f"must be one FLOAT or INT value per example; this one is {facts.describe()}"
    return None


def _labels(names: Sequence[str], stats: DataStats) -> tuple[Role, ...]:
    if names:
        return tuple(_given("--label", name, stats, _label_problem) for name in dict.fromkeys(names))
    order = ("label", "clicked", "click", "clicks", "sent", "is_top", "relevance", "relevant")
    found = [(f, _label_word(f)) for f in stats.features.values()]
    fitting = sorted(
        ((order.index(word), facts.name), facts, word)
        for facts, word in found
        if word and not _label_problem(facts)
    )
    if not fitting:
        raise SchemaInferError(
            "could not guess a label: no FLOAT or INT feature with values in [0, 1] is named like "
            "label*, clicked, click, sent, *is_top* or relevance; pass --label NAME"
        )
    return tuple(
        Role(facts.name, f"guessed: name contains {word!r}, values in [0, 1]", True)
        for _, facts, word in fitting
    )


def choose_roles(
    stats: DataStats,
    request_key: str | None,
    labels: Sequence[str],
    weight: str | None,
    heavy_score: str | None,
) -> Roles:
    """Every role, from the flags where given and guessed from the statistics otherwise.

    Raises:
        SchemaInferError: A named feature is not in the data (with the closest names), does not
            fit its role (a label outside [0, 1], a request key not present once everywhere),
            plays two roles it cannot, or a role cannot be guessed (naming the flag to pass).
    """
    label_roles = _labels(labels, stats)
    label_names = {role.name for role in label_roles}
    features = list(stats.features.values())
    if request_key is not None:
        key = _given("--request-key", request_key, stats, _key_problem)
    else:
        key = _guess(
            "request key",
            "--request-key",
            [
                ((REQUEST_KEY_WORDS.index(word), f.distinct == 1), f, repr(word))
                for f in features
                if f.kind == "INT" and f.name not in label_names and not _key_problem(f)
                and (word := _request_word(f))
            ],
            f"an always-present INT scalar named like {', '.join(REQUEST_KEY_WORDS)}",
        )  # fmt: skip
    if key.name in label_names:
        raise SchemaInferError(f"{key.name!r} cannot be both the request key and a label")
    if weight is not None:
        weight_role = _given("--weight", weight, stats, _number_problem)
    else:
        weight_role = _guess(
            "example weight (the heavy ranker's rank position)",
            "--weight",
            [
                ((WEIGHT_WORDS.index(word) // 2, not f.always_present), f, repr(word))
                for f in features
                if f.name not in label_names | {key.name} and not _number_problem(f) and not _is_score(f)
                and f.minimum is not None and f.minimum >= 0 and (word := _weight_word(f))
            ],
            "a FLOAT or INT scalar >= 0 named like weight, position or rank",
        )  # fmt: skip
    if heavy_score is not None:
        score = _given("--heavy-score", heavy_score, stats, _number_problem)
    else:
        score = _guess(
            "heavy score (the heavy ranker's score)",
            "--heavy-score",
            [
                ((_heavy(f) is None, f.name in label_names, f.kind != "FLOAT"), f, _score_words(f))
                for f in features
                if f.name not in {key.name, weight_role.name} and not _number_problem(f) and _is_score(f)
            ],
            "a FLOAT or INT scalar named like *score*",
        )  # fmt: skip
    if len({key.name, weight_role.name, score.name}) < 3 or weight_role.name in label_names:
        raise SchemaInferError(
            f"the request key ({key.name!r}), the weight ({weight_role.name!r}) and the heavy score "
            f"({score.name!r}) must be three features, and the weight no label"
        )
    reserved = {key.name, weight_role.name, score.name} | label_names
    ignored = tuple(
        Role(f.name, reason, guessed=True)
        for f in features
        if f.name not in reserved and (reason := _ignore_reason(f))
    )
    label_like = tuple(f.name for f in features if f.name not in reserved and _label_word(f))
    return Roles(key, label_roles, weight_role, score, ignored, label_like)


def _ignore_reason(facts: FeatureFacts) -> str | None:
    """Why a feature that has no role must not be a model input, or None."""
    time_word = next((w for w in words(facts.name) if w in TIME_WORDS or w.startswith("timestamp")), None)
    if facts.kind == "INT" and time_word:
        return f"timestamp-like INT (name contains {time_word!r})"
    if facts.kind == "FLOAT" and facts.max_values > 1:
        return f"FLOAT with up to {facts.max_values} values: a continuous input is one value"
    big = [abs(v) for v in (facts.minimum, facts.maximum) if v is not None and math.isfinite(v)]
    if facts.kind == "FLOAT" and big and max(big) > MAX_CONTINUOUS_MAGNITUDE:
        return (
            f"FLOAT values up to {max(big):.3g}, beyond +-{MAX_CONTINUOUS_MAGNITUDE:.0e}: float32 "
            "z-scoring would flatten every other value"
        )
    return None
