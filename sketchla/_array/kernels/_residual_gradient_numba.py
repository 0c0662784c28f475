"""Numba version of :func:`sketchla._array.kernels.residual_gradient.residual_gradient`: one
read of ``A``. The rows of ``A`` go in parts (several per thread, which balances the load); each
part adds ``r_i * a_i`` into a private gradient, and the private gradients are summed at the end.
Four rows at a time share each load of ``x`` and each update of the gradient."""

from __future__ import annotations

import numba as nb
import numpy as np

from .residual_gradient import residual_gradient as _portable

__all__ = ["residual_gradient"]

_PARTS_PER_THREAD = 4


@nb.njit(inline="always")
def _one_row(A, x, b, r, g, i):
    s = 0.0
    for j in range(A.shape[1]):
        s += A[i, j] * x[j]
    ri = b[i] - s
    r[i] = ri
    for j in range(A.shape[1]):
        g[j] += A[i, j] * ri


@nb.njit(parallel=True, cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def _fused(A, x, b, r, partial):
    n, d = A.shape
    parts = partial.shape[0]
    for t in nb.prange(parts):
        g = partial[t]
        i, stop = t * n // parts, (t + 1) * n // parts
        while i + 4 <= stop:
            s0 = s1 = s2 = s3 = 0.0
            for j in range(d):
                xj = x[j]
                s0 += A[i, j] * xj
                s1 += A[i + 1, j] * xj
                s2 += A[i + 2, j] * xj
                s3 += A[i + 3, j] * xj
            r0, r1, r2, r3 = b[i] - s0, b[i + 1] - s1, b[i + 2] - s2, b[i + 3] - s3
            r[i], r[i + 1], r[i + 2], r[i + 3] = r0, r1, r2, r3
            for j in range(d):
                g[j] += A[i, j] * r0 + A[i + 1, j] * r1 + A[i + 2, j] * r2 + A[i + 3, j] * r3
            i += 4
        while i < stop:
            _one_row(A, x, b, r, g, i)
            i += 1


def residual_gradient(A, x, b, *, xp=None):
    if x.ndim != 1 or not A.flags.c_contiguous or A.size < 2**20:  # small: BLAS is enough
        return _portable(A, x, b, xp=np)
    dtype = np.result_type(A, x, b)
    A, x, b = A.astype(dtype, copy=False), x.astype(dtype, copy=False), b.astype(dtype, copy=False)
    parts = max(1, min(_PARTS_PER_THREAD * nb.get_num_threads(), A.shape[0] // 1024))
    r = np.empty(A.shape[0], dtype=dtype)
    partial = np.zeros((parts, A.shape[1]), dtype=dtype)
    _fused(A, np.ascontiguousarray(x), np.ascontiguousarray(b), r, partial)
    return r, partial.sum(axis=0)
