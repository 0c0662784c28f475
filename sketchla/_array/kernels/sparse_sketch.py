"""Applying a sparse sketch stored by columns (CSC: ``indptr``, ``rows``, ``values``).

``S[:, j]`` has nonzeros ``values[indptr[j]:indptr[j+1]]`` in rows ``rows[indptr[j]:indptr[j+1]]``.
The portable versions gather the rows of ``A`` that each nonzero touches and add them up with the
``scatter_add`` kernel, in chunks that bound the temporary memory.
"""

from __future__ import annotations

from typing import Any

from .registry import kernel

__all__ = ["column_of_nonzeros", "sparse_sketch_apply", "sparse_sketch_apply_transpose"]

_CHUNK_ENTRIES = 2**22  # nonzeros x columns of A per gathered chunk


def column_of_nonzeros(indptr: Any, nnz: int, xp: Any) -> Any:
    """The column index of each nonzero (CSC ``indptr`` expanded)."""
    counts = indptr[1:] - indptr[:-1]
    columns = xp.arange(counts.shape[0], dtype=xp.int64, device=indptr.device)
    return xp.repeat(columns, counts) if nnz else xp.zeros(0, dtype=xp.int64, device=indptr.device)


def sparse_sketch_apply(indptr: Any, rows: Any, values: Any, A: Any, m: int, *, xp: Any) -> Any:
    """``S @ A`` for a sparse ``S`` of ``m`` rows given by columns, dense ``A``."""
    nnz = rows.shape[0]
    columns = column_of_nonzeros(indptr, nnz, xp)
    scatter = kernel("scatter_add", xp)
    out = xp.zeros((m, A.shape[1]), dtype=A.dtype, device=A.device)
    step = max(1, _CHUNK_ENTRIES // max(1, A.shape[1]))
    for lo in range(0, nnz, step):
        hi = min(lo + step, nnz)
        gathered = xp.take(A, columns[lo:hi], axis=0) * xp.reshape(values[lo:hi], (-1, 1))
        out = out + scatter(rows[lo:hi], gathered, m, xp=xp)
    return out


def sparse_sketch_apply_transpose(indptr: Any, rows: Any, values: Any, Y: Any, *, xp: Any) -> Any:
    """``S.T @ Y`` for the same ``S`` and a dense ``Y`` of ``m`` rows."""
    n = indptr.shape[0] - 1
    nnz = rows.shape[0]
    columns = column_of_nonzeros(indptr, nnz, xp)
    gathered = xp.take(Y, rows, axis=0) * xp.reshape(values, (-1, 1))
    return kernel("scatter_add", xp)(columns, gathered, n, xp=xp)
