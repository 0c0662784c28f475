"""The observed entries of a partially known matrix, checked once and indexed by row and column.

:func:`observations` accepts the three forms :func:`~sketchla.completion.complete` takes and
returns :class:`Observations`: host NumPy arrays sorted both ways, so that each half-step of
alternating minimization reads the entries of one row (or column) as a contiguous slice.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._array.namespace import array_namespace, device, is_array, to_numpy

__all__ = ["DUPLICATE_POLICIES", "Index", "Observations", "observations"]

#: What to do with an ``(i, j)`` given more than once: refuse it, or keep the mean of its values.
DUPLICATE_POLICIES = ("error", "mean")


@dataclass(frozen=True)
class Index:
    """Entries grouped by target: target ``t`` owns ``positions[ptr[t]:ptr[t + 1]]`` (indices
    into the other factor) and ``values`` over the same slice; ``order`` maps each slot back to
    the entry's place in :attr:`Observations.rows`."""

    ptr: np.ndarray
    positions: np.ndarray
    values: np.ndarray
    order: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.ptr)


@dataclass(frozen=True)
class Observations:
    """Observed entries ``M[rows[q], cols[q]] = values[q]`` of an ``shape`` matrix (host arrays,
    no duplicates, sorted by row then column)."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]
    dtype: np.dtype
    by_row: Index = field(repr=False)
    by_col: Index = field(repr=False)

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])

    def subset(self, keep: np.ndarray) -> Observations:
        """The observations at the (sorted) positions ``keep``."""
        return _indexed(self.rows[keep], self.cols[keep], self.values[keep], self.shape, self.dtype)


def observations(
    observed: Any,
    shape: Any = None,
    *,
    mask: Any = None,
    duplicates: str = "error",
    check_finite: bool = True,
) -> tuple[Observations, Any, Any]:
    """Check and index ``observed``; return it with the namespace and device results use.

    ``observed`` is ``(rows, cols, values)`` (with ``shape``), a ``scipy.sparse`` matrix or
    array whose stored entries, explicit zeros included, are the observations, or a dense
    matrix with a boolean ``mask`` (True where observed) or a ``numpy.ma.MaskedArray``.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    xp = None
    if sp.issparse(observed):
        if mask is not None:
            raise TypeError("mask is for a dense observed matrix, not a scipy.sparse one")
        coo = observed.tocoo()
        shape = _matching_shape(shape, coo.shape)
        rows, cols, values = coo.row, coo.col, coo.data
    elif isinstance(observed, np.ma.MaskedArray):
        if mask is not None:
            raise TypeError("mask is given twice: by the MaskedArray and by mask=")
        dense = np.ma.getdata(observed)
        _require_matrix(dense)
        shape = _matching_shape(shape, dense.shape)
        rows, cols = np.nonzero(~np.ma.getmaskarray(observed))
        values = dense[rows, cols]
    elif isinstance(observed, tuple | list):
        if mask is not None:
            raise TypeError("mask is for a dense observed matrix, not (rows, cols, values)")
        if len(observed) != 3:
            raise ValueError(
                f"observed must be (rows, cols, values), got a sequence of {len(observed)} items"
            )
        if shape is None:
            raise TypeError("shape is required when observed is (rows, cols, values)")
        rows, cols, values = observed
        arrays = [x for x in observed if is_array(x)]
        xp = array_namespace(*arrays) if arrays else None  # (mixed libraries: a BackendError)
        if arrays and not is_array(values):
            raise TypeError("values must be an array when rows or cols are")
        where = device(values) if arrays else None
        rows, cols, values = to_numpy(rows), to_numpy(cols), to_numpy(values)
        shape = _shape(shape)
    else:
        if mask is None:
            raise TypeError(
                "observed must be (rows, cols, values), a scipy.sparse matrix, a "
                "numpy.ma.MaskedArray, or a dense matrix with mask=; got "
                f"{type(observed).__name__} without a mask"
            )
        xp = array_namespace(observed)
        where = device(observed)
        dense = to_numpy(observed)
        _require_matrix(dense)
        shape = _matching_shape(shape, dense.shape)
        mask = to_numpy(mask)
        if mask.dtype != np.bool_ or mask.shape != dense.shape:
            raise ValueError(
                f"mask must be a boolean array of observed's shape {dense.shape}, got dtype "
                f"{mask.dtype} and shape {mask.shape}"
            )
        rows, cols = np.nonzero(mask)
        values = dense[rows, cols]
    if xp is None:
        xp, where = np, None
    return _checked(rows, cols, values, shape, duplicates, check_finite), xp, where


