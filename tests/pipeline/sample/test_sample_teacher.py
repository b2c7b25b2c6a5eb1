from __future__ import annotations

import numpy as np
import pytest

from lightrank.pipeline.sample import features as feat
from lightrank.pipeline.sample.candidates import Candidates, draw_candidates
from lightrank.pipeline.sample.population import Population, build_population
from lightrank.pipeline.sample.requests import draw_requests, draw_sources
from lightrank.pipeline.sample.teacher import heavy_scores, rank_positions, send_labels


@pytest.fixture(scope="module")
def population() -> Population:
    return build_population(3)


@pytest.fixture(scope="module")
def scored(population: Population) -> tuple[Candidates, np.ndarray]:
    rng = np.random.default_rng([3, 0])
    requests = draw_requests(population, rng, 0, 64)
    cand = draw_candidates(population, requests, draw_sources(requests, rng), rng)
    return cand, heavy_scores(population, cand, rng)


def test_rank_positions_hand_computed_with_ties() -> None:
    scores = np.array([0.2, 0.5, 0.2, 0.9, 0.3, 0.3], dtype=np.float32)
    request = np.array([0, 0, 0, 0, 1, 1])
    positions = rank_positions(scores, request, np.array([4, 2]))
    # Request 0: 0.9 (row 3), 0.5 (row 1), then the tied 0.2s in row order; request 1: a tie.
    assert positions.tolist() == [2, 1, 3, 0, 0, 1]


def test_send_labels_only_the_top_and_only_above_threshold() -> None:
    rng = np.random.default_rng(0)
    tops = 1000
    scores = np.tile(np.array([1.0, 0.99, 0.0, 0.9], dtype=np.float32), tops)
    positions = np.tile(np.array([0, 1, 0, 1]), tops)
    sent = send_labels(scores, positions, rng).reshape(tops, 4)
    assert sent[:, [1, 3]].sum() == 0  # never below the top
    assert sent[:, 2].sum() == 0  # a zero score never clears the threshold
    assert sent[:, 0].mean() > 0.99  # a certain open is almost always sent


def test_heavy_scores_are_float32_probabilities(scored: tuple[Candidates, np.ndarray]) -> None:
    _, scores = scored
    assert scores.dtype == np.float32
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert 0.02 <= scores.mean() <= 0.1


def test_teacher_rewards_affinity_and_in_network(scored: tuple[Candidates, np.ndarray]) -> None:
    cand, scores = scored
    in_network = cand.source == feat.IN_NETWORK
    out_of_network = cand.source == feat.OUT_OF_NETWORK
    assert scores[in_network].mean() > 1.5 * scores[out_of_network].mean()
    logit = np.log(scores[in_network]) - np.log1p(-scores[in_network])
    assert np.corrcoef(cand.real_graph_score[in_network], logit)[0, 1] > 0.2


def test_teacher_depends_on_the_author_beyond_logged_features(
    population: Population, scored: tuple[Candidates, np.ndarray]
) -> None:
    # The hidden author quality (learnable only through the hashed author id) moves the score.
    cand, scores = scored
    quality = population.authors.quality[cand.author]
    logit = np.log(scores) - np.log1p(-scores)
    assert np.corrcoef(quality, logit)[0, 1] > 0.2
