"""Factored gradient descent for matrix sensing, symmetric and asymmetric, with the one-step
rebalancing of Xiong, Ding & Du (ICLR 2024, Section 5).

Symmetric: ``min_X f(X) = 1/2 ||A(X X^T) - y||^2`` over ``X`` in ``R^{n x k}``, gradient
``(S + S^T) X`` with ``S = A*(A(X X^T) - y)``. Asymmetric: ``min_{F, G} 1/2 ||A(F G^T) -
y||^2``, gradients ``S G`` and ``S^T F``; both factors take their step from the same iterate.
The paper writes the symmetric update as ``X - eta A*A(X X^T - M*) X`` for symmetric ``A_i``,
which is this descent with ``step = eta / 2``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validation as v
from .._array.namespace import array_namespace, to_numpy, unit_roundoff
from ..errors import ConvergenceWarning
from .operators import MeasurementOperator, _check_same

__all__ = ["SensingResult", "asymmetric_gd", "rebalance", "symmetric_gd"]


@dataclass(frozen=True)
class SensingResult:
    """Factors found by gradient descent and the run's history.

    Attributes
    ----------
    factors : tuple of arrays
        ``(X,)`` (symmetric; the estimate is ``X @ X.T``) or ``(F, G)`` (asymmetric;
        ``F @ G.T``), in the namespace, device and dtype of ``y``.
    iterations : int
        Gradient steps taken.
    loss_history : tuple of float
        ``1/2 ||A(estimate) - y||^2`` at the start and after each step.
    error_history : tuple of float
        ``||estimate - truth||_F^2`` at the start and after each step when ``truth`` was given
        (it never steers the iteration); empty otherwise.
    converged : bool
        Whether ``||A(estimate) - y|| <= tol ||y||`` held before ``maxiter`` (False when
        ``tol=0``, which runs every step).
    one_step_at : int or None
        The iteration at whose start the one-step rebalancing was applied, if it was.
    """

    factors: tuple[Any, ...]
    iterations: int
    loss_history: tuple[float, ...]
    error_history: tuple[float, ...]
    converged: bool
    one_step_at: int | None = None

    @property
    def symmetric(self) -> bool:
        return len(self.factors) == 1

    def estimate(self) -> Any:
        """The recovered matrix, ``X @ X.T`` or ``F @ G.T``."""
        left = self.factors[0]
        right = left if self.symmetric else self.factors[1]
        return left @ array_namespace(left).matrix_transpose(right)


def symmetric_gd(
    operator: MeasurementOperator,
    y: Any,
    rank: int,
    *,
    init_scale: float = 1e-3,
    step: float | None = None,
    maxiter: int = 1000,
    tol: float = 1e-8,
    X0: Any = None,
    truth: Any = None,
    seed: Any = None,
    callback: Callable[[int, tuple[Any, ...]], Any] | None = None,
    progress: bool = False,
) -> SensingResult:
    """Recover a PSD low-rank ``M*`` from ``y = A(M*)`` by gradient descent on ``X X^T``.

    Parameters
    ----------
    operator : MeasurementOperator
        ``A``, on ``(n, n)`` matrices.
    y : array
        The ``m`` measurements; its namespace, device and dtype are the computation's.
    rank : int
        ``k``, the columns of ``X``: ``k = r`` is exact parameterization, ``k > r`` over-.
    init_scale : float
        ``alpha``: ``X0`` has independent ``N(0, alpha^2)`` entries (small random init).
    step : float, optional
        The step size; default ``0.1 / s`` with ``s`` the spectral norm of ``A*(y)`` (an
        estimate of ``||M*||_2`` for a near-isotropic ``A``).
    maxiter : int
    tol : float
        Stop when ``||A(X X^T) - y|| <= tol ||y||`` (floored at ``100 u`` of the dtype);
        ``tol=0`` runs all ``maxiter`` steps and does not warn.
    X0 : array, optional
        The starting point, ``(n, k)``, instead of the random one.
    truth : array, optional
        ``M*``, only to record ``error_history``.
    seed : None, int or sketchla.random.Generator
    callback : callable, optional
        ``callback(t, (X,))`` after each step ``t``; returning True stops the descent.
    progress : bool
        A tqdm progress bar.

    Returns
    -------
    SensingResult

    Notes
    -----
    With ``k = r`` the error decays linearly; with ``k > r`` and a small random start it decays
    only like ``1/T^2`` (Xiong, Ding & Du 2024, Theorem 1.1): the ``k - r`` surplus columns
    shrink by a cubic term, ``x <- x - c x^3``. Use :func:`asymmetric_gd` then.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sensing import GaussianMeasurements, symmetric_gd
    >>> Z = np.random.default_rng(0).standard_normal((20, 2))
    >>> M = Z @ Z.T / 20
    >>> A = GaussianMeasurements((20, 20), 600, seed=1)
    >>> result = symmetric_gd(A, A(M), 2, seed=2)
    >>> bool(result.converged and np.allclose(result.estimate(), M, atol=1e-6))
    True
    """
    y, n, k, xp = _check_problem(operator, y, rank, square=True)
    dtype, dev = y.dtype, y.device
    alpha = v.check_real(init_scale, "init_scale", minimum=0)
    maxiter = v.check_int(maxiter, "maxiter", minimum=0)
    tol = v.check_real(tol, "tol", minimum=0)
    if X0 is None:
        X = alpha * v.check_seed(seed).normal((n, k), dtype=dtype, xp=xp, device=dev)
    else:
        X = _check_start(X0, "X0", (n, k), y)
    truth = _check_truth(truth, operator.shape, y)
    step = _default_step(operator, y, 0.1) if step is None else v.check_real(step, "step", above=0)
    run = _Descent(operator, y, tol, truth, callback, progress, maxiter)

    residual = operator._apply_factored(X, X) - y
    run.record(residual, X, X)
    for t in range(maxiter):
        if run.done:
            break
        SX, StX = operator._adjoint_products(residual, X, X)
        X = X - step * (SX + StX)
        residual = operator._apply_factored(X, X) - y
        run.record(residual, X, X)
        run.step_taken(t, (X,))
    return run.result((X,))


def asymmetric_gd(
    operator: MeasurementOperator,
    y: Any,
    rank: int,
    *,
    init_scale: float = 1e-3,
    imbalance: float = 1 / 3,
    step: float | None = None,
    maxiter: int = 1000,
    tol: float = 1e-8,
    one_step: bool | int = False,
    one_step_tol: float = 1e-2,
    F0: Any = None,
    G0: Any = None,
    truth: Any = None,
    seed: Any = None,
    callback: Callable[[int, tuple[Any, ...]], Any] | None = None,
    progress: bool = False,
) -> SensingResult:
    """Recover a low-rank ``M*`` from ``y = A(M*)`` by gradient descent on ``F G^T``.

    Parameters
    ----------
    operator : MeasurementOperator
        ``A``, on ``(n1, n2)`` matrices.
    y : array
        The ``m`` measurements; their namespace, device and dtype are the computation's.
    rank : int
        ``k``, the columns of ``F`` and ``G``.
    init_scale, imbalance : float
        ``F0 = alpha F~`` and ``G0 = imbalance * alpha * G~`` with standard Gaussian ``F~``,
        ``G~`` (Xiong, Ding & Du use ``imbalance = 1/3``): a deliberately imbalanced start,
        which their analysis needs for the linear rate ``exp(-Omega(alpha^2 T))``.
    step : float, optional
        Default ``0.2 / s``, ``s`` the spectral norm of ``A*(y)``.
    maxiter, tol
        As in :func:`symmetric_gd`.
    one_step : bool or int
        Apply the one-step rebalancing (:func:`rebalance`) once: ``True`` when the relative
        residual ``||A(F G^T) - y|| / ||y||`` first falls below ``one_step_tol`` (a trigger
        computed from the data, not from ``M*``), or an int: at the start of that iteration.
    one_step_tol : float
        The residual that counts as "near convergence" for ``one_step=True``.
    F0, G0 : arrays, optional
        A starting point instead of the random one (both or neither).
    truth, seed, callback, progress
        As in :func:`symmetric_gd`.

    Returns
    -------
    SensingResult

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sensing import GaussianMeasurements, asymmetric_gd
    >>> rng = np.random.default_rng(0)
    >>> M = rng.standard_normal((20, 2)) @ rng.standard_normal((2, 15)) / 15
    >>> A = GaussianMeasurements((20, 15), 500, seed=1)
    >>> result = asymmetric_gd(A, A(M), 4, init_scale=0.1, one_step=True, seed=2)
    >>> bool(result.converged and np.allclose(result.estimate(), M, atol=1e-6))
    True
    """
    y, n1, k, xp = _check_problem(operator, y, rank, square=False)
    n2 = operator.shape[1]
    dtype, dev = y.dtype, y.device
    alpha = v.check_real(init_scale, "init_scale", minimum=0)
    imbalance = v.check_real(imbalance, "imbalance", minimum=0)
    maxiter = v.check_int(maxiter, "maxiter", minimum=0)
    tol = v.check_real(tol, "tol", minimum=0)
    one_step_tol = v.check_real(one_step_tol, "one_step_tol", minimum=0)
    if not isinstance(one_step, (bool, int, np.integer)):
        raise TypeError(f"one_step must be a bool or an iteration number, got {one_step!r}")
    switch_at = None if isinstance(one_step, bool) else v.check_int(one_step, "one_step", minimum=0)
    if (F0 is None) != (G0 is None):
        raise ValueError("F0 and G0 must be given together")
    if F0 is None:
        generator = v.check_seed(seed)
        F = alpha * generator.normal((n1, k), dtype=dtype, xp=xp, device=dev)
        G = (imbalance * alpha) * generator.normal((n2, k), dtype=dtype, xp=xp, device=dev)
    else:
        F, G = _check_start(F0, "F0", (n1, k), y), _check_start(G0, "G0", (n2, k), y)
    truth = _check_truth(truth, operator.shape, y)
    step = _default_step(operator, y, 0.2) if step is None else v.check_real(step, "step", above=0)
    run = _Descent(operator, y, tol, truth, callback, progress, maxiter)
    wants_switch = one_step is True or switch_at is not None
    one_step_at = None

    residual = operator._apply_factored(F, G) - y
    run.record(residual, F, G)
    for t in range(maxiter):
        if run.done:
            break
        if wants_switch and one_step_at is None:
            due = t == switch_at if switch_at is not None else run.relative[-1] <= one_step_tol
            if due:
                F, G = _rebalance(F, G)
                residual = operator._apply_factored(F, G) - y
                one_step_at = t
        SG, StF = operator._adjoint_products(residual, G, F)
        F, G = F - step * SG, G - step * StF
        residual = operator._apply_factored(F, G) - y
        run.record(residual, F, G)
        run.step_taken(t, (F, G))
    return run.result((F, G), one_step_at)


def rebalance(F: Any, G: Any) -> tuple[Any, Any]:
    """The one-step modification: ``F <- c F (F^T F)^{-1/2}``, ``G <- G (F^T F)^{1/2} / c``.

    ``F G^T`` is unchanged; ``F``'s singular values all become ``c = sqrt(||F G^T||_2)``.
    Gradient descent from a small imbalanced start ends with the ``k - r`` surplus directions
    of ``F`` at the scale ``alpha`` of the start, and those directions set the rate
    ``exp(-Omega(alpha^2 T))``; after one rebalancing every direction of ``F`` has the scale of
    ``M*`` and the rate no longer depends on ``alpha`` (Xiong, Ding & Du 2024, Section 5).

    The paper's Section 5 states this step for ``M*`` normalised to unit spectral norm; the
    scale ``c`` is our addition so that the step is invariant to the scale of ``M*``. The formula
    here is reconstructed from the paper's description (see the user guide), and its claim, an
    ``alpha``-independent rate, is what the tests check.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sensing import rebalance
    >>> rng = np.random.default_rng(0)
    >>> F, G = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    >>> F2, G2 = rebalance(F, G)
    >>> s = np.linalg.svd(F2, compute_uv=False)
    >>> bool(np.allclose(F2 @ G2.T, F @ G.T)), bool(np.ptp(s) < 1e-12)
    (True, True)
    """
    F, G = v.check_matrix(F, "F"), v.check_matrix(G, "G")
    if F.shape[1] != G.shape[1]:
        raise ValueError(
            f"F and G must have the same number of columns, got {F.shape[1]} and {G.shape[1]}"
        )
    _check_same(F, G, ("F", "G"))
    return _rebalance(F, G)


def _rebalance(F: Any, G: Any) -> tuple[Any, Any]:
    xp = array_namespace(F)
    w, V = xp.linalg.eigh(xp.matrix_transpose(F) @ F)
    floor = float(xp.max(w)) * unit_roundoff(F.dtype) * F.shape[1]
    if floor <= 0.0:
        return F, G
    w = xp.clip(w, min=floor)
    root = xp.sqrt(w)
    # ||F G^T||_2 unformed: F = P diag(root) V^T (an SVD), so ||F G^T|| = ||diag(root) V^T G^T||
    small = (root[:, None] * xp.matrix_transpose(V)) @ xp.matrix_transpose(G)
    scale = math.sqrt(float(xp.linalg.matrix_norm(small, ord=2)))
    F = (F @ (V / root)) @ xp.matrix_transpose(V) * scale
    G = (G @ (V * root)) @ xp.matrix_transpose(V) / scale
    return F, G


class _Descent:
    """Bookkeeping shared by both descents: histories, stopping rule, callback, progress."""

    def __init__(self, operator, y, tol, truth, callback, progress, maxiter):
        self.xp = array_namespace(y)
        self.norm_y = float(self.xp.linalg.vector_norm(y))
        floor = 100 * unit_roundoff(y.dtype)
        self.tol = 0.0 if tol == 0 else max(tol, floor)
        self.truth, self.callback = truth, callback
        self.losses: list[float] = []
        self.relative: list[float] = []
        self.errors: list[float] = []
        self.iterations, self.done, self.converged = 0, False, False
        self.bar = _progress(maxiter) if progress else None

    def record(self, residual: Any, left: Any, right: Any) -> None:
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            norm = float(self.xp.linalg.vector_norm(residual))
        if not math.isfinite(norm):
            raise FloatingPointError("gradient descent diverged (non-finite residual): reduce step")
        self.losses.append(0.5 * norm**2)
        self.relative.append(norm / self.norm_y if self.norm_y > 0 else 0.0)
        if self.truth is not None:
            difference = left @ self.xp.matrix_transpose(right) - self.truth
            self.errors.append(float(self.xp.sum(difference**2)))
        if self.tol > 0 and self.relative[-1] <= self.tol:
            self.done = self.converged = True

    def step_taken(self, t: int, factors: tuple[Any, ...]) -> None:
        self.iterations = t + 1
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None and self.callback(t, factors) is True:
            self.done = True

    def result(self, factors: tuple[Any, ...], one_step_at: int | None = None) -> SensingResult:
        if self.bar is not None:
            self.bar.close()
        if self.tol > 0 and not self.converged and (self.callback is None or not self.done):
            warnings.warn(
                f"gradient descent stopped after {self.iterations} steps with relative residual "
                f"{self.relative[-1]:.3g} > tol={self.tol:.3g}",
                ConvergenceWarning,
                stacklevel=3,
            )
        return SensingResult(
            factors=factors,
            iterations=self.iterations,
            loss_history=tuple(self.losses),
            error_history=tuple(self.errors),
            converged=self.converged,
            one_step_at=one_step_at,
        )


def _progress(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="sensing GD", unit="step")


def _check_problem(operator: Any, y: Any, rank: Any, *, square: bool):
    if not isinstance(operator, MeasurementOperator):
        raise TypeError(f"operator must be a MeasurementOperator, got {type(operator).__name__}")
    n1, n2 = operator.shape
    if square and n1 != n2:
        raise ValueError(f"symmetric sensing needs an operator on square matrices, got {(n1, n2)}")
    y = v.check_vector(y, "y", length=operator.m)
    k = v.check_int(rank, "rank", minimum=1, maximum=min(n1, n2) if not square else n1)
    return y, n1, k, array_namespace(y)


def _check_start(X: Any, name: str, shape: tuple[int, int], y: Any) -> Any:
    X = v.check_matrix(X, name)
    if tuple(X.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(X.shape)}")
    _check_same(X, y, (name, "y"))
    return X


def _check_truth(truth: Any, shape: tuple[int, int], y: Any) -> Any:
    if truth is None:
        return None
    truth = v.check_matrix(truth, "truth")
    if tuple(truth.shape) != shape:
        raise ValueError(f"truth must have shape {shape}, got {tuple(truth.shape)}")
    _check_same(truth, y, ("truth", "y"))
    return truth


def _default_step(operator: MeasurementOperator, y: Any, factor: float) -> float:
    """``factor / ||A*(y)||_2``: ``A*(y)`` is ``A*A(M*)``, about ``M*`` for a near-isotropic A.
    The norm is estimated on the host (an ``n1 x n2`` copy, once), with a fixed seed."""
    from ..lowrank import estimate_norm

    norm = float(estimate_norm(to_numpy(operator._adjoint(y)), seed=0))
    if norm == 0.0:
        raise ValueError("y is zero: the only consistent low-rank matrix is 0")
    return factor / norm
