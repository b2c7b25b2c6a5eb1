"""Recall of the heavy top 3 in the light top 10, per request, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lightrank_bench.quality_recall import recall_at


def test_recall_of_the_heavy_top_3_in_the_light_top_10_is_averaged_over_requests() -> None:
    heavy = np.arange(24, 0, -1, dtype=float)  # request 0 holds candidates 0..11, request 1 12..23
    keys = np.repeat([7, 9], 12)
    light = heavy.copy()
    light[[0, 12, 13]] = -1.0  # request 0 loses one of its heavy top 3 from the light top 10, request 1 two
    assert recall_at(light, heavy, keys) == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert recall_at(heavy, heavy, keys) == 1.0
    with pytest.raises(ValueError, match="equally long"):
        recall_at(light[:3], heavy, keys)
