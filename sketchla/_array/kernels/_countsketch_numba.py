"""Numba CountSketch for NumPy: the row and sign of each column are drawn from the Philox stream
inside the pass over ``A`` (no structure arrays: at these sizes their page faults alone cost half
a pass). Threads split the rows of ``A`` and add into private outputs."""

from __future__ import annotations

import numba as nb
import numpy as np

from ._philox_numba import _integer_from_word, _pair_words, _philox_lanes
from .countsketch import countsketch_apply as _portable

__all__ = ["countsketch_apply"]


@nb.njit(parallel=True, cache=True, nogil=True)
def _countsketch(A, partial, m, k0, k1, rows_stream, signs_stream, start):
    n, d = A.shape
    parts = partial.shape[0]
    key0, key1 = np.uint64(k0), np.uint64(k1)
    s_rows, s_signs = np.uint64(rows_stream), np.uint64(signs_stream)
    span = np.uint64(m)
    for t in nb.prange(parts):
        out = partial[t]
        for j in range(t * n // parts, (t + 1) * n // parts):
            i = start + j
            word0, word1 = _pair_words(np.uint64(i // 2), key0, key1, s_rows)
            r = _integer_from_word(word0 if i % 2 == 0 else word1, span, False)
            b0, b1, b2, b3 = _philox_lanes(np.uint64(i // 128), s_signs, np.uint64(0), key0, key1)
            lane = (i // 32) % 4
            word = b0 if lane == 0 else (b1 if lane == 1 else (b2 if lane == 2 else b3))
            v = 1.0 - 2.0 * np.float64((word >> np.uint64(i % 32)) & np.uint64(1))
            for c in range(d):
                out[r, c] += v * A[j, c]


def countsketch_apply(A, m, start, *, rows_generator, signs_generator, xp=None):
    if not A.flags.c_contiguous or rows_generator._key != signs_generator._key:
        return _portable(
            A, m, start, rows_generator=rows_generator, signs_generator=signs_generator, xp=xp
        )
    parts = max(1, min(nb.get_num_threads(), A.shape[0] // 1024))
    partial = np.zeros((parts, m, A.shape[1]), dtype=A.dtype)
    k0, k1 = rows_generator._key
    _countsketch(A, partial, m, k0, k1, rows_generator.stream, signs_generator.stream, start)
    return partial.sum(axis=0) if parts > 1 else partial[0]
