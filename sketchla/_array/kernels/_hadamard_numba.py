"""``sampled_hadamard`` for NumPy: only the requested rows of the Hadamard transform.

With ``size = n1 * n2`` (``n2 = 256``), ``H_size = H_n1 (x) H_n2``: row ``r = r1 * n2 + r2`` of
``H @ X`` is ``sum_j1 H_n1[r1, j1] * Z[r2, j1]`` where ``Z[:, j1] = H_n2 @ X[j1 * n2:(j1 + 1) *
n2]``. Stage 1 transforms each ``n2``-row block in cache (``log2 n2`` butterfly levels instead of
``log2 size`` passes over memory); stage 2 forms the ``m`` requested rows as small GEMMs, one per
value of ``r2``, against the ``+-1`` rows of ``H_n1`` (``2 m (size / n2) d`` flops). When many rows
are requested (``m > n2 log2 n1``, e.g. a vector of a million entries sketched to 40 000), stage 2
instead transforms all of ``Z`` along ``j1`` by butterflies (``size d log2 n1`` flops) and keeps the
requested rows: the GEMMs, and their ``m x n1`` sign matrices, would cost more.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .hadamard import fwht

__all__ = ["sampled_hadamard"]

_BLOCK = 256


@nb.njit(parallel=True, cache=True)
def _transform_blocks(A, signs, offset, n2, Z):
    """Z[:, b, :] = H_n2 @ (signs * A) restricted to block b (zeros outside A's rows)."""
    k, d = A.shape
    first = offset // n2
    last = (offset + k - 1) // n2
    for b in nb.prange(first, last + 1):
        buffer = np.zeros((n2, d), dtype=A.dtype)
        for i in range(n2):
            g = b * n2 + i - offset
            if 0 <= g < k:
                s = signs[g]
                for c in range(d):
                    buffer[i, c] = s * A[g, c]
        half = 1
        while half < n2:
            for start in range(0, n2, 2 * half):
                for i in range(start, start + half):
                    for c in range(d):
                        x = buffer[i, c]
                        y = buffer[i + half, c]
                        buffer[i, c] = x + y
                        buffer[i + half, c] = x - y
            half *= 2
        for i in range(n2):
            for c in range(d):
                Z[i, b, c] = buffer[i, c]


def sampled_hadamard(A, signs, offset, size, rows, *, xp=None):
    A = np.ascontiguousarray(A)
    k, d = A.shape
    n2 = min(size, _BLOCK)
    n1 = size // n2
    Z = np.zeros((n2, n1, d), dtype=A.dtype)
    if k:
        _transform_blocks(A, np.ascontiguousarray(signs, dtype=A.dtype), offset, n2, Z)
    rows = np.asarray(rows)
    high, low = rows // n2, rows % n2
    if rows.shape[0] > n2 * max(1.0, math.log2(n1)):
        # W[j1-transformed, r2, c] = sum_j1 H_n1[r1, j1] Z[r2, j1, c], all of it, then the rows
        W = fwht(np.ascontiguousarray(Z.transpose(1, 0, 2)).reshape(n1, n2 * d), np)
        return W.reshape(n1, n2, d)[high, low]
    out = np.empty((rows.shape[0], d), dtype=A.dtype)
    order = np.argsort(low, kind="stable")
    bounds = np.flatnonzero(np.diff(low[order])) + 1
    columns = np.arange(n1)
    for group in np.split(order, bounds):
        if group.size == 0:
            continue
        parity = (np.bitwise_count(high[group, None] & columns[None, :]) & 1).astype(A.dtype)
        out[group] = (1 - 2 * parity) @ Z[low[group[0]]]
    return out
