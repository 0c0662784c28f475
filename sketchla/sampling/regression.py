"""l_p regression ``min_x ||A x - b||_p``, on the full problem or on a sample of its rows.

Solvers of the full problem (NumPy, dense or sparse ``A``):

* ``p = 1``: the linear program, in its dual form ``max b^T y`` subject to ``A^T y = 0``,
  ``-1 <= y <= 1`` (``n`` bounded variables, ``d`` equality constraints, ``nnz(A)`` nonzeros),
  solved by HiGHS (``scipy.optimize.linprog``); ``x`` is the equality constraints' multiplier.
  The primal form has ``n + d`` variables and ``2 n`` inequalities, and is several times slower.
* ``p = 2``: least squares (LAPACK ``gelsd``).
* ``1 < p < inf``: damped Newton, i.e. iteratively reweighted least squares with a line
  search. With ``r = A x - b`` and ``D = diag(|r_i|^{p-2})``, the Newton step of
  ``f(x) = sum |r_i|^p`` is ``-(A^T D A)^{-1} A^T D r / (p - 1)``, which is the IRLS step scaled by
  ``1 / (p - 1)``; backtracking (Armijo) on ``f`` makes every step decrease it, so the
  iteration converges for every ``p > 1`` (``f`` is convex; Boyd & Vandenberghe, *Convex
  Optimization*, 9.5). For ``p < 2`` the weights are smoothed, ``max(|r_i|, mu)^{p-2}``, with
  ``mu`` halving every step down to ``1e-12 ||r||_inf`` (the smoothed IRLS of Daubechies, DeVore,
  Fornasier & Gunturk, 2010); for ``p > 2`` the same floor keeps ``A^T D A`` nonsingular.

On a sample (``method="sample"``): rows of ``[A, b]`` are drawn by a sampling scheme
(:func:`~sketchla.sampling.sample_rows`, default the l_p Lewis weights of ``[A, b]``) and
rescaled by ``q_i^{-1/p}``, so that ``||S (A x - b)||_p^p`` is within ``1 +- eps`` of
``||A x - b||_p^p`` for every ``x`` (Cohen & Peng 2015; Woodruff & Yasuda 2023), and the
sampled problem is solved by the full solver. The minimiser of the sample is then within
``(1 + eps) / (1 - eps)`` of the optimum.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp
from scipy.optimize import linprog

from .. import _validation as v
from .._array import array_namespace, device, to_numpy
from ..errors import ConvergenceWarning
from ._input import check_exponent, check_input_matrix

__all__ = ["REGRESSION_METHODS", "LpRegressionResult", "lp_norm", "lp_regression"]

REGRESSION_METHODS = ("full", "sample")


@dataclass(frozen=True)
class LpRegressionResult:
    """``x`` (``(d,)``), ``objective = ||A x - b||_p`` on the full problem, the solver's
    ``iterations`` (Newton steps; HiGHS's for ``p = 1``; 0 for ``p = 2``), whether it
    ``converged``, and the rows sampled (``sample_size``; ``None`` for ``method="full"``)."""

    x: Any
    objective: float
    iterations: int
    converged: bool
    sample_size: int | None = None


def lp_regression(
    A: Any,
    b: Any,
    p: float,
    *,
    method: str = "full",
    eps: float = 0.1,
    sample_size: int | None = None,
    scheme: str = "lewis",
    tol: float = 1e-10,
    maxiter: int = 200,
    seed: Any = None,
) -> LpRegressionResult:
    """``argmin_x ||A x - b||_p``, on all rows or on a sample of them.

    Parameters
    ----------
    A : array or scipy.sparse matrix
        ``(n, d)``. Computed with NumPy/SciPy; other backends' arrays are returned in their
        namespace.
    b : array
        ``(n,)``.
    p : float
        ``p >= 1``.
    method : {"full", "sample"}
        ``"sample"`` solves the problem restricted to rows drawn by ``scheme`` and rescaled.
    eps : float
        Target relative accuracy of the sample, in ``(0, 1)``; sets the default
        ``sample_size``.
    sample_size : int, optional
        Expected number of rows sampled (default ``ceil(4 d' log(d') / eps)``, ``d' = d + 1``,
        at most ``n``): a practical size; the worst-case theory asks for ``d' log(d') / eps**2``.
    scheme : str
        A scheme of :func:`~sketchla.sampling.sample_rows` (default ``"lewis"``).
    tol : float
        Newton's stop: relative decrease of ``f`` below ``tol`` and relative step below
        ``sqrt(tol)``.
    maxiter : int
        Newton steps allowed; a :class:`~sketchla.ConvergenceWarning` says when they ran out.
    seed : None, int or sketchla.random.Generator
        ``method="sample"`` only.

    Returns
    -------
    LpRegressionResult

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sampling import lp_regression
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((200, 3))
    >>> b = A @ np.array([1.0, -2.0, 0.5]) + rng.laplace(size=200)
    >>> fit = lp_regression(A, b, 1)  # least absolute deviations, by HiGHS
    >>> bool(fit.objective <= np.abs(A @ [1.0, -2.0, 0.5] - b).sum())  # beats the truth
    True
    >>> sampled = lp_regression(A, b, 1.5, method="sample", sample_size=150, seed=0)
    >>> bool(sampled.objective <= 1.1 * lp_regression(A, b, 1.5).objective)
    True
    """
    namespace = None if sp.issparse(A) else array_namespace(A)
    A = check_input_matrix(A)
    b = v.check_vector(b, "b", length=A.shape[0])
    p = check_exponent(p)
    if method not in REGRESSION_METHODS:
        raise ValueError(f"method must be one of {REGRESSION_METHODS}, got {method!r}")
    from .sample import SCHEMES

    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    eps = _check_fraction(eps, "eps")
    tol = _check_fraction(tol, "tol")
    maxiter = v.check_int(maxiter, "maxiter", minimum=1)
    out_device = None if namespace is None else device(A)
    A_host = A if sp.issparse(A) else np.asarray(to_numpy(A), dtype=np.float64)
    b_host = np.asarray(to_numpy(b), dtype=np.float64)
    n, d = A_host.shape
    if method == "sample":
        from .sample import sample_rows

        if sample_size is None:
            dd = d + 1
            sample_size = min(n, math.ceil(4 * dd * max(math.log(dd), 1.0) / eps))
        sample_size = v.check_int(sample_size, "sample_size", minimum=1)
        stacked = _stack(A_host, b_host)
        rows = sample_rows(stacked, scheme, p=p, m=min(sample_size, n), seed=seed)
        picked = rows.apply(stacked)
        b_fit = picked[:, [d]].toarray().ravel() if sp.issparse(picked) else picked[:, d]
        x, iterations, converged = _solve(picked[:, :d], b_fit, p, tol, maxiter)
        taken = int(rows.indices.shape[0])
    else:
        x, iterations, converged = _solve(A_host, b_host, p, tol, maxiter)
        taken = None
    if not converged:
        warnings.warn(
            f"lp_regression stopped after maxiter={maxiter} Newton steps before the relative "
            f"decrease fell below tol={tol:.1e}",
            ConvergenceWarning,
            stacklevel=2,
        )
    objective = lp_norm(A_host @ x - b_host, p)
    if namespace is not None:
        x = namespace.asarray(x, dtype=A.dtype, device=out_device)
    else:
        x = x.astype(A.dtype, copy=False)
    return LpRegressionResult(x, objective, iterations, converged, taken)


def lp_norm(r: Any, p: float) -> float:
    """``||r||_p``, scaled by ``||r||_inf`` so that large ``p`` neither overflows nor
    underflows."""
    r = np.abs(np.asarray(r, dtype=np.float64))
    top = float(r.max(initial=0.0))
    if top == 0:
        return 0.0
    return top * float(np.sum((r / top) ** p)) ** (1.0 / p)


def _solve(A: Any, b: np.ndarray, p: float, tol: float, maxiter: int):
    """``(x, iterations, converged)`` of the full problem. For ``p > 1`` it is solved in the
    coordinates of ``A``'s numerical range: ``A = U_r diag(s_r) V_r^T`` (thin SVD truncated at
    ``max(n, d) u s_1``), ``x = V_r y``, so that Newton's ``A^T D A`` is nonsingular and ``x``
    is the minimum-norm minimiser when ``A`` is rank-deficient."""
    if p == 1:
        return _l1(A, b)
    dense = np.asarray(A.toarray() if sp.issparse(A) else A, dtype=np.float64)
    U, s, Vt = np.linalg.svd(dense, full_matrices=False)
    rank = int(np.sum(s > max(dense.shape) * np.finfo(np.float64).eps / 2 * s[0])) if s.size else 0
    if rank == 0:
        return np.zeros(dense.shape[1]), 0, True
    design = U[:, :rank] * s[:rank]
    y = U[:, :rank].T @ b / s[:rank]  # least squares in the orthogonal coordinates
    iterations, converged = 0, True
    if p != 2:
        y, iterations, converged = _newton(design, b, p, y, tol, maxiter)
    return Vt[:rank].T @ y, iterations, converged


def _l1(A: Any, b: np.ndarray):
    """The dual LP ``min -b^T y``, ``A^T y = 0``, ``-1 <= y <= 1``, by HiGHS; the primal ``x``
    is the negated multiplier of the equality constraints."""
    At = sp.csr_array(A.T) if sp.issparse(A) else A.T
    result = linprog(
        -b,
        A_eq=At,
        b_eq=np.zeros(A.shape[1]),
        bounds=(-1.0, 1.0),
        method="highs",
        options={"presolve": False},  # finds nothing to remove here, and costs 90 % of the time
    )
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed on the l_1 regression LP: {result.message}")
    x = -np.asarray(result.eqlin.marginals, dtype=np.float64)
    return x, int(getattr(result, "nit", 0)), True


def _newton(A: np.ndarray, b: np.ndarray, p: float, x: np.ndarray, tol: float, maxiter: int):
    """Damped Newton (IRLS with Armijo backtracking) on ``f(x) = sum |A x - b|^p``, computed
    for ``b / s`` and ``x / s`` with ``s`` the least-squares residual's largest entry, so that
    ``|r|^p`` neither overflows nor underflows for large ``p``."""
    scale = float(np.max(np.abs(A @ x - b), initial=0.0))
    if scale == 0:
        return x, 0, True
    x, b = x / scale, b / scale
    x, iterations, converged = _newton_scaled(A, b, p, x, tol, maxiter)
    return x * scale, iterations, converged


def _newton_scaled(A, b, p, x, tol, maxiter):
    r = A @ x - b
    f = _power_sum(r, p)
    mu = float(np.max(np.abs(r), initial=0.0))  # smoothing floor, shrinks as r does
    for iteration in range(1, maxiter + 1):
        if f == 0:
            return x, iteration - 1, True
        top = float(np.max(np.abs(r)))
        mu = max(min(mu, top) / 2 if p < 2 else 0.0, 1e-12 * top)
        weights = np.maximum(np.abs(r), mu) ** (p - 2)
        gradient = A.T @ (np.abs(r) ** (p - 1) * np.sign(r))  # f'(x) / p
        H = (A.T * weights) @ A * (p - 1)  # f''(x) / p, smoothed
        try:
            step = -sl.solve(H, gradient, assume_a="pos")
        except (np.linalg.LinAlgError, ValueError):
            step = -sl.lstsq(H, gradient)[0]
        slope = float(gradient @ step)
        if slope >= 0:  # not a descent direction (H singular): take the gradient
            step, slope = -gradient, -float(gradient @ gradient)
        t, accepted = 1.0, False
        while t > 1e-12:
            candidate = x + t * step
            r_new = A @ candidate - b
            f_new = _power_sum(r_new, p)
            if f_new <= f + 1e-4 * t * p * slope:
                accepted = True
                break
            t /= 2
        if not accepted:  # no decrease at any step: x is optimal to rounding
            return x, iteration, True
        decrease = (f - f_new) / f
        moved = t * float(np.linalg.norm(step)) / max(float(np.linalg.norm(candidate)), 1e-300)
        x, r, f = candidate, r_new, f_new
        if decrease <= tol and (moved <= math.sqrt(tol) or decrease <= _NO_PROGRESS):
            return x, iteration, True
    return x, maxiter, False


#: A relative decrease of ``f`` this small is rounding: ``f`` has stopped moving.
_NO_PROGRESS = 8 * np.finfo(np.float64).eps


def _power_sum(r: np.ndarray, p: float) -> float:
    return float(np.sum(np.abs(r) ** p))


def _stack(A: Any, b: np.ndarray) -> Any:
    if sp.issparse(A):
        return sp.hstack([A, sp.csr_array(b.reshape(-1, 1))], format="csr")
    return np.concatenate([A, b.reshape(-1, 1)], axis=1)


def _check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in (0, 1), got {value!r}")
    if not 0 < float(value) < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)
