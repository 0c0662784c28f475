"""The grid Poisson stencil ``Y = D X - F * (sum of the 2 ndim neighbours of F X)`` on a 2-D or
3-D grid ``X`` (zeros beyond the edges), with ``D`` the diagonal and ``F`` the 0/1 fluid mask
(see :class:`sketchla.solvers.PoissonGrid`).

The portable version adds shifted copies (functional: JAX works too); the numba version makes
one pass over the cells.
"""

from __future__ import annotations

from typing import Any

__all__ = ["poisson_apply"]


def poisson_apply(X: Any, diagonal: Any, fluid: Any, *, xp: Any) -> Any:
    """Portable version."""
    Xf = X * fluid
    neighbours = xp.zeros_like(X)
    for axis in range(X.ndim):
        neighbours = neighbours + _shift(Xf, axis, 1, xp) + _shift(Xf, axis, -1, xp)
    return diagonal * X - fluid * neighbours


def _shift(X: Any, axis: int, step: int, xp: Any) -> Any:
    """``X`` moved by ``step`` cells along ``axis``, zeros shifted in."""
    size = X.shape[axis]
    if size == 1:
        return xp.zeros_like(X)
    keep = [slice(None)] * X.ndim
    pad_shape = list(X.shape)
    pad_shape[axis] = 1
    zeros = xp.zeros(tuple(pad_shape), dtype=X.dtype, device=X.device)
    if step > 0:  # out[i] = X[i - 1]
        keep[axis] = slice(0, size - 1)
        return xp.concat([zeros, X[tuple(keep)]], axis=axis)
    keep[axis] = slice(1, size)
    return xp.concat([X[tuple(keep)], zeros], axis=axis)
