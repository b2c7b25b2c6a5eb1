from __future__ import annotations

import numpy as np
import pytest

from lightrank.pipeline.sample.hashing import KEY_HIGH, KEY_LOW, MAX_INDEX, mix63, obfuscate_ids, pair_uniform

KEY = KEY_LOW + 987_654_321


def test_mix63_is_injective_and_stays_in_63_bits() -> None:
    out = mix63(np.arange(200_000), KEY)
    assert np.unique(out).size == 200_000
    assert int(out.max()) < 2**63


def test_mix63_without_key_fixes_zero_and_scrambles_neighbours() -> None:
    assert mix63(np.array([0]), 0)[0] == 0
    neighbours = mix63(np.array([1, 2]), 0)
    assert abs(int(neighbours[0]) - int(neighbours[1])) > 2**40


def test_obfuscated_ids_are_distinct_positive_int64() -> None:
    ids = obfuscate_ids(np.arange(200_000), KEY)
    assert ids.dtype == np.int64
    assert ids.min() > 0
    assert np.unique(ids).size == ids.size
    assert np.array_equal(ids, obfuscate_ids(np.arange(200_000), KEY))
    assert not np.array_equal(ids[:10], obfuscate_ids(np.arange(10), KEY + 1))


def test_obfuscate_ids_checks_its_preconditions() -> None:
    with pytest.raises(ValueError, match="key"):
        obfuscate_ids(np.arange(3), KEY_HIGH)
    with pytest.raises(ValueError, match="indices"):
        obfuscate_ids(np.array([-1]), KEY)
    with pytest.raises(ValueError, match="indices"):
        obfuscate_ids(np.array([MAX_INDEX - 1]), KEY)


def test_pair_uniform_is_a_function_of_the_pair() -> None:
    users = np.array([3, 3, 4, 3])
    authors = np.array([7, 8, 7, 7])
    draws = pair_uniform(users, authors, salt=11)
    assert draws[0] == draws[3]
    assert len({draws[0], draws[1], draws[2]}) == 3
    assert draws[0] != pair_uniform(users, authors, salt=12)[0]


def test_pair_uniform_is_uniform_on_the_open_interval() -> None:
    draws = pair_uniform(np.arange(100_000) % 997, np.arange(100_000) // 997, salt=5)
    assert draws.min() > 0.0 and draws.max() < 1.0
    assert abs(draws.mean() - 0.5) < 0.01
    assert np.histogram(draws, bins=10, range=(0, 1))[0].min() > 9_000
