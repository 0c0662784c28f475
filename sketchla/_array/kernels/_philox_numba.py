"""Numba kernels for :mod:`sketchla._array.kernels.philox`: the same values, bit for bit (normals
to the last bit of ``log``), fused into one parallel pass that writes into a preallocated output.

Each kernel loops over Philox blocks in parallel (``prange``) and writes the values of that block
whose index falls in ``[start, start + n)``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .philox import PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1, ROUNDS

__all__ = [
    "random_integers",
    "random_normal",
    "random_signs",
    "random_sort_keys",
    "random_uniform",
]

_M0 = np.uint64(PHILOX_M0)
_M1 = np.uint64(PHILOX_M1)
_W0 = np.uint32(PHILOX_W0)
_W1 = np.uint32(PHILOX_W1)
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)


@nb.njit(inline="always")
def _philox(block, stream, attempt, k0, k1):
    c0 = np.uint32(block & 0xFFFFFFFF)
    c1 = np.uint32(block >> 32)
    c2 = stream
    c3 = attempt
    for _ in range(ROUNDS):
        p0 = np.uint64(c0) * _M0
        p1 = np.uint64(c2) * _M1
        c0, c1, c2, c3 = (
            np.uint32(p1 >> _U32) ^ c1 ^ k0,
            np.uint32(p1 & _LOW32),
            np.uint32(p0 >> _U32) ^ c3 ^ k1,
            np.uint32(p0 & _LOW32),
        )
        k0 = np.uint32(k0 + _W0)
        k1 = np.uint32(k1 + _W1)
    # numba widens uint32 arithmetic to 64 bits; the values stay below 2**32
    return np.uint32(c0), np.uint32(c1), np.uint32(c2), np.uint32(c3)


@nb.njit(inline="always")
def _unit53(high, low):
    return np.float64((np.uint64(high) << np.uint64(21)) | np.uint64(low >> np.uint32(11))) * (
        2.0**-53
    )


@nb.njit(parallel=True, cache=True, nogil=True)
def _fill_uniform(out, k0, k1, stream, start, single):
    n = out.size
    first = start // 2
    key0, key1, s = np.uint32(k0), np.uint32(k1), np.uint32(stream)
    for j in nb.prange((start + n + 1) // 2 - first):
        block = first + j
        w0, w1, w2, w3 = _philox(block, s, np.uint32(0), key0, key1)
        i = 2 * block - start
        if single:
            if i >= 0:
                out[i] = np.float64(w0 >> np.uint32(8)) * 2.0**-24
            if i + 1 < n:
                out[i + 1] = np.float64(w2 >> np.uint32(8)) * 2.0**-24
        else:
            if i >= 0:
                out[i] = _unit53(w0, w1)
            if i + 1 < n:
                out[i + 1] = _unit53(w2, w3)


@nb.njit(parallel=True, cache=True, nogil=True)
def _fill_normal(out, k0, k1, stream, start):
    n = out.size
    first = start // 2
    key0, key1, s_ = np.uint32(k0), np.uint32(k1), np.uint32(stream)
    for j in nb.prange((start + n + 1) // 2 - first):
        block = first + j
        attempt = np.uint32(0)
        while True:
            w0, w1, w2, w3 = _philox(block, s_, attempt, key0, key1)
            v1 = 2.0 * _unit53(w0, w1) - 1.0
            v2 = 2.0 * _unit53(w2, w3) - 1.0
            s = v1 * v1 + v2 * v2
            if s < 1.0 and s != 0.0:
                break
            attempt += np.uint32(1)
        factor = math.sqrt(-2.0 * math.log(s) / s)
        i = 2 * block - start
        if i >= 0:
            out[i] = v1 * factor
        if i + 1 < n:
            out[i + 1] = v2 * factor


@nb.njit(parallel=True, cache=True, nogil=True)
def _fill_signs(out, k0, k1, stream, start):
    n = out.size
    first = start // 128
    key0, key1, s = np.uint32(k0), np.uint32(k1), np.uint32(stream)
    for j in nb.prange((start + n + 127) // 128 - first):
        block = first + j
        words = _philox(block, s, np.uint32(0), key0, key1)
        base = 128 * block - start
        for lane in range(4):
            word = words[lane]
            for bit in range(32):
                i = base + 32 * lane + bit
                if 0 <= i < n:
                    out[i] = 1 - 2 * np.int64((word >> np.uint32(bit)) & np.uint32(1))


@nb.njit(parallel=True, cache=True, nogil=True)
def _fill_pairs_as_integers(out, k0, k1, stream, start, span, sort_keys):
    """Integers in [0, span) (span <= 2**32), or 63-bit sort keys when ``sort_keys``."""
    n = out.size
    first = start // 2
    key0, key1, s = np.uint32(k0), np.uint32(k1), np.uint32(stream)
    m = np.uint64(span)
    for j in nb.prange((start + n + 1) // 2 - first):
        block = first + j
        w0, w1, w2, w3 = _philox(block, s, np.uint32(0), key0, key1)
        i = 2 * block - start
        for lane in range(2):
            if 0 <= i + lane < n:
                high = np.uint64(w0 if lane == 0 else w2)
                low = np.uint64(w1 if lane == 0 else w3)
                if sort_keys:
                    out[i + lane] = np.int64(((high >> np.uint64(1)) << _U32) | low)
                else:
                    # floor((high * 2**32 + low) * m / 2**64), exact in uint64 for m <= 2**32
                    out[i + lane] = np.int64((high * m + ((low * m) >> _U32)) >> _U32)


def _empty(n, dtype):
    return np.empty(n, dtype=np.dtype(dtype))


def random_uniform(n, *, key, stream, start, dtype, xp=None, device=None, out=None):
    out = _empty(n, dtype) if out is None else out
    if n:
        _fill_uniform(out, key[0], key[1], stream, start, out.dtype == np.float32)
    return out


def random_normal(n, *, key, stream, start, dtype, xp=None, device=None, out=None):
    out = _empty(n, dtype) if out is None else out
    if n:
        _fill_normal(out, key[0], key[1], stream, start)
    return out


def random_signs(n, *, key, stream, start, dtype, xp=None, device=None, out=None):
    out = _empty(n, dtype) if out is None else out
    if n:
        _fill_signs(out, key[0], key[1], stream, start)
    return out


def random_integers(n, *, span, key, stream, start, dtype, xp=None, device=None):
    out = np.empty(n, dtype=np.int64)
    if n:
        _fill_pairs_as_integers(out, key[0], key[1], stream, start, span, False)
    return out.astype(np.dtype(dtype), copy=False)


def random_sort_keys(n, *, key, stream, start, dtype, xp=None, device=None):
    out = np.empty(n, dtype=np.int64)
    if n:
        _fill_pairs_as_integers(out, key[0], key[1], stream, start, 0, True)
    return out.astype(np.dtype(dtype), copy=False)
