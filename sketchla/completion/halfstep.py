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
from .._array.namespace import to_numpy
from .observations import Index

__all__ = ["HalfStep", "Placement", "solve_targets"]

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
    placement: Placement | None = None,
) -> HalfStep:
    """Solve every target of ``index`` against the fixed factor ``F`` (host arrays, float64).

    Returns ``(X, inner_iterations)``: ``X`` of shape ``(n_targets, k)`` and, for the sketched
    solver, the conjugate-gradient steps each target took (``0`` where it was solved exactly).
    A target with no observation gets ``x = 0``; one whose normal matrix is singular (fewer
    observations than ``k``, or a rank-deficient ``F[Ω_t]``) gets the minimum-norm solution,
    except that the shared-preconditioner iteration (``solver="sketch"``, ``sketch_size=0``) on
    a rank-deficient target with at least ``k`` observations returns the least-squares solution
    that keeps ``x0``'s component along the null space (conjugate gradients never move along it).
    With ``placement``, ``F`` and ``x0`` are arrays on its device and the batched Array-API
    kernels run there (the GPU path).
    """
    if placement is not None:
        return _solve_on_device(
            F, index, placement, solver, ridge, x0, sketch_size, orthonormal, inner_tol,
            inner_maxiter, generator,
        )  # fmt: skip
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


class Placement:
    """Where a device half-step runs: namespace ``xp``, ``device`` and dtype; index arrays are
    copied there once and cached."""

    def __init__(self, xp: Any, device: Any, dtype: Any) -> None:
        self.xp, self.device, self.dtype = xp, device, dtype
        self._indices: dict[int, tuple[Index, tuple[Any, Any, Any]]] = {}

    def put(self, array: np.ndarray, dtype: Any = None) -> Any:
        dtype = self.dtype if dtype is None else dtype
        return self.xp.asarray(np.asarray(array), dtype=dtype, device=self.device)

    def entries(self, obs: Any) -> tuple[Any, Any, Any]:
        """``obs.rows``, ``obs.cols`` and ``obs.values`` on the device (cached)."""
        key = id(obs)
        if key not in self._indices:
            placed = (
                self.put(obs.rows, self.xp.int64),
                self.put(obs.cols, self.xp.int64),
                self.put(obs.values),
            )
            self._indices[key] = (obs, placed)
        return self._indices[key][1]

    def index(self, index: Index) -> tuple[Any, Any, Any]:
        key = id(index)
        if key not in self._indices:  # (the Index is kept, so its id is not reused)
            placed = (
                self.put(index.ptr, self.xp.int64),
                self.put(index.positions, self.xp.int64),
                self.put(index.values),
            )
            self._indices[key] = (index, placed)
        return self._indices[key][1]


def _solve_on_device(
    F, index, placement, solver, ridge, x0, sketch_size, orthonormal, inner_tol, inner_maxiter,
    generator,
):  # fmt: skip
    """The batched Array-API kernels on ``placement``'s device (Torch or CuPy on a GPU)."""
    xp, device = placement.xp, placement.device
    ptr, positions, values = placement.index(index)
    if solver == "exact":
        X, _ = kernel("altmin_exact", xp)(F, ptr, positions, values, ridge, xp=xp)
        return X, None
    n_obs = index.positions.shape[0]
    k = F.shape[1]
    if sketch_size:
        rows = generator.integers(sketch_size, shape=n_obs, dtype=xp.int64, xp=xp, device=device)
        signs = generator.signs(n_obs, dtype=F.dtype, xp=xp, device=device)
    else:
        rows = xp.zeros(0, dtype=xp.int64, device=device)
        signs = xp.zeros(0, dtype=F.dtype, device=device)
    if orthonormal or sketch_size:
        shared = xp.zeros((0, 0), dtype=F.dtype, device=device)
    else:
        c = n_obs / (index.counts.shape[0] * F.shape[0])
        eye = xp.eye(k, dtype=F.dtype, device=device)
        shared = xp.linalg.cholesky(c * (xp.matrix_transpose(F) @ F) + ridge * eye)
    X, _, steps = kernel("altmin_robust", xp)(
        F, ptr, positions, values, ridge, x0, rows, signs, sketch_size, shared, inner_tol,
        inner_maxiter, xp=xp,
    )  # fmt: skip
    return X, np.asarray(to_numpy(steps))


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
