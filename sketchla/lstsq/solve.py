"""``lstsq``: least squares by sketch-and-solve, or by preconditioned iterative refinement.

Sketch-and-precondition (Rokhlin & Tygert 2008; Blendenpik, Avron, Maymounkov & Toledo 2010;
LSRN, Meng, Saunders & Mahoney 2014) takes the QR (or SVD) of a sketch ``S A`` as a preconditioner
``P``, so that ``A P`` has singular values in ``[1/(1 + eps), 1/(1 - eps)]`` for a sketch of
distortion ``eps ~ sqrt(d / m)``. The iteration is iterative sketching with heavy-ball momentum
(Epperly, Meier & Nakatsukasa, "Fast and forward stable randomized algorithms for linear
least-squares problems", 2024):

    x <- x + alpha P P^T A^T (b - A x) + beta (x - x_prev),
    alpha = (1 - eps^2)^2,  beta = eps^2,

started at the sketch-and-solve solution. The residual is recomputed from ``A`` at every step,
which makes the method forward stable; each step is one fused pass over ``A`` (``b - A x`` and
``A^T r`` row block by row block), and the error contracts by about ``eps`` per step whatever the
conditioning of ``A``.

The same iteration runs with the Gram preconditioner ``R^-1``, ``R^T R = A^T A`` (Cholesky; the
corrected semi-normal equations of Bjorck, 1987) when that is cheaper: ``A^T A`` costs ``n d**2``
flops at BLAS-3 speed, against the 20-30 passes over ``A`` of a sketched preconditioner, and its
distortion, about ``u kappa(A)**2``, makes one or two passes enough. It is refused when
``u kappa**2`` is too large for it to help (``kappa`` above about ``1e7`` in float64), and the
sketch takes over. Both routes end, on NumPy float64, with exact (double-double) gradients, and
so converge to the least-squares solution of the float64 data.

Underdetermined problems (``n < d``) take the minimum-norm solution ``x = A^T y`` with
``(A A^T + damp^2 I) y = b``, preconditioned by a sketch of ``A^T`` (sketching from the right).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace, to_numpy
from .._array.dask import is_dask_array
from .._array.namespace import (
    computed_on_host,
    device,
    is_array,
    numpy_dtype,
    unit_roundoff,
)
from ..errors import ConvergenceWarning
from ..sketch.factory import check_family, sketch_operator
from .dask_problem import DaskProblem, refine_by_gram
from .preconditioner import Preconditioner, factor_sketch
from .problem import Problem
from .result import LstsqResult

__all__ = ["lstsq"]

METHODS = ("auto", "sketch_and_solve", "sketch_and_precondition", "gram_precondition", "direct")
#: The sketch sizes (rows per unknown) that the default chooses from, by predicted cost.
OVERSAMPLING_CHOICES = (2, 3, 4, 6, 8, 12, 16, 24, 32)


def lstsq(
    A: Any,
    b: Any,
    *,
    method: str = "auto",
    sketch: str = "saso",
    sketch_size: int | None = None,
    oversampling: float | None = None,
    tol: float | None = None,
    maxiter: int | None = None,
    damp: float = 0.0,
    weights: Any = None,
    rcond: float | None = None,
    seed: Any = None,
    x0: Any = None,
    callback: Any = None,
) -> LstsqResult:
    """Least squares ``min ||A x - b||^2 + damp^2 ||x||^2`` by sketching.

    Parameters
    ----------
    A : array, scipy.sparse matrix, scipy.sparse.linalg.LinearOperator or dask array
        ``(n, d)``. Dense arrays of any backend; the result is on ``b``'s namespace and device.
        A dask array (NumPy chunks, ``n >= d``) stays in its row blocks: the solver takes the
        Gram route or the sketch refined by the Gram matrix of the preconditioned matrix, two
        to five passes over ``A`` in all, each a sum over the blocks in a fixed order (the same
        bits on every scheduler); ``x`` is a NumPy array (see :doc:`/user-guide/distributed`).
    b : array
        ``(n,)``, or ``(n, k)`` for ``k`` right-hand sides (a dask array, or NumPy, when ``A`` is
        a dask array).
    method : {"auto", "sketch_and_precondition", "gram_precondition", "sketch_and_solve", "direct"}
        ``"sketch_and_precondition"``: iterative refinement preconditioned by the QR of a sketch,
        for problems with ``n >= 2 m``; ``"gram_precondition"``: the same iteration
        preconditioned by the Cholesky factor of ``A^T A`` (dense tall ``A`` only), cheaper
        when ``d`` is at most a few thousand and ``kappa(A)`` below about ``1e7`` (float64;
        about ``600`` in float32); beyond, it hands over to the sketch, and ``result.method``
        says so; ``"sketch_and_solve"``: ``argmin ||S (A x - b)||``, one sketch, accurate to a
        factor ``1 + O(eps)`` in the residual; ``"direct"``: a dense SVD. ``"auto"`` takes
        the direct SVD for problems too small to sketch (``2 m > max(n, d)``), the Gram
        preconditioner for dense tall ``A`` where its predicted cost is lower, and the sketch
        otherwise.
    sketch : str
        The sketching family (see :func:`sketchla.sketch_operator`); SASO by default.
    sketch_size : int, optional
        Rows of the sketch; default ``oversampling * min(n, d)``.
    oversampling : float, optional
        Sketch rows per unknown (distortion ``eps ~ sqrt(1 / oversampling)``). By default the
        one of 2, 3, 4, 6, 8, 12, 16, 24, 32 that minimises the predicted work: the QR of the
        sketch (``2 m d**2`` flops) against the iterations (passes over ``A``, about
        ``log(u) / log(eps)`` of them).
    tol : float, optional
        ``None`` (default): iterate until the estimated forward error is at the level of a
        backward-stable solver's, ``u * (kappa + kappa**2 * ||r|| / (||A|| ||x||))`` with ``u``
        the unit roundoff; a float: stop when ``||A^T r|| <= tol * ||A|| * ||r||`` or
        ``||r|| <= tol * ||b||`` (the stopping rule of LSQR's ``atol``/``btol``).
    maxiter : int, optional
        At most this many iterations (default: twice the number the sketch's distortion
        predicts for full accuracy, plus 20).
    damp : float
        Ridge parameter.
    weights : array, optional
        ``(n,)`` non-negative row weights: minimises ``sum_i w_i (a_i x - b_i)^2``.
    rcond : float, optional
        Singular values of the sketch below ``rcond`` times the largest count as zero (rank
        deficiency: the minimum-norm solution is returned). Default ``2 * max(m, min(n, d))``
        times the unit roundoff.
    seed : None, int or sketchla.random.Generator
        Fixes the sketch.
    x0 : array, optional
        Starting point instead of the sketch-and-solve solution (overdetermined problems).
    callback : callable, optional
        Called as ``callback(x)`` after each iteration.

    Returns
    -------
    LstsqResult

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lstsq import lstsq
    >>> rng = np.random.default_rng(0)
    >>> A, b = rng.standard_normal((20_000, 50)), rng.standard_normal(20_000)
    >>> result = lstsq(A, b, seed=0)
    >>> result.method, result.converged
    ('gram_precondition', True)
    >>> bool(np.allclose(result.x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-12, atol=0))
    True
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    check_family(sketch)
    tol = _check_tol(tol)
    if maxiter is not None:
        maxiter = v.check_int(maxiter, "maxiter", minimum=0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if is_array(A) and computed_on_host(array_namespace(A)):
        return _on_host(A, b, locals())
    if is_dask_array(A):
        problem = DaskProblem.from_inputs(A, b, damp=damp, weights=weights)
    else:
        problem = Problem.from_inputs(A, b, damp=damp, weights=weights)
    n, d = problem.n, problem.d
    small, large = min(n, d), max(n, d)
    m = _sketch_size(sketch_size, oversampling, small, large, _pass_cost(problem))
    if problem.kind == "dask" and (method == "direct" or _choose_method(problem, m) == "direct"):
        return _gathered(problem, locals())
    if maxiter is None:  # twice the passes the distortion predicts, and a margin
        maxiter = 2 * math.ceil(_predicted_passes(m / small)) + 20
    if method == "auto":
        method = _choose_method(problem, m)
    if method == "gram_precondition" and (problem.kind not in ("dense", "dask") or n < d):
        raise ValueError(
            "method='gram_precondition' needs a dense A with at least as many rows as columns, "
            f"got {problem.kind} A of shape {(n, d)}"
        )
    if method not in ("direct", "gram_precondition") and m > large:
        raise ValueError(
            f"the sketch must have at most max(n, d) = {large} rows, got {m}: "
            "use method='direct' for problems this small"
        )
    u = unit_roundoff(problem.dtype)
    rcond = _check_rcond(rcond, max(m, small) * u * 2)
    generator = v.check_seed(seed)
    if x0 is not None and n < d:
        raise ValueError("x0 is supported for overdetermined problems (n >= d) only")
    X0 = None if x0 is None else _check_x0(x0, problem)

    budget = 0 if method == "sketch_and_solve" else maxiter  # iterations allowed
    if method == "gram_precondition":
        gram = problem.factor_gram(u)
        if gram is None:  # too ill-conditioned for the Gram matrix: a sketch, if one fits
            method = "sketch_and_precondition" if 2 * m <= large else "direct"
    if method == "gram_precondition":
        factor, X_normal = gram
        X = X_normal if X0 is None else X0
        outcome = _refine(problem, factor, X, budget, tol, u, callback)
    elif method == "direct":
        outcome = _direct(problem, rcond)
    elif n >= d:
        S = sketch_operator(sketch, m, n, seed=generator, **_sketch_parameters(sketch, m))
        SA, Sb = problem.sketch_left(S)
        factor, X_sketched = factor_sketch(SA, problem.damp, problem.xp, rcond=rcond, Sb=Sb)
        if problem.kind == "dask" and method == "sketch_and_precondition":
            # one more pass makes the preconditioner as good as the Gram matrix's (see
            # dask_problem.py): two or three passes to converge instead of tens
            refined = refine_by_gram(problem, factor, u)
            factor, X_sketched = refined if refined is not None else (factor, X_sketched)
        X = X_sketched if X0 is None else X0
        outcome = _refine(problem, factor, X, budget, tol, u, callback)
    else:
        S = sketch_operator(sketch, m, d, seed=generator, **_sketch_parameters(sketch, m))
        factor, _ = factor_sketch(problem.sketch_right(S), problem.damp, problem.xp, rcond=rcond)
        outcome = _refine_dual(problem, factor, budget, tol, u, callback)
    X, residual, error, converged, iterations, history, rank, kappa = outcome
    converged = converged or method == "sketch_and_solve"  # no tolerance to meet
    if not converged:
        warnings.warn(
            f"lstsq stopped after {iterations} iterations without meeting its tolerance "
            f"(estimated relative error {float(np.max(to_numpy(error))):.2e})",
            ConvergenceWarning,
            stacklevel=2,
        )
    sketch_rows = 0 if method in ("direct", "gram_precondition") else m
    return _result(
        problem,
        X,
        residual,
        error,
        iterations,
        converged,
        method,
        sketch_rows,
        rank,
        kappa,
        history,
    )


# -- the iteration ----------------------------------------------------------------------------


def _heavy_ball(
    Z,
    evaluate,
    factor: Preconditioner,
    maxiter: int,
    converged_at,
    floor_at,
    on_step,
    exact_available: bool,
    predicted_stop=None,
    exact_from_start: bool = False,
):
    """Heavy-ball iterative refinement on the variable ``Z`` (``x``, or ``y`` of the dual).

    ``evaluate(Z, exact)`` returns ``(G, extras)`` with ``G`` the negative gradient (one pass
    over ``A``; in higher precision when ``exact``); the preconditioned step ``P P^T G``
    estimates ``Z_opt - Z``. ``converged_at(step_norm, Z_norm, G, extras)`` is the stopping rule;
    ``floor_at(Z_norm, extras, exact)`` bounds the error that rounding in the gradient allows.

    Progress is judged on the step's size against a fixed scale: no halving in the steps that
    should have halved it three times means a floor is reached. At the float64 floor of an
    ill-conditioned problem (``u * kappa**2 * ||r||``: the step stalls, or stops halving below
    that bound; at once below it for a preconditioner of distortion under ``_EXACT_AT_ONCE``,
    which the next exact step finishes), the iteration continues with exact gradients where
    ``exact_available``; stalling below the floor ends it as converged, above it as not
    converged. With exact gradients, the step is accurate to its last digit, and when
    ``predicted_stop`` is given, the iteration ends after applying it if the error it leaves,
    ``rate * ||step||``, meets the stopping rule: ``rate`` is the larger of the distortion and
    the latest ratio of two steps above the floor (which rounding can only inflate), so no pass
    is spent confirming. ``predicted_stop(Z_before, Z, extras)`` then returns the ``extras`` of
    the final ``Z`` (its residual, from the last one and ``A (Z - Z_before)``).
    When the step grows tenfold, the assumed distortion was too small: the iteration restarts
    from the best point with a larger one. Returns ``(Z, relative_error, extras, converged,
    iterations)``, the relative error estimated per column as ``||step|| / ||Z||``.
    """
    xp = array_namespace(factor.P)
    eps = factor.distortion
    Z_prev = Z
    best, best_Z, stalled, iterations, exact = math.inf, Z, 0, 0, exact_from_start
    reference = None  # a fixed scale per column: progress is judged on absolute errors
    previous = xp.linalg.vector_norm(Z, axis=0)  # the last step (the start's, from zero)
    rate = 1.0  # contraction per step, measured
    while True:
        G, extras = evaluate(Z, exact)
        step, step_exact = factor.apply(G), exact
        step_norm = xp.linalg.vector_norm(step, axis=0)
        if not bool(xp.all(xp.isfinite(step_norm))):  # finite data, overflowing products
            raise FloatingPointError(
                "lstsq: the gradient A^T (b - A x) overflows the floating-point range: A and b "
                "are too large in magnitude; scale both by the same factor (x is unchanged)"
            )
        Z_norm = xp.linalg.vector_norm(Z, axis=0)
        if reference is None:
            reference = xp.where(step_norm + Z_norm > 0, step_norm + Z_norm, 1.0)
        progress = float(xp.max(step_norm / reference))
        done = converged_at(step_norm, Z_norm, G, extras)
        floor = floor_at(Z_norm, extras, exact)
        above_floor = bool(xp.any(step_norm > floor))
        if previous is not None and bool(xp.all(previous > 0)):
            rate = float(xp.max(step_norm / previous))
        if not done and above_floor and progress > 10 * best and eps < 0.95:
            # growing: the sketch distorts more than assumed; restart from the best point
            eps = min(0.95, 1.3 * eps)
            Z, Z_prev, stalled, previous = best_Z, best_Z, 0, None
            continue
        if progress < 0.5 * best:
            best, best_Z, stalled = progress, Z, 0
        else:
            stalled += 1
        # steps in which the error estimate should have halved three times, plus two
        window = 2 + math.ceil(3 * math.log(0.5) / math.log(eps))
        if eps < _EXACT_AT_ONCE:  # the next step falls below the floor: take it exact
            floor_reached = not bool(xp.any(max(rate, eps) * step_norm > floor))
        else:
            floor_reached = not above_floor and stalled >= 1
        if not done and exact_available and not exact and (stalled >= window or floor_reached):
            # the float64 floor is reached: the next steps take exact gradients
            exact, stalled, best = True, 0, math.inf  # progress starts afresh
        if stalled >= window:
            done = not above_floor
        if done or iterations >= maxiter or stalled >= window:
            relative_error = step_norm / xp.where(Z_norm > 0, Z_norm, 1.0)
            return Z, relative_error, extras, done, iterations
        alpha, beta = (1 - eps**2) ** 2, eps**2
        Z, Z_prev = Z + alpha * step + beta * (Z - Z_prev), Z
        iterations += 1
        on_step(Z)
        if predicted_stop is not None and step_exact:
            left, Z_norm = max(rate, eps) * step_norm, xp.linalg.vector_norm(Z, axis=0)
            if converged_at(left, Z_norm, G, extras):  # the error left, predicted, is small
                error = xp.maximum(left / xp.where(Z_norm > 0, Z_norm, 1.0), unit_roundoff(Z.dtype))
                return Z, error, predicted_stop(Z_prev, Z, extras), True, iterations
        previous = step_norm if above_floor else None


#: A preconditioner this accurate (the Gram matrix's) needs one exact step from the float64
#: floor: the iteration takes exact gradients as soon as the step is below the floor.
_EXACT_AT_ONCE = 0.01


# -- overdetermined ---------------------------------------------------------------------------


def _refine(problem: Problem, factor: Preconditioner, X, maxiter, tol, u, callback):
    """Heavy ball on ``x`` from ``X``; returns the solver outcome tuple."""
    xp = problem.xp
    history: list[float] = []
    b_norm = problem.b_norms()
    kappa, norm = factor.condition_estimate, factor.norm_estimate
    # From a start within the distortion of the solution and already below the float64 floor
    # (the normal-equations solution of a well-conditioned A), only exact steps can gain.
    start_exact = (
        tol is None
        and problem.exact_gradient_available
        and factor.distortion <= 10 * u * (1 + kappa)
    )

    latest = {}

    def evaluate(X, exact):
        r_norm, G, latest["state"] = problem.objective_gradient(X, exact=exact)
        history.append(float(xp.max(r_norm)))
        return G, r_norm

    def predicted_stop(X_before, X, r_norm):
        # the last step is tiny: A times it costs half a pass, and float64 suffices
        r_norm = problem.objective_after_step(latest["state"], X_before, X)
        history.append(float(xp.max(r_norm)))
        return r_norm

    def converged_at(step_norm, x_norm, G, r_norm):
        if tol is None:  # as accurate as the arithmetic allows
            return bool(xp.all(step_norm <= 8 * u * x_norm))
        optimal = xp.linalg.vector_norm(G, axis=0) <= tol * norm * r_norm
        return bool(xp.all(optimal | (r_norm <= tol * b_norm)))

    def floor_at(x_norm, r_norm, exact):
        scale = xp.where(x_norm > 0, x_norm, 1.0)
        residual_term = 0.0 if exact else kappa**2 * r_norm / (norm * scale)
        return 10 * u * (1 + kappa + residual_term) * scale

    def on_step(X):
        if callback is not None:
            callback(_user_shape(X, problem))

    X, error, r_norm, converged, iterations = _heavy_ball(
        X,
        evaluate,
        factor,
        maxiter,
        converged_at,
        floor_at,
        on_step,
        problem.exact_gradient_available,
        predicted_stop if tol is None else None,
        start_exact,
    )
    return X, r_norm, error, converged, iterations, history, factor.rank, kappa


# -- underdetermined --------------------------------------------------------------------------


def _refine_dual(problem: Problem, factor: Preconditioner, maxiter, tol, u, callback):
    """Minimum-norm solution ``x = A^T y``, ``(A A^T + damp^2 I) y = b``, by heavy ball on
    ``y`` preconditioned by the sketch of ``A^T``; two passes over ``A`` per iteration."""
    xp = problem.xp
    b = problem.b
    history: list[float] = []
    b_norm = xp.linalg.vector_norm(b, axis=0)
    kappa = factor.condition_estimate
    latest = {}

    def evaluate(Y, exact):
        X = problem.rmatmul(Y)
        R = b - problem.matmul(X)  # the residual of A x = b
        r_norm = problem.objective_norms(X, R)
        history.append(float(xp.max(r_norm)))
        latest["X"] = X
        return (R - problem.damp**2 * Y if problem.damp else R), r_norm

    def converged_at(step_norm, y_norm, G, r_norm):
        if tol is None:
            return bool(xp.all(step_norm <= 8 * u * y_norm))
        return bool(xp.all(xp.linalg.vector_norm(G, axis=0) <= tol * b_norm))

    def floor_at(y_norm, r_norm, exact):
        return 10 * u * (1 + kappa**2) * xp.where(y_norm > 0, y_norm, 1.0)

    def on_step(Y):
        if callback is not None:
            callback(_user_shape(problem.rmatmul(Y), problem))

    Y0 = factor.apply(b)
    _, error, r_norm, converged, iterations = _heavy_ball(
        Y0, evaluate, factor, maxiter, converged_at, floor_at, on_step, False
    )
    return latest["X"], r_norm, error, converged, iterations, history, factor.rank, kappa


# -- direct -----------------------------------------------------------------------------------


def _direct(problem: Problem, rcond: float):
    """Dense SVD of ``A`` (formed if sparse or an operator): the minimum-norm ridge solution."""
    xp = problem.xp
    if problem.kind == "dense":
        A = problem.A
    elif problem.kind == "sparse":
        A = xp.asarray(problem.A.toarray())
    else:
        A = xp.asarray(problem.A.matmat(np.eye(problem.d, dtype=problem.A.dtype)))
    v.check_finite(A, "A")  # no sketch of A on this route to check it
    A = xp.astype(A, problem.dtype)
    U, s, Vh = xp.linalg.svd(A, full_matrices=False)
    top = float(s[0]) if s.shape[0] else 0.0
    keep = s > rcond * top
    rank = int(xp.sum(xp.astype(keep, xp.int32)))
    filtered = xp.where(keep, s / (s * s + problem.damp**2), 0.0)
    X = xp.matrix_transpose(Vh) @ (
        xp.reshape(filtered, (-1, 1)) * (xp.matrix_transpose(U) @ problem.b)
    )
    R = problem.b - problem.matmul(X)
    kappa = top / float(s[rank - 1]) if rank else math.inf
    zeros = xp.zeros(problem.b.shape[1], dtype=problem.dtype, device=problem.device)
    residual = problem.objective_norms(X, R)
    return X, residual, zeros, True, 0, [float(xp.max(residual))], rank, kappa


# -- helpers ----------------------------------------------------------------------------------


def _sketch_size(sketch_size, oversampling, small: int, large: int, pass_cost: float) -> int:
    if sketch_size is not None:
        if oversampling is not None:
            raise TypeError("give sketch_size or oversampling, not both")
        m = v.check_positive_int(sketch_size, "sketch_size")
        if m < small:
            raise ValueError(
                f"sketch_size must be at least min(n, d) = {small} (the sketch must keep "
                f"every direction of A), got {m}"
            )
        return m
    if oversampling is None:
        oversampling = min(OVERSAMPLING_CHOICES, key=lambda c: _predicted_cost(c, small, pass_cost))
    if isinstance(oversampling, bool) or not isinstance(oversampling, (int, float)):
        raise TypeError(f"oversampling must be a number > 1, got {oversampling!r}")
    if not oversampling > 1 or not math.isfinite(oversampling):
        raise ValueError(f"oversampling must be a finite number > 1, got {oversampling!r}")
    return max(small + 1, math.ceil(oversampling * small))


def _choose_method(problem: Problem, m: int) -> str:
    """``"direct"`` for problems too small to sketch; for dense tall ``A``, the Gram
    preconditioner where its predicted cost is below the sketch's; else the sketch."""
    if 2 * m > max(problem.n, problem.d):
        return "direct"
    if problem.kind == "dask":  # passes are dear: the Gram route takes the fewest
        return "gram_precondition"
    if problem.kind != "dense" or problem.n < problem.d:
        return "sketch_and_precondition"
    pass_cost = _pass_cost(problem)
    sketch_route = _predicted_cost(m / problem.d, problem.d, pass_cost) + _SKETCH_PASSES * pass_cost
    return "gram_precondition" if _gram_cost(problem) < sketch_route else "sketch_and_precondition"


#: Passes over ``A`` that applying a SASO sketch costs (the scatter into ``S A``), about.
_SKETCH_PASSES = 3
#: Dense BLAS-3 flops done in the time a pass streams one byte of ``A`` (``syrk`` at 80-100
#: GFLOP/s beside passes at 27-32 GB/s on the 2-core test machine; GPUs favour BLAS-3 more).
_BLAS3_FLOPS_PER_BYTE = 3.0
#: Passes over ``A`` that the Gram route takes: about one to the normal-equations solution,
#: one to refine it, one or two to confirm convergence.
_GRAM_PASSES = 4


def _gram_cost(problem: Problem) -> float:
    """``A^T A`` (``n d**2`` flops with ``syrk``), its Cholesky factor and inverse
    (``2 d**3 / 3``), and the passes of the refinement, in the units of :func:`_pass_cost`."""
    n, d = problem.n, problem.d
    itemsize = numpy_dtype(problem.dtype).itemsize
    flops = n * d**2 + 2 * d**3 / 3
    return flops * itemsize / (8 * _BLAS3_FLOPS_PER_BYTE) + _GRAM_PASSES * _pass_cost(problem)


def _predicted_cost(oversampling: float, d: int, pass_cost: float) -> float:
    """Work of sketch-and-precondition in flop-equivalents: Householder QR of the sketch,
    ``2 m d**2``, plus the passes over ``A`` that bring the error from 1 to ``1e-16`` at the
    rate ``eps = sqrt(d / m)`` per pass (and a few more for the start and the stopping test)."""
    return 2 * oversampling * d**3 + _predicted_passes(oversampling) * pass_cost


def _predicted_passes(oversampling: float) -> float:
    return math.log(1e-16) / math.log(min(0.95, math.sqrt(1 / oversampling))) + 4


def _pass_cost(problem: Problem) -> float:
    """One iteration in flop-equivalents: memory traffic at about one byte per flop for dense
    ``A``; a sparse product costs a few nanoseconds per nonzero (random access), ~100 flops."""
    if problem.kind == "sparse":
        return 2 * 100 * problem.A.nnz + 16 * (problem.n + problem.d)
    passes = 1 if problem.kind in ("dense", "dask") else 2
    return passes * numpy_dtype(problem.dtype).itemsize * problem.n * problem.d


def _sketch_parameters(sketch: str, m: int) -> dict:
    """SASO keeps its default 8 nonzeros per column, fewer when the sketch has fewer rows."""
    return {"nnz": min(8, m)} if sketch == "saso" else {}


def _check_tol(tol):
    if tol is None:
        return None
    if isinstance(tol, bool) or not isinstance(tol, (int, float)):
        raise TypeError(f"tol must be a positive number or None, got {tol!r}")
    if not 0 < tol < 1:
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    return float(tol)


def _check_rcond(rcond, default: float) -> float:
    if rcond is None:
        return default
    if isinstance(rcond, bool) or not isinstance(rcond, (int, float)) or not 0 <= rcond < 1:
        raise ValueError(f"rcond must be a number in [0, 1), got {rcond!r}")
    return float(rcond)


def _check_x0(x0: Any, problem: Problem) -> Any:
    xp = problem.xp
    x0 = v.check_array(x0, "x0", xp=xp)
    expected = (problem.d,) if problem.single_rhs else (problem.d, problem.b.shape[1])
    if tuple(x0.shape) != expected:
        raise ValueError(f"x0 must have shape {expected}, got {tuple(x0.shape)}")
    x0 = xp.astype(x0, problem.dtype)
    return xp.reshape(x0, (-1, 1)) if problem.single_rhs else x0


def _user_shape(X: Any, problem: Problem) -> Any:
    return problem.xp.reshape(X, (-1,)) if problem.single_rhs else X


def _result(problem, X, residual, error, iterations, converged, method, m, rank, kappa, history):
    if problem.single_rhs:
        residual, error = float(residual[0]), float(error[0])
    return LstsqResult(
        x=_user_shape(X, problem),
        residual_norm=residual,
        iterations=iterations,
        converged=bool(converged),
        method=method,
        sketch_size=m,
        rank=rank,
        error_estimate=error,
        condition_estimate=float(kappa),
        residual_norms=tuple(history),
    )


def _on_host(A, b, arguments: dict) -> LstsqResult:
    """JAX: solve on the host with NumPy, return on the caller's device."""
    xp = array_namespace(A)
    options = {k: arguments[k] for k in arguments if k not in ("A", "b")}
    host = lambda z: None if z is None else to_numpy(z)  # noqa: E731
    options["weights"], options["x0"] = host(options["weights"]), host(options["x0"])
    dev = device(A)
    if options["callback"] is not None:
        user_callback = options["callback"]
        options["callback"] = lambda x: user_callback(xp.asarray(x, device=dev))
    result = lstsq(to_numpy(A), host(b), **options)
    result = dataclasses.replace(result, x=xp.asarray(result.x, device=dev))
    if isinstance(result.residual_norm, float):
        return result
    return dataclasses.replace(
        result,
        residual_norm=xp.asarray(result.residual_norm, device=dev),
        error_estimate=xp.asarray(result.error_estimate, device=dev),
    )


def _gathered(problem: DaskProblem, arguments: dict) -> LstsqResult:
    """A dask problem too small to sketch (or ``method="direct"``): solved in memory."""
    options = {k: arguments[k] for k in ("method", "sketch", "sketch_size", "oversampling")}
    options.update({k: arguments[k] for k in ("tol", "maxiter", "damp", "rcond", "seed")})
    options.update({k: arguments[k] for k in ("x0", "callback")})
    A, b = problem.gather()
    return lstsq(A, b[:, 0] if problem.single_rhs else b, **options)
