"""Numba kernels applying a sparse sketch stored by columns: one pass over ``A``.

Threads split the columns of ``S`` (rows of ``A``) and add into private copies of the output,
summed at the end, so no two threads write the same memory.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["sparse_sketch_apply", "sparse_sketch_apply_csc", "sparse_sketch_apply_transpose"]


@nb.njit(parallel=True, cache=True)
def _left(indptr, rows, values, A, partial):
    """partial[t] += S[:, part t] @ A[part t] for row-major A (n, d)."""
    n = indptr.shape[0] - 1
    d = A.shape[1]
    parts = partial.shape[0]
    for t in nb.prange(parts):
        out = partial[t]
        for j in range(t * n // parts, (t + 1) * n // parts):
            for p in range(indptr[j], indptr[j + 1]):
                r = rows[p]
                v = values[p]
                for c in range(d):
                    out[r, c] += v * A[j, c]


@nb.njit(parallel=True, cache=True)
def _right(indptr, rows, values, At, out_t, parts, tile):
    """out_t[k] = S @ At[k] for each row k of a row-major At (d, n): A @ S.T without copies.

    Columns of S go in tiles whose structure stays in cache while every row of At uses it;
    threads split the rows of At."""
    n = indptr.shape[0] - 1
    d = At.shape[0]
    for t in nb.prange(parts):
        for j0 in range(0, n, tile):
            j1 = min(j0 + tile, n)
            for k in range(t * d // parts, (t + 1) * d // parts):
                row = At[k]
                acc = out_t[k]
                for j in range(j0, j1):
                    a = row[j]
                    for p in range(indptr[j], indptr[j + 1]):
                        acc[rows[p]] += values[p] * a


@nb.njit(parallel=True, cache=True)
def _left_csc(indptr, rows, values, a_indptr, a_indices, a_data, out_t):
    """out_t[c] = S @ A[:, c] for CSC A: O(nnz(A) * nnz per column of S). Each thread owns
    whole columns of A, and the row of out_t it fills (m values) stays in cache."""
    for c in nb.prange(a_indptr.shape[0] - 1):
        acc = out_t[c]
        for q in range(a_indptr[c], a_indptr[c + 1]):
            j = a_indices[q]
            a = a_data[q]
            for p in range(indptr[j], indptr[j + 1]):
                acc[rows[p]] += values[p] * a


@nb.njit(parallel=True, cache=True)
def _transpose(indptr, rows, values, Y, out):
    """out[j] = sum over the nonzeros (r, v) of column j of v * Y[r]."""
    n = indptr.shape[0] - 1
    d = Y.shape[1]
    for j in nb.prange(n):
        for p in range(indptr[j], indptr[j + 1]):
            r = rows[p]
            v = values[p]
            for c in range(d):
                out[j, c] += v * Y[r, c]


def sparse_sketch_apply(indptr, rows, values, A, m, *, xp=None):
    if A.flags.f_contiguous and not A.flags.c_contiguous:
        # A is the transposed view of a row-major (d, n) array: sketch each of its rows.
        At = A.T
        out_t = np.zeros((At.shape[0], m), dtype=A.dtype)
        parts = max(1, min(nb.get_num_threads(), At.shape[0]))
        _right(indptr, rows, values.astype(A.dtype, copy=False), At, out_t, parts, 2048)
        return out_t.T
    A = np.ascontiguousarray(A)
    parts = max(1, min(nb.get_num_threads(), A.shape[0] // 1024))
    partial = np.zeros((parts, m, A.shape[1]), dtype=A.dtype)
    _left(indptr, rows, values.astype(A.dtype, copy=False), A, partial)
    return partial.sum(axis=0) if parts > 1 else partial[0]


def sparse_sketch_apply_csc(indptr, rows, values, A_csc, m):
    """``S @ A`` for a ``scipy.sparse`` CSC matrix ``A`` (a Fortran-ordered dense result)."""
    out_t = np.zeros((A_csc.shape[1], m), dtype=A_csc.dtype)
    _left_csc(
        indptr,
        rows,
        values.astype(A_csc.dtype, copy=False),
        A_csc.indptr,
        A_csc.indices,
        A_csc.data,
        out_t,
    )
    return out_t.T


def sparse_sketch_apply_transpose(indptr, rows, values, Y, *, xp=None):
    Y = np.ascontiguousarray(Y)
    out = np.zeros((indptr.shape[0] - 1, Y.shape[1]), dtype=Y.dtype)
    _transpose(indptr, rows, values.astype(Y.dtype, copy=False), Y, out)
    return out
