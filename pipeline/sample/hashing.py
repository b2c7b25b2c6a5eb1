"""Stateless integer hashing: id obfuscation and per-pair pseudo-random draws.

Two needs share one mixer. Ids (`meta.trace_id`, `user.id`, `candidate.author_id`)
must look like real 63-bit ids yet be unique *by construction*, so they are a
keyed bijection of a dense index. And a user-author pair's logged affinity must be
the same every time the pair meets, in whichever chunk, without storing a
users-by-authors table, so its noise is a hash of the pair.
"""

from __future__ import annotations

import numpy as np

_MASK63 = np.uint64((1 << 63) - 1)
_MULTIPLIER_1 = np.uint64(0x3F58476D1CE4E5B9 | 1)
_MULTIPLIER_2 = np.uint64(0x14D049BB133111EB | 1)

#: Keys are drawn from this range so that no index below 2**48 maps to id 0 (see `obfuscate_ids`).
KEY_LOW = 1 << 62
KEY_HIGH = (1 << 63) - (1 << 48)
MAX_INDEX = 1 << 48


def mix63(values: np.ndarray, key: int) -> np.ndarray:
    """A keyed bijection of [0, 2**63) (splitmix-style add, xor-shift and odd multiplies).

    Every step is invertible modulo 2**63, so distinct inputs give distinct outputs.

    Args:
        values: Non-negative integers below 2**63 (any integer dtype).
        key: Added to every value before mixing (taken modulo 2**63).

    Returns:
        uint64 array with values in [0, 2**63).
    """
    x = (np.asarray(values).astype(np.uint64) + np.uint64(key)) & _MASK63
    x ^= x >> np.uint64(31)
    x = (x * _MULTIPLIER_1) & _MASK63
    x ^= x >> np.uint64(29)
    x = (x * _MULTIPLIER_2) & _MASK63
    x ^= x >> np.uint64(32)
    return x


def obfuscate_ids(indices: np.ndarray, key: int) -> np.ndarray:
    """Map dense indices to distinct, positive, random-looking int64 ids.

    `mix63` maps 0 to 0 only when `index + key` is 0 modulo 2**63. With
    `KEY_LOW <= key < KEY_HIGH` that needs `index + 1 >= 2**48`, so ids are positive
    for every index below `MAX_INDEX - 1`.

    Args:
        indices: Dense non-negative indices (user, author or global request number).
        key: A key in [KEY_LOW, KEY_HIGH), normally drawn once per seed.

    Returns:
        int64 ids in [1, 2**63).
    """
    if not KEY_LOW <= key < KEY_HIGH:
        raise ValueError(f"id key {key} outside [{KEY_LOW}, {KEY_HIGH})")
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= MAX_INDEX - 1):
        raise ValueError(f"id indices must lie in [0, {MAX_INDEX - 1})")
    return mix63(idx + 1, key).astype(np.int64)


def pair_uniform(first: np.ndarray, second: np.ndarray, salt: int) -> np.ndarray:
    """A uniform draw in (0, 1) that depends only on the pair `(first, second)` and `salt`.

    Args:
        first: Indices below 2**24 (users).
        second: Indices below 2**24 (authors).
        salt: Distinguishes independent draws for the same pair.

    Returns:
        float64 array in (0, 1), shaped like the broadcast of the inputs.
    """
    packed = (np.asarray(first, dtype=np.uint64) << np.uint64(24)) | np.asarray(second, dtype=np.uint64)
    bits = mix63(packed, salt) >> np.uint64(10)
    return (bits.astype(np.float64) + 0.5) / float(1 << 53)
