"""Counter-based random numbers: Philox4x32-10 and the distributions built on it, in portable
Array-API code.

Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011)
maps a 128-bit counter and a 64-bit key to 128 random bits through ten rounds of multiply-xor.
A random value is therefore a pure function of ``(key, stream, index)``: any block of a stream can
be produced alone, on any backend, with the same bits.

Counter layout (four 32-bit words): ``(block_lo, block_hi, stream, attempt)``. ``attempt`` is 0
except in the rejection step of :func:`random_normal`, which redraws a rejected pair with the same
block and the next attempt number.

Value layout, the contract every backend implements bit for bit:

* ``uniform``, ``normal``, ``integers``, ``sort_keys``: value ``i`` uses block ``i // 2`` and its
  word pair ``(w0, w1)`` if ``i`` is even, ``(w2, w3)`` if odd;
* ``signs``: value ``i`` is bit ``i % 32`` of word ``i // 32`` (word ``4b + lane`` is lane
  ``lane`` of block ``b``).

The words are held in ``int64`` arrays (every backend has them); 32 x 32-bit products are split
into 16-bit halves so that no intermediate exceeds 2**49.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

__all__ = [
    "VALUES_PER_BLOCK",
    "philox4x32_10",
    "random_integers",
    "random_normal",
    "random_signs",
    "random_sort_keys",
    "random_uniform",
]

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
ROUNDS = 10
MASK32 = 0xFFFFFFFF

#: How many values of each kind one Philox block yields (used to advance a generator).
VALUES_PER_BLOCK = {"uniform": 2, "normal": 2, "integers": 2, "sort_keys": 2, "signs": 128}


def _mulhilo(a: Any, m: int) -> tuple[Any, Any]:
    """High and low 32-bit words of ``a * m`` (int64 array ``a < 2**32``, constant ``m``)."""
    m_hi, m_lo = m >> 16, m & 0xFFFF
    p_hi = a * m_hi  # < 2**48
    p_lo = a * m_lo  # < 2**48
    mid = p_hi + (p_lo >> 16)  # a*m = mid * 2**16 + (p_lo & 0xFFFF)
    return mid >> 16, ((mid & 0xFFFF) << 16) | (p_lo & 0xFFFF)


def philox4x32_10(counter: tuple[Any, Any, Any, Any], key: tuple[int, int]) -> tuple[Any, ...]:
    """Philox4x32-10 applied elementwise to four int64 arrays of 32-bit counter words."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(ROUNDS):
        hi0, lo0 = _mulhilo(c0, PHILOX_M0)
        hi1, lo1 = _mulhilo(c2, PHILOX_M1)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0, k1 = (k0 + PHILOX_W0) & MASK32, (k1 + PHILOX_W1) & MASK32
    return c0, c1, c2, c3


def _blocks(blocks: Any, stream: int, attempt: int, key: tuple[int, int], xp: ModuleType):
    """The four words of each block index in int64 array ``blocks``."""
    zeros = xp.zeros_like(blocks)
    counter = (blocks & MASK32, blocks >> 32, zeros + stream, zeros + attempt)
    return philox4x32_10(counter, key)


def _block_range(first: int, count: int, xp: ModuleType, device: Any) -> Any:
    return xp.arange(first, first + count, dtype=xp.int64, device=device)


