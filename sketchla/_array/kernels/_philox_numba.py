"""Numba kernels for :mod:`sketchla._array.kernels.philox`: the same values, bit for bit, written
into a preallocated output.

Uniforms, signs and integers are one parallel pass over Philox blocks (``prange``) writing the
values of each block whose index falls in ``[start, start + n)``. Normals go chunk by chunk
(:func:`_fill_normal`, one thread per piece): a vectorised pass draws the polar method's points,
NumPy's SIMD ``log`` (the portable kernel's, hence bit-identical results) takes their logarithm,
and a second vectorised pass scales them -- 2.8 ns a normal on one core here, against 12 ns for
a fused scalar loop calling libm's ``log`` (numba cannot vectorise it without SVML).
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor

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
_W0 = np.uint64(PHILOX_W0)
_W1 = np.uint64(PHILOX_W1)
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)


@nb.njit(inline="always")
def _philox_lanes(block, stream, attempt, k0, k1):
    """Philox4x32-10 of counter ``(block_lo, block_hi, stream, attempt)`` and key ``(k0, k1)``,
    on uint64 words that stay below 2**32: a form LLVM vectorises (8 blocks per AVX-512
    register, the 32 x 32-bit products as ``vpmuludq``)."""
    c0, c1, c2, c3 = block & _LOW32, block >> _U32, stream, attempt
    for _ in range(ROUNDS):
        p0 = c0 * _M0
        p1 = c2 * _M1
        c0, c1, c2, c3 = (p1 >> _U32) ^ c1 ^ k0, p1 & _LOW32, (p0 >> _U32) ^ c3 ^ k1, p0 & _LOW32
        k0 = (k0 + _W0) & _LOW32
        k1 = (k1 + _W1) & _LOW32
    return c0, c1, c2, c3


@nb.njit(inline="always")
def _disc_point(block, stream, attempt, k0, k1):
    """Candidate ``(v1, v2, s)`` of the polar method: ``v`` uniform in ``[-1, 1)**2``."""
    w0, w1, w2, w3 = _philox_lanes(block, stream, attempt, k0, k1)
    v1 = np.float64((w0 << np.uint64(21)) | (w1 >> np.uint64(11))) * 2.0**-52 - 1.0
    v2 = np.float64((w2 << np.uint64(21)) | (w3 >> np.uint64(11))) * 2.0**-52 - 1.0
    return v1, v2, v1 * v1 + v2 * v2


@nb.njit(cache=True, nogil=True)
def _polar_points(v, s, rejected, redrawn, k0, k1, stream, first):
    """Points uniform in the unit disc for blocks ``first + b``, ``b < s.size``: ``v[2b]``,
    ``v[2b + 1]`` and ``s[b] = |v|**2`` (scratch: ``rejected``, ``s.size`` int64, and
    ``redrawn``, ``3 * s.size`` float64).

    All blocks are drawn at attempt 0 in one branch-free (vectorised) loop; the points outside
    the disc (probability ``1 - pi/4``) are then gathered, redrawn together with the next
    attempt (again vectorised, into ``redrawn``) and scattered back, until none is left.
    """
    key0, key1, st = np.uint64(k0), np.uint64(k1), np.uint64(stream)
    start = np.uint64(first)
    for b in range(s.size):
        v1, v2, sb = _disc_point(start + np.uint64(b), st, np.uint64(0), key0, key1)
        v[2 * b] = v1
        v[2 * b + 1] = v2
        s[b] = sb
    count = 0
    for b in range(s.size):
        rejected[count] = b
        count += not (s[b] < 1.0 and s[b] != 0.0)
    attempt = np.uint64(1)
    while count:
        for t in range(count):
            v1, v2, sb = _disc_point(start + np.uint64(rejected[t]), st, attempt, key0, key1)
            redrawn[3 * t] = v1
            redrawn[3 * t + 1] = v2
            redrawn[3 * t + 2] = sb
        still = 0
        for t in range(count):
            b = rejected[t]
            sb = redrawn[3 * t + 2]
            if sb < 1.0 and sb != 0.0:
                v[2 * b] = redrawn[3 * t]
                v[2 * b + 1] = redrawn[3 * t + 1]
                s[b] = sb
            else:
                rejected[still] = b
                still += 1
        count = still
        attempt += np.uint64(1)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _scaled_pairs(out, dest, v, s, factor, skip, take):
    """``out[dest + i] = v[skip + i] * factor[(skip + i) // 2]`` for ``i < take``, where
    ``factor`` holds ``log(s)`` on entry and ``sqrt(-2 log(s) / s)`` on exit."""
    for b in range((skip + take + 1) // 2):
        factor[b] = math.sqrt(-2.0 * factor[b] / s[b])
    for i in range(take):
        j = skip + i
        out[dest + i] = v[j] * factor[j >> 1]


@nb.njit(inline="always")
def _pair_words(block, key0, key1, stream):
    """The two 64-bit words ``(w0 w1, w2 w3)`` of a block, for two values per block."""
    w0, w1, w2, w3 = _philox_lanes(block, stream, np.uint64(0), key0, key1)
    return (w0 << _U32) | w1, (w2 << _U32) | w3


@nb.njit(inline="always")
def _uniform_from_word(word, single):
    if single:  # the high 24 bits
        return np.float64(word >> np.uint64(40)) * 2.0**-24
    return np.float64(word >> np.uint64(11)) * 2.0**-53


@nb.njit(inline="always")
def _integer_from_word(word, span, sort_key):
    if sort_key:  # 63 bits: the high word without its lowest bit, then the low word
        return np.int64(((word >> np.uint64(33)) << _U32) | (word & _LOW32))
    # floor(word * span / 2**64), exact in uint64 for span <= 2**32
    high, low = word >> _U32, word & _LOW32
    return np.int64((high * span + ((low * span) >> _U32)) >> _U32)


@nb.njit(cache=True, nogil=True)
def _uniform_run(out, key0, key1, stream, first, single):
    """Values of blocks ``first, first + 1, ...`` into ``out`` (two per block), branch-free."""
    for j in range(out.size // 2):
        word0, word1 = _pair_words(first + np.uint64(j), key0, key1, stream)
        out[2 * j] = _uniform_from_word(word0, single)
        out[2 * j + 1] = _uniform_from_word(word1, single)


@nb.njit(cache=True, nogil=True)
def _integer_run(out, key0, key1, stream, first, span, sort_key):
    for j in range(out.size // 2):
        word0, word1 = _pair_words(first + np.uint64(j), key0, key1, stream)
        out[2 * j] = _integer_from_word(word0, span, sort_key)
        out[2 * j + 1] = _integer_from_word(word1, span, sort_key)


_RUN = 4096  # blocks per task of the parallel loops


@nb.njit(parallel=True, cache=True, nogil=True)
def _uniform_blocks(out, k0, k1, stream, first, single):
    key0, key1, st, blocks = np.uint64(k0), np.uint64(k1), np.uint64(stream), out.size // 2
    for task in nb.prange((blocks + _RUN - 1) // _RUN):
        lo, hi = task * _RUN, min(blocks, (task + 1) * _RUN)
        _uniform_run(out[2 * lo : 2 * hi], key0, key1, st, np.uint64(first + lo), single)


@nb.njit(parallel=True, cache=True, nogil=True)
def _integer_blocks(out, k0, k1, stream, first, span, sort_key):
    key0, key1, st, blocks = np.uint64(k0), np.uint64(k1), np.uint64(stream), out.size // 2
    for task in nb.prange((blocks + _RUN - 1) // _RUN):
        lo, hi = task * _RUN, min(blocks, (task + 1) * _RUN)
        _integer_run(
            out[2 * lo : 2 * hi], key0, key1, st, np.uint64(first + lo), np.uint64(span), sort_key
        )


@nb.njit(cache=True, nogil=True)
def _uniform_blocks_serial(out, k0, k1, stream, first, single):
    _uniform_run(out, np.uint64(k0), np.uint64(k1), np.uint64(stream), np.uint64(first), single)


@nb.njit(cache=True, nogil=True)
def _integer_blocks_serial(out, k0, k1, stream, first, span, sort_key):
    key0, key1, st = np.uint64(k0), np.uint64(k1), np.uint64(stream)
    _integer_run(out, key0, key1, st, np.uint64(first), np.uint64(span), sort_key)


@nb.njit(cache=True, nogil=True)
def _signs_run(out, key0, key1, stream, first):
    """Signs of blocks ``first, first + 1, ...`` into ``out`` (128 per block), branch-free."""
    for j in range(out.size // 128):
        w0, w1, w2, w3 = _philox_lanes(first + np.uint64(j), stream, np.uint64(0), key0, key1)
        for lane in range(4):
            word = w0 if lane == 0 else (w1 if lane == 1 else (w2 if lane == 2 else w3))
            for bit in range(32):
                out[128 * j + 32 * lane + bit] = 1 - 2 * np.int64((word >> np.uint64(bit)) & 1)


@nb.njit(parallel=True, cache=True, nogil=True)
def _signs_blocks(out, k0, k1, stream, first):
    key0, key1, st, blocks = np.uint64(k0), np.uint64(k1), np.uint64(stream), out.size // 128
    tasks = _RUN // 32
    for task in nb.prange((blocks + tasks - 1) // tasks):
        lo, hi = task * tasks, min(blocks, (task + 1) * tasks)
        _signs_run(out[128 * lo : 128 * hi], key0, key1, st, np.uint64(first + lo))


@nb.njit(cache=True, nogil=True)
def _signs_blocks_serial(out, k0, k1, stream, first):
    _signs_run(out, np.uint64(k0), np.uint64(k1), np.uint64(stream), np.uint64(first))


# Below these sizes one thread is faster: a parallel region costs more than the 2-3 ns per
# value, and waking numba's workers right after a BLAS call (whose threads still spin) made an
# SRFT of 40 000 entries 30 times slower on a 2-core machine (signs); 2**16 uniforms took 4-12 ms
# in parallel after a BLAS product against 0.2 ms on one thread.
_SERIAL_VALUES = 1 << 19


def _fill_whole_blocks(out, start, per_block, kernels, key0, key1, stream, *rest):
    """Values ``start, ..., start + out.size - 1`` of a stream of ``per_block`` values per
    Philox block. ``kernels`` is ``(parallel, serial)``, each called as
    ``kernel(view, key0, key1, stream, first_block, *rest)`` to fill whole blocks: the serial
    one for fewer than ``_SERIAL_VALUES`` values, and for the blocks that ``start`` and the end
    cut (from a one-block scratch)."""
    parallel, serial = kernels
    n = out.size
    head = min((-start) % per_block, n)  # values before the first whole block
    if head:
        scratch = np.empty(per_block, dtype=out.dtype)
        serial(scratch, key0, key1, stream, start // per_block, *rest)
        offset = start % per_block
        out[:head] = scratch[offset : offset + head]
    body = (n - head) // per_block * per_block
    if body:
        first = (start + head) // per_block
        fill = serial if body < _SERIAL_VALUES else parallel
        fill(out[head : head + body], key0, key1, stream, first, *rest)
    if head + body < n:
        scratch = np.empty(per_block, dtype=out.dtype)
        serial(scratch, key0, key1, stream, (start + head + body) // per_block, *rest)
        out[head + body :] = scratch[: n - head - body]


_SIGNS = (_signs_blocks, _signs_blocks_serial)
_UNIFORM = (_uniform_blocks, _uniform_blocks_serial)
_INTEGER = (_integer_blocks, _integer_blocks_serial)


_NORMAL_CHUNK = 8192  # blocks per chunk: the chunk's 4 buffers (256 KiB) stay in L2


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=nb.config.NUMBA_NUM_THREADS, thread_name_prefix="sketchla"
    )


def _split(n: int, start: int, grain: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` pieces of ``range(n)``, one per thread, cut at multiples of ``grain`` from
    ``start`` (whole chunks), or one piece when ``n`` is small."""
    threads = nb.get_num_threads()
    if threads == 1 or n < 4 * grain:
        return [(0, n)]
    per = -(-n // threads)
    per = -(-per // grain) * grain
    return [(lo, min(n, lo + per)) for lo in range(0, n, per)]


def _empty(n, dtype):
    return np.empty(n, dtype=np.dtype(dtype))


def random_uniform(n, *, key, stream, start, dtype, xp=None, device=None, out=None):
    out = _empty(n, dtype) if out is None else out
    if n:
        single = out.dtype == np.float32
        _fill_whole_blocks(out, start, 2, _UNIFORM, key[0], key[1], stream, single)
    return out


def _fill_normal(out, key, stream, start):
    """Values ``start ...`` of the normal stream into ``out`` (1-D), one chunk of blocks at a
    time: :func:`_polar_points` (numba) then ``sqrt(-2 log(s) / s)`` by NumPy's SIMD ``log``,
    the same operations, in the same order, as the portable kernel."""
    first = start // 2
    stop = (start + out.size + 1) // 2  # one past the last block
    chunk = min(_NORMAL_CHUNK, stop - first)
    v, s, factor, redrawn = (
        np.empty(2 * chunk),
        np.empty(chunk),
        np.empty(chunk),
        np.empty(3 * chunk),
    )
    rejected = np.empty(chunk, dtype=np.int64)
    for lo in range(first, stop, chunk):
        hi = min(stop, lo + chunk)
        count = hi - lo
        _polar_points(v, s[:count], rejected, redrawn, key[0], key[1], stream, lo)
        np.log(s[:count], out=factor[:count])
        skip = max(start - 2 * lo, 0)  # values of the first block before ``start``
        take = min(2 * count - skip, start + out.size - (2 * lo + skip))
        _scaled_pairs(out, 2 * lo + skip - start, v, s, factor, skip, take)


def random_normal(n, *, key, stream, start, dtype, xp=None, device=None, out=None):
    out = _empty(n, dtype) if out is None else out
    if n == 0:
        return out
    pieces = _split(n, start, 2 * _NORMAL_CHUNK)
    if len(pieces) == 1:
        _fill_normal(out, key, stream, start)
    else:
        list(
            _pool().map(lambda p: _fill_normal(out[p[0] : p[1]], key, stream, start + p[0]), pieces)
        )
    return out


def random_signs(n, *, key, stream, start, dtype, xp=None, device=None, out=None):
    out = _empty(n, dtype) if out is None else out
    if n:
        _fill_whole_blocks(out, start, 128, _SIGNS, key[0], key[1], stream)
    return out


def random_integers(n, *, span, key, stream, start, dtype, xp=None, device=None):
    out = np.empty(n, dtype=np.int64)
    if n:
        _fill_whole_blocks(out, start, 2, _INTEGER, key[0], key[1], stream, span, False)
    return out.astype(np.dtype(dtype), copy=False)


def random_sort_keys(n, *, key, stream, start, dtype, xp=None, device=None):
    out = np.empty(n, dtype=np.int64)
    if n:
        _fill_whole_blocks(out, start, 2, _INTEGER, key[0], key[1], stream, 0, True)
    return out.astype(np.dtype(dtype), copy=False)