def _checked(rows, cols, values, shape, duplicates, check_finite) -> Observations:
    rows, cols = _indices(rows, "rows", shape[0]), _indices(cols, "cols", shape[1])
    values = np.asarray(values)
    if not (len(rows) == len(cols) == len(values)):
        raise ValueError(
            "rows, cols and values must have one length, got "
            f"{len(rows)}, {len(cols)} and {len(values)}"
        )
    if len(values) == 0:
        raise ValueError("observed holds no entries: at least one observation is needed")
    if values.dtype.kind == "c":
        raise TypeError(f"values must be real, got dtype {values.dtype}")
    if values.dtype.kind not in "fiub":
        raise TypeError(f"values must be numbers, got dtype {values.dtype}")
    dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    values = values.astype(np.float64)
    if check_finite and not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        raise ValueError(f"values must be finite, got {bad} non-finite observation(s)")
    linear = rows * np.int64(shape[1]) + cols
    order = np.argsort(linear, kind="stable")
    linear, values = linear[order], values[order]
    repeated = linear[1:] == linear[:-1]
    if repeated.any():
        if duplicates == "error":
            first = int(linear[1:][repeated][0])
            raise ValueError(
                f"observed gives entry ({first // shape[1]}, {first % shape[1]}) more than once "
                f"({int(repeated.sum())} repeats in all); pass duplicates='mean' to average them"
            )
        starts = np.flatnonzero(np.concatenate(([True], ~repeated)))
        counts = np.diff(np.append(starts, len(linear)))
        values = np.add.reduceat(values, starts) / counts
        linear = linear[starts]
    return _indexed(linear // shape[1], linear % shape[1], values, shape, dtype)


def _indexed(rows, cols, values, shape, dtype) -> Observations:
    by_row = _index(rows, cols, values, shape[0])
    by_col = _index(cols, rows, values, shape[1])
    return Observations(rows, cols, values, shape, np.dtype(dtype), by_row, by_col)


def _index(targets, positions, values, n_targets) -> Index:
    order = np.argsort(targets, kind="stable")
    ptr = np.zeros(n_targets + 1, dtype=np.int64)
    np.cumsum(np.bincount(targets, minlength=n_targets), out=ptr[1:])
    return Index(ptr, np.ascontiguousarray(positions[order]), values[order], order)


def _indices(x, name, bound) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    if x.size and x.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
    x = x.astype(np.int64)
    if x.size and (x.min() < 0 or x.max() >= bound):
        bad = x[(x < 0) | (x >= bound)][0]
        raise ValueError(f"{name} must lie in [0, {bound}), got {int(bad)}")
    return x


def _require_matrix(dense) -> None:
    if dense.ndim != 2:
        raise ValueError(f"observed must be a 2-D matrix, got shape {dense.shape}")


def _shape(shape) -> tuple[int, int]:
    try:
        m, n = (operator.index(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be two integers (m, n), got {shape!r}") from None
    if m < 1 or n < 1:
        raise ValueError(f"shape must be positive, got {(m, n)}")
    return m, n


def _matching_shape(shape, actual) -> tuple[int, int]:
    actual = _shape(actual)
    if shape is not None and _shape(shape) != actual:
        raise ValueError(f"shape {tuple(shape)} does not match observed's shape {actual}")
    return actual
