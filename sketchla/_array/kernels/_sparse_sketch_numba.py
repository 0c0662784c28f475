"""Numba kernels applying a sparse sketch stored by columns: one pass over ``A``.

Threads split the columns of ``S`` (rows of ``A``) and add into private copies of the output,
summed at the end, so no two threads write the same memory.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "sparse_sketch_apply",
    "sparse_sketch_apply_csr",
    "sparse_sketch_apply_fixed",
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
def _column_counts(a_indptr, a_indices, bounds, counts):
    """counts[t, c] = nonzeros of column c among rows ``bounds[t]:bounds[t + 1]`` of CSR A."""
    for t in nb.prange(bounds.shape[0] - 1):
        tally = counts[t]
        for q in range(a_indptr[bounds[t]], a_indptr[bounds[t + 1]]):
            tally[a_indices[q]] += 1


@nb.njit(inline="always")
def _sign_code(row, value):
    """``row`` if ``value > 0`` else ``~row`` (= -row - 1): the sign rides in the sign bit."""
    return row if value > 0 else ~row


@nb.njit(parallel=True, cache=True)
def _scatter_records(rows, values, a_indptr, a_indices, a_data, bounds, cursor, rec_a, rec_s):
    """Regroup the nonzeros of CSR A by column (a counting sort), each carrying the column of S
    it meets: record p holds ``a = A[i, c]`` and the k signed rows of ``S[:, i]``. Rows of A,
    and so columns of S, are read in order; thread t owns rows ``bounds[t]:bounds[t + 1]``
    and the slots ``cursor[t, c]...`` of each column ``c``."""
    k = rows.shape[1]
    for t in nb.prange(bounds.shape[0] - 1):
        slot = cursor[t]
        codes = np.empty(k, dtype=rec_s.dtype)
        for i in range(bounds[t], bounds[t + 1]):
            if a_indptr[i] == a_indptr[i + 1]:
                continue
            for s in range(k):
                codes[s] = _sign_code(rows[i, s], values[i, s])
            for q in range(a_indptr[i], a_indptr[i + 1]):
                c = a_indices[q]
                p = slot[c]
                slot[c] = p + 1
                rec_a[p] = a_data[q]
                for s in range(k):
                    rec_s[p, s] = codes[s]


@nb.njit(parallel=True, cache=True)
def _accumulate_records(col_ptr, rec_a, rec_s, scale, out_t):
    """out_t[c] = S @ A[:, c] from column c's records, read in order; the row of out_t being
    filled stays in L1, and the sign is applied without a branch."""
    k = rec_s.shape[1]
    for c in nb.prange(col_ptr.shape[0] - 1):
        acc = out_t[c]
        for p in range(col_ptr[c], col_ptr[c + 1]):
            a = scale * rec_a[p]
            for s in range(k):
                code = np.int64(rec_s[p, s])
                negative = code >> 63  # 0 or -1
                acc[code ^ negative] += a * (1 | negative)


def sparse_sketch_apply_fixed(rows, values, scale, A_csr, m):
    """``S @ A`` for a ``scipy.sparse`` CSR ``A`` and an ``S`` with ``k = rows.shape[1]``
    nonzeros per column, ``S[rows[j, s], j] = scale * sign(values[j, s])`` (SASO, CountSketch);
    a Fortran-ordered dense result.

    Fetching column ``j`` of ``S`` for each nonzero of column ``c`` of ``A`` would be a random
    read of megabytes of structure per nonzero. Instead the nonzeros of ``A`` are regrouped by
    column in one counting-sort pass that reads ``A`` and ``S`` in row order and copies each
    nonzero together with its column of ``S`` (``8 + 2k`` bytes for ``m <= 2**15``); a second
    pass adds each column's records into one row of the result, which stays in L1. Extra memory:
    ``nnz(A) * (8 + 2k)`` bytes.
    """
    n_rows, n_cols = A_csr.shape
    k = rows.shape[1]
    threads = max(1, min(nb.get_num_threads(), n_rows))
    nnz_a = A_csr.indptr[-1]
    bounds = np.searchsorted(A_csr.indptr, np.linspace(0, nnz_a, threads + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, n_rows
    counts = np.zeros((threads, n_cols), dtype=np.int64)
    _column_counts(A_csr.indptr, A_csr.indices, bounds, counts)
    starts = np.zeros(threads * n_cols + 1, dtype=np.int64)
    np.cumsum(counts.T.reshape(-1), out=starts[1:])  # column-major: column c, then thread t
    cursor = starts[:-1].reshape(n_cols, threads).T.copy()  # a copy: the scatter advances it
    col_ptr = starts[::threads]
    rec_a = np.empty(nnz_a, dtype=A_csr.dtype)
    rec_s = np.empty((nnz_a, k), dtype=np.int16 if m <= 2**15 else np.int32)
    _scatter_records(
        rows, values, A_csr.indptr, A_csr.indices, A_csr.data, bounds, cursor, rec_a, rec_s
    )
    out_t = np.zeros((n_cols, m), dtype=A_csr.dtype)
    _accumulate_records(col_ptr, rec_a, rec_s, A_csr.dtype.type(scale), out_t)
    return out_t.T


def sparse_sketch_apply_transpose(indptr, rows, values, Y, *, xp=None):
    Y = np.ascontiguousarray(Y)
    out = np.zeros((indptr.shape[0] - 1, Y.shape[1]), dtype=Y.dtype)
    _transpose(indptr, rows, values.astype(Y.dtype, copy=False), Y, out)
    return out
