"""Hashing sparse feature values into the light ranker's `2**input_size_bits` buckets.

Any stable hash into `2**18` buckets with binary (value-insensitive) semantics is faithful
unless legacy DataRecords or weights are reused (docs/model.md, Inputs and hashing); the
original keeps the low bits of a 64-bit key (`limit_bits(v, n) = v & (2**n - 1)`). The key
here depends on the feature as well as the value, so `user.id=7` and `candidate.author_id=7`
land in different buckets:

    key(feature, value) = splitmix64(v XOR salt(feature)) & (2**bits - 1)

where `v` is the int64 value itself for INT features and the 64-bit FarmHash fingerprint of
the bytes (`tf.strings.to_hash_bucket_fast`) for BYTES features, and `salt(feature)` is the
first 8 bytes of BLAKE2b over the feature name. splitmix64's finaliser mixes every input bit
into the low bits, which is what makes keeping only the low bits safe.

Why not hash a `"<feature>=<value>"` string per value: formatting each integer as text, joining
and hashing it costs three string ops per feature and value; this costs one fingerprint per
BYTES value and a dozen element-wise integer ops over all values of all features at once, the
largest cost of a serving request after parsing (BENCHMARKS.md). The function is the same in
the Transform graph and at serving, and `hash_key` below is its pure-Python reference.
"""

from __future__ import annotations

import hashlib

import tensorflow as tf

_MASK64 = (1 << 64) - 1
#: splitmix64's finaliser constants (Steele, Lea and Flood 2014), as signed int64.
_MUL1 = 0xBF58476D1CE4E5B9 - (1 << 64)
_MUL2 = 0x94D049BB133111EB - (1 << 64)


def feature_salt(name: str) -> int:
    """The signed int64 salt of a feature name: BLAKE2b-64 of its UTF-8 bytes, little-endian."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _shift_right(x: tf.Tensor, bits: int) -> tf.Tensor:
    """Logical right shift of int64 bits (TF's int64 shift is arithmetic, so go through uint64)."""
    shifted = tf.bitwise.right_shift(tf.bitcast(x, tf.uint64), tf.constant(bits, tf.uint64))
    return tf.bitcast(shifted, tf.int64)


def splitmix64(z: tf.Tensor) -> tf.Tensor:
    """splitmix64's finaliser on int64 tensors (int64 multiplication wraps like uint64)."""
    z = tf.bitwise.bitwise_xor(z, _shift_right(z, 30)) * tf.constant(_MUL1, tf.int64)
    z = tf.bitwise.bitwise_xor(z, _shift_right(z, 27)) * tf.constant(_MUL2, tf.int64)
    return tf.bitwise.bitwise_xor(z, _shift_right(z, 31))


def string_fingerprint(values: tf.Tensor) -> tf.Tensor:
    """A 63-bit fingerprint of each string, the int64 `v` that BYTES values are hashed from."""
    return tf.strings.to_hash_bucket_fast(values, 2**63 - 1)


def bucket_ids(values: tf.Tensor, salts: tf.Tensor, input_size_bits: int) -> tf.Tensor:
    """Buckets of int64 `values`, each hashed with the int64 salt of its feature (same shape).

    Args:
        values: int64 values (INT features) or fingerprints (BYTES features).
        salts: int64 salts, one per value (`feature_salt` of the value's feature).
        input_size_bits: The table has `2**input_size_bits` rows.

    Returns:
        int64 bucket ids in `[0, 2**input_size_bits)`.
    """
    mixed = splitmix64(tf.bitwise.bitwise_xor(values, salts))
    return tf.bitwise.bitwise_and(mixed, tf.constant(2**input_size_bits - 1, tf.int64))


def hash_key(feature: str, value: int | bytes | str, input_size_bits: int) -> int:
    """Pure-Python reference of the bucket of one value (tests and offline tools).

    Args:
        feature: The feature name.
        value: An int (INT feature) or bytes/str (BYTES feature).
        input_size_bits: The table has `2**input_size_bits` rows.
    """
    if isinstance(value, (bytes, str)):
        data = value.encode("utf-8") if isinstance(value, str) else value
        value = int(string_fingerprint(tf.constant([data])).numpy()[0])
    z = (value ^ feature_salt(feature)) & _MASK64
    z = ((z ^ (z >> 30)) * (_MUL1 & _MASK64)) & _MASK64
    z = ((z ^ (z >> 27)) * (_MUL2 & _MASK64)) & _MASK64
    z ^= z >> 31
    return z & ((1 << input_size_bits) - 1)
