"""Numba ``scatter_add`` for NumPy arrays: one pass over the rows of ``values``."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["scatter_add"]


@nb.njit(cache=True)
def _scatter_add_rows(indices, values, out):
    for i in range(indices.shape[0]):
        row = indices[i]
        for j in range(values.shape[1]):
            out[row, j] += values[i, j]


def scatter_add(indices, values, n_rows, *, xp=None):
    """``out[indices[i]] += values[i]`` into a fresh zero array of ``n_rows`` rows."""
    values2d = values.reshape(values.shape[0], math.prod(values.shape[1:]))
    out = np.zeros((n_rows, values2d.shape[1]), dtype=values.dtype)
    _scatter_add_rows(np.asarray(indices), values2d, out)
    return out.reshape((n_rows, *values.shape[1:]))
