"""FARMS: the ESD of a weight matrix from fixed-aspect-ratio submatrices (Hu, Goel, Killiakov &
Yang, "Eigenspectrum analysis of neural networks without aspect ratio bias", ICML 2025).

The ESD of an ``N x M`` matrix depends on its aspect ratio ``Q = N / M`` (the Marchenko-Pastur
law of its random part changes shape with ``Q``), so power-law exponents of layers of different
shapes are not comparable. FARMS samples an overlapping grid of ``rows x (aspect_ratio rows)``
windows, pools their eigenvalues and fits once: every layer is then seen through matrices of one
aspect ratio. The grid is the reference code's "fixed sampling": ``windows`` starts per
dimension, evenly stepped from 0 by ``(length - size) // (windows - 1)`` (so the last window may
end a few rows short of the edge, as in the reference). A convolution weight gets the same grid
on each kernel position's slice; the reference code instead takes one corner submatrix per
slice.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace
from .esd import esd, weight_matrices
from .powerlaw import PowerLawFit, fit_powerlaw

__all__ = ["farms", "farms_esd", "window_starts"]

#: Entries per batch of windows handed to one batched eigenvalue call (bounds the memory of
#: the window copies and their Gram matrices).
BATCH_ENTRIES = 2**24


def window_starts(length: int, size: int, count: int) -> list[int]:
    """``count`` window starts along a dimension of ``length`` for windows of ``size``: the
    reference code's evenly stepped starts (``step = (length - size) // (count - 1)``), clamped
    to ``length - size``, without repeats."""
    if size >= length or count <= 1:
        return [0]
    step = max(1, (length - size) // (count - 1))
    number = min(count, (length - size) // step + 1)
    return sorted({min(i * step, length - size) for i in range(number)})


def farms_esd(
    W: Any,
    *,
    rows: int = 2000,
    aspect_ratio: float = 1.0,
    windows: int = 15,
    dtype: str = "float64",
) -> np.ndarray:
    """The pooled eigenvalues of FARMS's windows of ``W`` (ascending, float64 NumPy).

    Parameters
    ----------
    W : array, shape (N, M), or a convolution weight (out, in, k1, ...)
        Any array library; a convolution weight is taken slice by slice (each kernel position's
        ``out x in`` matrix), every slice with the same windows.
    rows : int
        Rows of a window, at most ``min(N, M)`` (the paper's LLM setting: 2000).
    aspect_ratio : float
        Columns per row of a window (the paper uses 1).
    windows : int
        Window starts per dimension (the paper: 15, so up to 225 windows).
    dtype : {"float64", "float32"}
        Precision of the eigenvalues (see :func:`esd`).

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.spectral import farms_esd
    >>> W = np.random.default_rng(0).standard_normal((400, 100))
    >>> farms_esd(W, rows=50, windows=3).shape  # 3 x 3 windows of 50 x 50
    (450,)
    """
    rows = v.check_int(rows, "rows", minimum=1)
    windows = v.check_int(windows, "windows", minimum=1)
    try:
        ratio = float(aspect_ratio)
    except (TypeError, ValueError):
        raise TypeError(f"aspect_ratio must be a positive number, got {aspect_ratio!r}") from None
    if isinstance(aspect_ratio, bool) or not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"aspect_ratio must be positive and finite, got {aspect_ratio!r}")
    pooled = []
    for matrix in weight_matrices(W):
        N, M = matrix.shape
        r, c = window_shape(N, M, rows, ratio)
        starts = [
            (i, j) for i in window_starts(N, r, windows) for j in window_starts(M, c, windows)
        ]
        pooled.extend(_window_eigenvalues(matrix, starts, r, c, dtype))
    return np.sort(np.concatenate(pooled))


def window_shape(N: int, M: int, rows: int, aspect_ratio: float) -> tuple[int, int]:
    """The ``(rows, columns)`` of FARMS's windows in an ``N x M`` matrix: ``rows`` (at most
    ``min(N, M)``) by ``aspect_ratio`` times as many columns, both shrunk when that is wider
    than the matrix."""
    r = min(rows, N, M)
    c = max(1, int(r * aspect_ratio))
    if c > M:  # a wide window that does not fit: shrink both sides, keep the ratio
        c = M
        r = max(1, min(r, int(M / aspect_ratio)))
    return r, c


def _window_eigenvalues(matrix: Any, starts: list, r: int, c: int, dtype: str) -> list:
    xp = array_namespace(matrix)
    per_batch = max(1, BATCH_ENTRIES // (r * c))
    out = []
    for first in range(0, len(starts), per_batch):
        chunk = starts[first : first + per_batch]
        batch = xp.stack([matrix[i : i + r, j : j + c] for i, j in chunk])
        out.append(esd(batch, dtype=dtype).reshape(-1))
    return out


def farms(
    W: Any,
    *,
    rows: int = 2000,
    aspect_ratio: float = 1.0,
    windows: int = 15,
    xmin: str | float = "ks",
    dtype: str = "float64",
) -> PowerLawFit:
    """A power-law fit of FARMS's pooled ESD of ``W`` (see :func:`farms_esd` for the
    windows and :func:`fit_powerlaw` for ``xmin``).

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.spectral import farms
    >>> W = np.random.default_rng(0).standard_normal((400, 100))
    >>> fit = farms(W, rows=50, windows=3)
    >>> fit.n_tail > 0
    True
    """
    evals = farms_esd(W, rows=rows, aspect_ratio=aspect_ratio, windows=windows, dtype=dtype)
    return fit_powerlaw(evals, xmin=xmin)
