"""Sparse sketches stored by columns: CountSketch, SASO (sparse sign / OSNAP) and very sparse
random projections. None of them ever forms a dense ``m x n`` matrix.

Each family draws the nonzeros of column ``j`` from values addressed by ``j`` alone, so a block of
columns (a row block of ``A``, ``offset=``) is generated on its own:

* CountSketch (Clarkson & Woodruff 2013): one nonzero ``+-1`` per column, in row
  ``h(j)`` uniform on ``[0, m)``; ``h(j)`` is value ``j`` of stream 0 (integers), the sign
  value ``j`` of stream 1.
* SASO (RandBLAS's short-axis-sparse operator; Nelson & Nguyen's OSNAP): exactly ``nnz``
  nonzeros ``+-1/sqrt(nnz)`` per column in distinct rows, chosen by Floyd's algorithm from the
  uniforms ``j * nnz + t``, ``t < nnz``, of stream 0; signs from stream 1 at the same indices.
* Very sparse projection (Li, Hastie & Church 2006): each entry is ``+-sqrt(s/m)`` with
  probability ``1/(2s)`` each and 0 otherwise. Column ``j``'s nonzeros are found by geometric
  skips: step ``t`` uses the uniform at index ``t * 2**40 + j`` of stream 0 and the sign at the
  same index of stream 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace, kernel, namespace_for, to_numpy
from .operator import SketchOperator

__all__ = ["CountSketch", "SASOSketch", "VerySparseSketch"]

_STEP_STRIDE = 2**40


class _ColumnSparseSketch(SketchOperator):
    """Shared machinery: a family supplies the structure of any block of columns, by columns
    (CSC-like ``indptr``, ``rows``, ``values``)."""

    def _structure(self, start: int, stop: int, dtype: Any, xp: Any, device: Any):
        """``(indptr, rows, values)`` of ``S[:, start:stop]`` (int64, int64, ``dtype``)."""
        raise NotImplementedError

    def _apply(self, A: Any, offset: int) -> Any:
        xp = array_namespace(A)
        indptr, rows, values = self._structure(offset, offset + A.shape[0], A.dtype, xp, A.device)
        return kernel("sparse_sketch_apply", xp)(indptr, rows, values, A, self._m, xp=xp)

    def _apply_sparse(self, A, offset: int) -> np.ndarray:
        from .._array.kernels._sparse_sketch_numba import sparse_sketch_apply_csr

        xp = namespace_for("numpy")
        indptr, rows, values = self._structure(offset, offset + A.shape[0], A.dtype, xp, "cpu")
        return sparse_sketch_apply_csr(indptr, rows, values, A, self._m)

    def _apply_transpose(self, Y: Any) -> Any:
        xp = array_namespace(Y)
        indptr, rows, values = self._structure(0, self._n, Y.dtype, xp, Y.device)
        return kernel("sparse_sketch_apply_transpose", xp)(indptr, rows, values, Y, xp=xp)

    def to_sparse(self, dtype: Any = np.float64) -> Any:
        """``S`` as a :class:`scipy.sparse.csc_array` ``(m, n)``: the same nonzeros that the
        fast application paths use, stored (``O(nnz)`` memory).

        Examples
        --------
        >>> from sketchla.sketch import sketch_operator
        >>> S = sketch_operator("very_sparse", 8, 10_000, seed=0)
        >>> S.to_sparse().shape
        (8, 10000)
        """
        import scipy.sparse as sp

        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        np_xp = namespace_for("numpy")
        indptr, rows, values = self._structure(0, self._n, dtype, np_xp, "cpu")
        return sp.csc_array((values, rows, indptr), shape=self.shape)

    def _dense(self, xp: Any, device: Any, dtype: Any) -> Any:
        np_xp = namespace_for("numpy")
        indptr, rows, values = (
            to_numpy(a) for a in self._structure(0, self._n, np.float64, np_xp, "cpu")
        )
        dense = np.zeros(self.shape)
        columns = np.repeat(np.arange(self._n), np.diff(indptr))
        np.add.at(dense, (rows, columns), values)
        return xp.asarray(dense, dtype=dtype, device=device)


class _FixedColumnSketch(_ColumnSparseSketch):
    """A family with the same number ``k`` of nonzeros ``+-scale`` in every column."""

    def _rows_and_signs(self, start: int, stop: int, dtype: Any, xp: Any, device: Any):
        """Rows (int64) and signs (``dtype``) of the nonzeros of ``S[:, start:stop]``, both of
        shape ``(stop - start, k)``."""
        raise NotImplementedError

    def _entry_scale(self) -> float:
        raise NotImplementedError

    def _structure(self, start, stop, dtype, xp, device):
        rows, signs = self._rows_and_signs(start, stop, dtype, xp, device)
        k = rows.shape[1]
        indptr = xp.arange(0, (stop - start + 1) * k, k, dtype=xp.int64, device=device)
        values = xp.reshape(signs, (-1,))
        if self._entry_scale() != 1.0:
            values = values * self._entry_scale()
        return indptr, xp.reshape(rows, (-1,)), values

    def _apply_sparse(self, A, offset: int) -> np.ndarray:
        from .._array.kernels._sparse_sketch_numba import sparse_sketch_apply_fixed

        rows, signs = self._rows_and_signs(
            offset, offset + A.shape[0], np.int8, namespace_for("numpy"), "cpu"
        )
        return sparse_sketch_apply_fixed(rows, signs, self._entry_scale(), A, self._m)


class CountSketch(_FixedColumnSketch):
    """One ``+-1`` per column in a uniformly random row: ``S @ A`` in one pass over ``A``.

    A subspace embedding for ``d``-dimensional subspaces once ``m ~ d**2 / eps**2``; the
    cheapest sketch to apply, especially to sparse ``A`` (O(nnz(A)) work).
    """

    kind = "countsketch"
    nonfinite_reaches_output = True

    def _apply(self, A: Any, offset: int) -> Any:
        xp = array_namespace(A)
        return kernel("countsketch_apply", xp)(
            A,
            self._m,
            offset,
            rows_generator=self.generator(0),
            signs_generator=self.generator(1),
            xp=xp,
        )

    def _entry_scale(self) -> float:
        return 1.0

    def _rows_and_signs(self, start, stop, dtype, xp, device):
        k = stop - start
        rows = self.generator(0).integers(
            0, self._m, k, dtype=xp.int64, xp=xp, device=device, start=start
        )
        signs = self.generator(1).signs(k, dtype=dtype, xp=xp, device=device, start=start)
        return xp.reshape(rows, (k, 1)), xp.reshape(signs, (k, 1))


class SASOSketch(_FixedColumnSketch):
    """Exactly ``nnz`` entries ``+-1/sqrt(nnz)`` per column, in distinct random rows.

    A subspace embedding once ``m ~ d log d / eps**2`` with ``nnz ~ log d / eps``; in practice
    ``nnz`` of 2 to 8 is enough (the default is 8, RandBLAS's advice).
    """

    kind = "saso"
    nonfinite_reaches_output = True

    def __init__(self, m: int, n: int, *, nnz: int = 8, seed: Any = None) -> None:
        super().__init__(m, n, seed=seed)
        self._nnz = v.check_positive_int(nnz, "nnz")
        if self._nnz > self._m:
            raise ValueError(f"nnz must be <= m={self._m}, got nnz={self._nnz}")

    @property
    def nnz(self) -> int:
        """Nonzeros per column."""
        return self._nnz

    def _parameters(self) -> str:
        return f"nnz={self._nnz}"

    def _entry_scale(self) -> float:
        return 1.0 / math.sqrt(self._nnz)

    def _rows_and_signs(self, start, stop, dtype, xp, device):
        """Rows by Floyd's sampling without replacement."""
        k, nnz = stop - start, self._nnz
        u = self.generator(0).uniform(
            (k, nnz), dtype=xp.float64, xp=xp, device=device, start=start * nnz
        )
        rows = kernel("floyd_sample", xp)(u, self._m, xp=xp)
        signs = self.generator(1).signs(
            (k, nnz), dtype=dtype, xp=xp, device=device, start=start * nnz
        )
        return rows, signs


class VerySparseSketch(_ColumnSparseSketch):
    """Entries ``+-sqrt(s/m)`` with probability ``1/(2s)`` each, else 0 (Li, Hastie & Church).

    The default density ``1/s`` with ``s = sqrt(n)`` is scikit-learn's ``density='auto'`` and
    the projection FastRP uses; ``s = 1`` gives a dense Rademacher matrix, ``s = 3``
    Achlioptas's sparse projection.
    """

    kind = "very_sparse"

    def __init__(self, m: int, n: int, *, s: float | None = None, seed: Any = None) -> None:
        super().__init__(m, n, seed=seed)
        if s is None:
            s = math.sqrt(self._n)
        elif isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, float, np.number)):
            raise TypeError(f"s must be a real number >= 1, got {type(s).__name__} {s!r}")
        s = float(s)
        if not math.isfinite(s) or s < 1:
            raise ValueError(f"s must be a finite number >= 1, got {s}")
        self._s = s

    @property
    def s(self) -> float:
        """Inverse density: each entry is nonzero with probability ``1/s``."""
        return self._s

    def _parameters(self) -> str:
        return f"s={self._s:g}"

    def _structure(self, start, stop, dtype, xp, device):
        k, m = stop - start, self._m
        log_skip = math.log1p(-1.0 / self._s) if self._s > 1 else -math.inf
        columns = xp.arange(k, dtype=xp.int64, device=device)
        position = xp.full(k, -1, dtype=xp.int64, device=device)
        active = xp.ones(k, dtype=xp.bool, device=device)
        found_columns, found_rows, found_signs = [], [], []
        step = 0
        while bool(xp.any(active)):
            index = step * _STEP_STRIDE + start
            u = self.generator(0).uniform(k, dtype=xp.float64, xp=xp, device=device, start=index)
            # Geometric skip with success probability 1/s: ceil(log(1 - u) / log(1 - 1/s)).
            skip = xp.ceil(xp.log1p(-u) / log_skip) if log_skip > -math.inf else u * 0 + 1
            # a skip past row m ends the column; clipping first keeps the int64 cast exact
            skip = xp.clip(skip, 1.0, float(m + 1))
            position = position + xp.astype(skip, xp.int64)
            active = active & (position < m)
            signs = self.generator(1).signs(k, dtype=dtype, xp=xp, device=device, start=index)
            found_columns.append(columns[active])
            found_rows.append(position[active])
            found_signs.append(signs[active])
            step += 1
        cols = xp.concat(found_columns)
        order = xp.argsort(cols, stable=True)
        rows = xp.take(xp.concat(found_rows), order)
        values = xp.take(xp.concat(found_signs), order) * math.sqrt(self._s / m)
        counts = _bincount(cols, k, xp, device)
        indptr = xp.concat([xp.zeros(1, dtype=xp.int64, device=device), xp.cumulative_sum(counts)])
        return indptr, rows, values


def _bincount(values: Any, length: int, xp: Any, device: Any) -> Any:
    ones = xp.ones((values.shape[0], 1), dtype=xp.int64, device=device)
    return xp.reshape(kernel("scatter_add", xp)(values, ones, length, xp=xp), (-1,))
