"""Numba kernels applying a sparse sketch stored by columns: one pass over ``A``.

Threads split the columns of ``S`` (rows of ``A``) and add into private copies of the output,
summed at the end, so no two threads write the same memory.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "sparse_sketch_apply",
    "sparse_sketch_apply_csc_fixed",
    "sparse_sketch_apply_csr",
    "sparse_sketch_apply_transpose",
]


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


@nb.njit(cache=True)
def _by_rows(indptr, rows, values, m):
    """The nonzeros of S regrouped by row (a counting sort): S in CSR form."""
    counts = np.zeros(m + 1, dtype=np.int64)
    for p in range(rows.shape[0]):
        counts[rows[p] + 1] += 1
    row_ptr = np.cumsum(counts)
    fill = row_ptr[:-1].copy()
    columns = np.empty(rows.shape[0], dtype=np.int64)
    row_values = np.empty(rows.shape[0], dtype=values.dtype)
    for j in range(indptr.shape[0] - 1):
        for p in range(indptr[j], indptr[j + 1]):
            slot = fill[rows[p]]
            columns[slot] = j
            row_values[slot] = values[p]
            fill[rows[p]] += 1
    return row_ptr, columns, row_values


@nb.njit(parallel=True, cache=True)
def _left_csr(row_ptr, columns, row_values, a_indptr, a_indices, a_data, out):
    """out[r] = sum over the nonzeros (j, v) of row r of S of v * A[j] for CSR A: each thread
    owns output rows, which stay in cache while the rows of A they need stream in."""
    for r in nb.prange(row_ptr.shape[0] - 1):
        acc = out[r]
        for p in range(row_ptr[r], row_ptr[r + 1]):
            j = columns[p]
            v = row_values[p]
            for q in range(a_indptr[j], a_indptr[j + 1]):
                acc[a_indices[q]] += v * a_data[q]


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


def sparse_sketch_apply_csr(indptr, rows, values, A_csr, m):
    """``S @ A`` for a ``scipy.sparse`` CSR matrix ``A``, in O(nnz(A) * nnz per column of S)
    work (Gustavson's row-by-row product with a dense accumulator per row of the result)."""
    row_ptr, columns, row_values = _by_rows(indptr, rows, values.astype(A_csr.dtype), m)
    out = np.zeros((m, A_csr.shape[1]), dtype=A_csr.dtype)
    _left_csr(row_ptr, columns, row_values, A_csr.indptr, A_csr.indices, A_csr.data, out)
    return out


@nb.njit(parallel=True, cache=True)
def _left_csc_packed(packed, scale, a_indptr, a_indices, a_data, out_t):
    """out_t[c] = S @ A[:, c] for CSC A and S with a fixed number of nonzeros per column,
    packed as ``+-(row + 1)`` (int32, the sign of the entry in the sign of the code): one cache
    line of S per nonzero of A, and the row of out_t being filled stays in L1."""
    k = packed.shape[1]
    for c in nb.prange(a_indptr.shape[0] - 1):
        acc = out_t[c]
        for q in range(a_indptr[c], a_indptr[c + 1]):
            j = a_indices[q]
            a = scale * a_data[q]
            for t in range(k):
                code = packed[j, t]
                if code > 0:
                    acc[code - 1] += a
                else:
                    acc[-code - 1] -= a


def sparse_sketch_apply_csc_fixed(rows, signs, scale, A_csc, m):
    """``S @ A`` for a ``scipy.sparse`` CSC ``A`` and an ``S`` with ``rows.shape[1]`` nonzeros
    ``scale * signs`` per column (SASO, CountSketch); a Fortran-ordered dense result."""
    packed = (np.where(signs > 0, 1, -1) * (rows + 1)).astype(np.int32)
    out_t = np.zeros((A_csc.shape[1], m), dtype=A_csc.dtype)
    _left_csc_packed(
        packed, A_csc.dtype.type(scale), A_csc.indptr, A_csc.indices, A_csc.data, out_t
    )
    return out_t.T


def sparse_sketch_apply_transpose(indptr, rows, values, Y, *, xp=None):
    Y = np.ascontiguousarray(Y)
    out = np.zeros((indptr.shape[0] - 1, Y.shape[1]), dtype=Y.dtype)
    _transpose(indptr, rows, values.astype(Y.dtype, copy=False), Y, out)
    return out
