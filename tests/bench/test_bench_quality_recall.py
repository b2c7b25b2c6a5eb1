"""Recall of the heavy top 3 in the light top 10, per request, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lightrank_bench.quality_recall import recalls_per_request


def test_recall_of_the_heavy_top_3_in_the_light_top_10_is_one_value_per_request() -> None:
    heavy = np.arange(24, 0, -1, dtype=float)  # request 9 holds candidates 0..11, request 7 12..23
    keys = np.repeat([9, 7], 12)
    light = heavy.copy()
    light[[0, 12, 13]] = -1.0  # request 9 loses one of its heavy top 3 from the light top 10, request 7 two
    # In np.unique order: request 7 first.
    assert recalls_per_request(light, heavy, keys) == pytest.approx([1 / 3, 2 / 3])
    assert recalls_per_request(heavy, heavy, keys) == [1.0, 1.0]
    with pytest.raises(ValueError, match="equally long"):
        recalls_per_request(light[:3], heavy, keys)


def test_a_request_without_any_heavy_score_has_no_value() -> None:
    keys = np.array([1, 1, 2, 2, 2, 2])
    heavy = np.array([0.0, 0.0, 0.4, 0.3, 0.2, 0.1])  # request 1: nothing to recall
    values = recalls_per_request(np.arange(6, dtype=float), heavy, keys, light_n=2, heavy_k=2)
    assert values[0] is None and values[1] == 0.0  # request 2's light top 2 are its heavy bottom 2
