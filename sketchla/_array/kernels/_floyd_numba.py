"""Numba version of :func:`sketchla._array.kernels.floyd.floyd_sample`, parallel over rows."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["floyd_sample"]


@nb.njit(parallel=True, cache=True)
def _floyd(u, m, out):
    n, k = u.shape
    for j in nb.prange(n):
        for step in range(k):
            top = m - k + step
            r = np.int64(math.floor(u[j, step] * (top + 1)))
            for earlier in range(step):
                if out[j, earlier] == r:
                    r = top
                    break
            out[j, step] = r


def floyd_sample(u, m, *, xp=None):
    out = np.empty(u.shape, dtype=np.int64)
    _floyd(np.ascontiguousarray(u, dtype=np.float64), m, out)
    return out
