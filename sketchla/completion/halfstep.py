"""One half-step of alternating minimization: every row (or column) of one factor from the other.

Target ``t`` (a column ``j`` when solving for ``V``) owns the observations ``Ω_t`` and solves

    min_x  sum_{i in Ω_t} (F_i . x - M_it)^2 + ridge ||x||^2,

a least-squares problem with ``|Ω_t|`` rows and ``k`` unknowns. ``"exact"`` forms the ``k x k``
normal matrix (``O(|Ω_t| k^2)``) and factors it. ``"sketch"`` is the inexact solver of Gu, Song, Yin
& Zhang (ICLR 2024, Algorithm 2 and Lemma 4.4): a CountSketch of ``F[Ω_t]`` to ``s = O(k)`` rows,
its factor as a preconditioner, and preconditioned conjugate gradients on the normal equations
from the previous iterate, stopped when the preconditioned gradient norm has fallen by
``inner_tol``: ``O(|Ω_t| k)`` per step, a constant number of steps per half-step. With
``sketch_size = 0`` every target shares one preconditioner, the factor of ``F^T F`` (none when
``F`` is orthonormal), instead of its own sketch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array.kernels import kernel
from .observations import Index

__all__ = ["HalfStep", "solve_targets"]

HalfStep = tuple[np.ndarray, np.ndarray | None]


def solve_targets(
    F: np.ndarray,
    index: Index,
    *,
    solver: str = "exact",
    ridge: float = 0.0,
    x0: np.ndarray | None = None,
    sketch_size: int = 0,
    orthonormal: bool = False,
    inner_tol: float = 0.1,
    inner_maxiter: int = 20,
    generator: Any = None,
) -> HalfStep:
    """Solve every target of ``index`` against the fixed factor ``F`` (host arrays, float64).

    Returns ``(X, inner_iterations)``: ``X`` of shape ``(n_targets, k)`` and, for the sketched
    solver, the conjugate-gradient steps each target took (``0`` where it was solved exactly).
    A target with no observation gets ``x = 0``; one whose normal matrix is singular (fewer
    observations than ``k``, or a rank-deficient ``F[Ω_t]``) gets the minimum-norm solution.
    """
    xp = np
    F = np.ascontiguousarray(F, dtype=np.float64)
    if solver == "exact":
        X, status = kernel("altmin_exact", xp)(F, index.ptr, index.positions, index.values, ridge)
        steps = None
    elif solver == "sketch":
        n_obs = index.positions.shape[0]
        if sketch_size:
            rows = generator.integers(sketch_size, shape=n_obs, dtype=np.int64)
            signs = generator.signs(n_obs)
        else:
            rows, signs = np.zeros(0, dtype=np.int64), np.zeros(0)
        shared = np.zeros((0, 0)) if orthonormal or sketch_size else _shared(F, index, ridge)
        X, status, steps = kernel("altmin_robust", xp)(
            F,
            index.ptr,
            index.positions,
            index.values,
            ridge,
            x0,
            rows,
            signs,
            sketch_size,
            shared,
            inner_tol,
            inner_maxiter,
        )
    else:
        raise ValueError(f"solver must be 'exact' or 'sketch', got {solver!r}")
    for t in np.flatnonzero(status):
        X[t] = _minimum_norm(F, index, t, ridge)
    return X, steps


def _shared(F: np.ndarray, index: Index, ridge: float) -> np.ndarray:
    """The lower Cholesky factor of ``c F^T F + ridge I``, ``c`` the mean fraction of ``F``'s
    rows a target observes: ``E[F_Ω^T F_Ω] = c F^T F`` under uniform sampling."""
    c = index.positions.shape[0] / (index.counts.shape[0] * F.shape[0])
    return np.linalg.cholesky(c * (F.T @ F) + ridge * np.eye(F.shape[1]))


def _minimum_norm(F: np.ndarray, index: Index, t: int, ridge: float) -> np.ndarray:
    lo, hi = index.ptr[t], index.ptr[t + 1]
    A, b = F[index.positions[lo:hi]], index.values[lo:hi]
    if ridge:
        A = np.vstack([A, np.sqrt(ridge) * np.eye(F.shape[1])])
        b = np.concatenate([b, np.zeros(F.shape[1])])
    return np.linalg.lstsq(A, b, rcond=None)[0]