def _word_pairs(n: int, start: int, key, stream, xp, device) -> tuple[Any, Any]:
    """(high, low) word of values ``start .. start + n`` in the two-values-per-block layout."""
    first = start // 2
    w0, w1, w2, w3 = _blocks(
        _block_range(first, (start + n + 1) // 2 - first, xp, device), stream, 0, key, xp
    )
    high = xp.reshape(xp.stack([w0, w2], axis=1), (-1,))
    low = xp.reshape(xp.stack([w1, w3], axis=1), (-1,))
    offset = start - 2 * first
    return high[offset : offset + n], low[offset : offset + n]


def _unit53(high: Any, low: Any, xp: ModuleType) -> Any:
    """53-bit uniforms on [0, 1) from the top bits of a word pair."""
    return xp.astype((high << 21) | (low >> 11), xp.float64) * 2.0**-53


def random_uniform(n: int, *, key, stream, start, dtype, xp, device) -> Any:
    """Uniforms on [0, 1): 53 random bits in float64; float32 keeps the top 24 of those bits."""
    high, low = _word_pairs(n, start, key, stream, xp, device)
    if dtype == xp.float32:
        return xp.astype(high >> 8, xp.float32) * 2.0**-24
    return xp.astype(_unit53(high, low, xp), dtype)


def _polar_attempt(pairs: Any, attempt: int, key, stream, xp) -> tuple[Any, Any, Any]:
    w0, w1, w2, w3 = _blocks(pairs, stream, attempt, key, xp)
    v1 = 2.0 * _unit53(w0, w1, xp) - 1.0
    v2 = 2.0 * _unit53(w2, w3, xp) - 1.0
    return v1, v2, v1 * v1 + v2 * v2


def _polar(pairs: Any, attempt: int, key, stream, xp) -> tuple[Any, Any, Any]:
    """Marsaglia's polar method: a point uniform in the unit disc for each pair index."""
    v1, v2, s = _polar_attempt(pairs, attempt, key, stream, xp)
    rejected = (s >= 1.0) | (s == 0.0)
    if xp.any(rejected):
        r1, r2, rs = _polar(pairs[rejected], attempt + 1, key, stream, xp)
        v1[rejected], v2[rejected], s[rejected] = r1, r2, rs
    return v1, v2, s


def random_normal(n: int, *, key, stream, start, dtype, xp, device) -> Any:
    """Standard normals by the polar method, computed in float64 and rounded to ``dtype``.

    Pair ``p`` (values ``2p`` and ``2p + 1``) takes a point ``(v1, v2)`` uniform in the unit disc
    from block ``p``, redrawn with the next ``attempt`` while it falls outside (probability
    1 - pi/4), and returns ``v * sqrt(-2 log(s) / s)`` with ``s = v1**2 + v2**2``.
    """
    first = start // 2
    v1, v2, s = _polar(
        _block_range(first, (start + n + 1) // 2 - first, xp, device), 0, key, stream, xp
    )
    factor = xp.sqrt(-2.0 * xp.log(s) / s)
    values = xp.reshape(xp.stack([v1 * factor, v2 * factor], axis=1), (-1,))
    offset = start - 2 * first
    return xp.astype(values[offset : offset + n], dtype)


def random_signs(n: int, *, key, stream, start, dtype, xp, device) -> Any:
    """Independent +1/-1 values, one random bit each."""
    first = start // 128
    w = _blocks(
        _block_range(first, (start + n + 127) // 128 - first, xp, device), stream, 0, key, xp
    )
    words = xp.reshape(xp.stack(w, axis=1), (-1, 1))
    bits = (words >> xp.arange(32, dtype=xp.int64, device=device)) & 1
    offset = start - 128 * first
    bits = xp.reshape(bits, (-1,))[offset : offset + n]
    return xp.astype(1 - 2 * bits, dtype)


def random_integers(n: int, *, span: int, key, stream, start, dtype, xp, device) -> Any:
    """Integers uniform on [0, span), span <= 2**32: ``floor(r * span / 2**64)`` for a 64-bit
    random ``r`` (Lemire's multiply-shift; the bias, at most span / 2**64, is below any test)."""
    high, low = _word_pairs(n, start, key, stream, xp, device)
    if span == 2**32:
        return xp.astype(high, dtype)
    h0, l0 = _mulhilo(high, span)
    h1, _ = _mulhilo(low, span)
    return xp.astype(h0 + ((l0 + h1) >> 32), dtype)


def random_sort_keys(n: int, *, key, stream, start, dtype, xp, device) -> Any:
    """63-bit random integers, used as sort keys for permutations and samples without
    replacement (ties, at probability ~ n**2 / 2**64, are broken by position)."""
    high, low = _word_pairs(n, start, key, stream, xp, device)
    return xp.astype(((high >> 1) << 32) | low, dtype)
