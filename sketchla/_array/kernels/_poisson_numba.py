"""Numba grid Poisson stencil for NumPy: one parallel pass over the cells (the portable version
allocates a shifted copy of the grid per face)."""

from __future__ import annotations

import numba as nb
import numpy as np

from .poisson import poisson_apply as _portable

__all__ = ["poisson_apply"]


@nb.njit(parallel=True, cache=True)
def _apply_3d(X, D, F, Y):
    n0, n1, n2 = X.shape
    for i in nb.prange(n0):
        for j in range(n1):
            for k in range(n2):
                s = 0.0
                if i > 0:
                    s += F[i - 1, j, k] * X[i - 1, j, k]
                if i < n0 - 1:
                    s += F[i + 1, j, k] * X[i + 1, j, k]
                if j > 0:
                    s += F[i, j - 1, k] * X[i, j - 1, k]
                if j < n1 - 1:
                    s += F[i, j + 1, k] * X[i, j + 1, k]
                if k > 0:
                    s += F[i, j, k - 1] * X[i, j, k - 1]
                if k < n2 - 1:
                    s += F[i, j, k + 1] * X[i, j, k + 1]
                Y[i, j, k] = D[i, j, k] * X[i, j, k] - F[i, j, k] * s


@nb.njit(parallel=True, cache=True)
def _apply_2d(X, D, F, Y):
    n0, n1 = X.shape
    for i in nb.prange(n0):
        for j in range(n1):
            s = 0.0
            if i > 0:
                s += F[i - 1, j] * X[i - 1, j]
            if i < n0 - 1:
                s += F[i + 1, j] * X[i + 1, j]
            if j > 0:
                s += F[i, j - 1] * X[i, j - 1]
            if j < n1 - 1:
                s += F[i, j + 1] * X[i, j + 1]
            Y[i, j] = D[i, j] * X[i, j] - F[i, j] * s


def poisson_apply(X, diagonal, fluid, *, xp=None):
    if X.dtype != diagonal.dtype or X.dtype != fluid.dtype:
        return _portable(X, diagonal, fluid, xp=xp)
    X = np.ascontiguousarray(X)
    Y = np.empty_like(X)
    (_apply_3d if X.ndim == 3 else _apply_2d)(X, diagonal, fluid, Y)
    return Y
