"""``lp_regression``: the full solvers against SciPy (the primal LP for ``p = 1``, LAPACK for
``p = 2``, BFGS for other ``p``), an exact vertex enumeration and a duality certificate; the
sampled solver against the ``(1 + eps) / (1 - eps)`` guarantee; ``lp_norm`` against mpmath; and
bad input.

Tolerances.

* ``p = 1``: HiGHS's default primal and dual feasibility tolerances are ``1e-7`` (relative, in its
  scaled units): :data:`LP_RTOL` between two LP optima.
* ``p >= 2``: ``f = sum |r_i|^p`` is twice differentiable, damped Newton converges quadratically
  and ends with full steps, so the suboptimality left when the relative decrease falls below
  ``tol`` is at most about that decrease: ``f - f* <= 2 tol f``; we allow ``10 tol`` plus the
  rounding of ``f``, ``n u``.
* ``1 < p < 2``: ``psi(t) = |t|^{p-1} sign t`` is only ``(p - 1)``-Hoelder
  (``|psi(s) - psi(t)| <= 2^{2-p} |s - t|^{p-1}``), Newton is not quadratic near a zero residual,
  and the last decrease does not bound the error (measured: 6.4 tol at ``p = 1.2``). Integrating
  the gradient from ``x*`` (where it vanishes) gives ``f(x) - f* <= 2^{2-p} ||A h||_p^p`` for
  ``h = x - x*``, and ``||A h||_p^p <= sum_i ||a_i||^p ||h||^p``. The stop requires a relative
  step below ``sqrt(tol)``; for iterates converging linearly with ratio ``<= 0.9``, ``||h|| <= 9
  sqrt(tol) ||x||``, so we allow ``2^{2-p} sum_i ||a_i||^p (10 sqrt(tol) ||x||)^p / f``
  (:func:`hoelder_allowance`), plus ``n u``.
* Stationarity (``p >= 2``): with ``phi = f / p``, ``g = A^T (|r|^{p-1} sign r)`` and ``H = (p - 1)
  A^T diag(|r|^{p-2}) A`` its gradient and Hessian, a full Newton step decreases ``phi`` by about
  ``lambda**2 / 2``, ``lambda**2 = g^T H^{-1} g >= ||g||**2 / ||H||``; the stop therefore leaves
  ``||g|| <= sqrt(2 tol phi ||H||)``. With ``||H|| <= (p - 1) ||A||**2 max|r|^{p-2}`` and
  ``sum |r|^p <= max|r| sum |r|^{p-1}`` this is at most ``sqrt(2 tol) ||A|| ||r||_{p-1}^{p-1}``.
  For ``p < 2`` no such bound exists: ``|r|^{p-1}`` is not Lipschitz at a zero residual (at
  ``p = 1.2`` a residual of ``2.5e-6`` leaves ``||g||`` at ``5e-5`` of that scale).
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog, minimize

from sketchla import ConvergenceWarning
from sketchla.sampling import lp_norm, lp_regression

U64 = float(np.finfo(np.float64).eps) / 2  # unit roundoff of float64
U32 = float(np.finfo(np.float32).eps) / 2
LP_RTOL = 1e-7  # HiGHS's default primal/dual feasibility tolerance
TOL = 1e-10  # lp_regression's default tol
FAMILIES = ("gaussian", "heavy", "coherent")


def problem(kind: str, n: int, d: int, seed: int):
    """``(A, b)``: ``A`` from a family with very non-uniform sensitivities, ``b = A x + noise``
    with Student-t(2) noise (heavy-tailed residuals).

    ``"gaussian"``: standard normal. ``"heavy"``: Gaussian rows times Student-t(2) draws.
    ``"coherent"``: a ``d x d`` identity block on top of Gaussian noise of scale ``1e-3 / n``.
    """
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        A = rng.standard_normal((n, d))
    elif kind == "heavy":
        A = rng.standard_normal((n, d)) * rng.standard_t(2, size=(n, 1))
    elif kind == "coherent":
        A = np.vstack([np.eye(d), (1e-3 / n) * rng.standard_normal((n - d, d))])
    else:
        raise ValueError(kind)
    return A, A @ rng.standard_normal(d) + rng.standard_t(2, size=n)


def primal_l1(A: np.ndarray, b: np.ndarray) -> float:
    """``min sum t`` over ``(x, t)`` with ``-t <= A x - b <= t``: the primal LP, by HiGHS."""
    n, d = A.shape
    eye = np.eye(n)
    result = linprog(
        np.r_[np.zeros(d), np.ones(n)],
        A_ub=np.block([[A, -eye], [-A, -eye]]),
        b_ub=np.r_[b, -b],
        bounds=[(None, None)] * d + [(0, None)] * n,
        method="highs",
    )
    assert result.status == 0
    return float(result.fun)


def power_sum(A, b, x, p) -> float:
    return float(np.sum(np.abs(A @ x - b) ** p))


def norm_p(A, b, x, p) -> float:
    """``||A x - b||_p``, scaled by the largest entry (independent of ``lp_norm``)."""
    r = np.abs(A @ x - b)
    top = r.max()
    return 0.0 if top == 0 else float(top * np.sum((r / top) ** p) ** (1 / p))


def dual_lower_bound(A: np.ndarray, b: np.ndarray, x: np.ndarray, p: float) -> float:
    """A certified lower bound on ``min_x ||A x - b||_p``: for any ``y`` with ``A^T y = 0``,
    ``b^T y = (b - A x)^T y <= ||A x - b||_p ||y||_q`` (Hoelder, ``1/p + 1/q = 1``), so
    ``-b^T y / ||y||_q`` bounds every objective from below. ``y`` is built from the residual at
    ``x`` (the optimality condition's multiplier) and made exactly orthogonal to ``range(A)``:
    for ``p > 1`` by projection; for ``p = 1`` ``y = sign(r)`` off the ``d`` smallest residuals
    and, on those, the solution of ``A_J^T y_J = -A_rest^T y_rest``."""
    r = A @ x - b
    if p == 1:
        J = np.argsort(np.abs(r))[: A.shape[1]]
        rest = np.setdiff1d(np.arange(A.shape[0]), J)
        y = np.sign(r)
        y[J] = np.linalg.solve(A[J].T, -A[rest].T @ y[rest])
        return float(-(b @ y) / np.max(np.abs(y)))
    y0 = np.sign(r) * np.abs(r) ** (p - 1)
    y = y0 - A @ np.linalg.lstsq(A, y0, rcond=None)[0]
    return float(-(b @ y) / np.linalg.norm(y, p / (p - 1)))


# -- p = 1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize(("n", "d", "seed"), [(300, 5, 0), (150, 3, 1), (200, 8, 2)])
def test_l1_matches_primal_lp(kind, n, d, seed):
    A, b = problem(kind, n, d, seed)
    result = lp_regression(A, b, 1)
    reference = primal_l1(A, b)
    assert result.objective == pytest.approx(reference, rel=LP_RTOL)
    assert result.objective == pytest.approx(norm_p(A, b, result.x, 1), rel=4 * n * U64)
    assert result.converged
    assert result.sample_size is None
    assert result.x.shape == (d,)


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_l1_matches_vertex_enumeration(kind, seed):
    """An l_1 regression optimum interpolates ``d`` rows (a vertex of the LP): enumerate every
    pair of rows of a ``30 x 2`` problem."""
    A, b = problem(kind, 30, 2, seed)
    best = math.inf
    for i in range(30):
        for j in range(i + 1, 30):
            rows = [i, j]
            if abs(np.linalg.det(A[rows])) > 0:
                x = np.linalg.solve(A[rows], b[rows])
                best = min(best, power_sum(A, b, x, 1))
    assert lp_regression(A, b, 1).objective == pytest.approx(best, rel=LP_RTOL)


# -- p = 2 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_l2_matches_lstsq(kind, seed):
    A, b = problem(kind, 300, 5, seed)
    result = lp_regression(A, b, 2)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    # both backward stable: forward error ~ u (kappa + kappa^2 ||r|| / (||A|| ||x||)), each
    kappa = np.linalg.cond(A)
    r = np.linalg.norm(A @ x_ref - b)
    level = U64 * (kappa + kappa**2 * r / (np.linalg.norm(A, 2) * np.linalg.norm(x_ref)))
    assert np.linalg.norm(result.x - x_ref) <= 2 * 10 * 5 * level * np.linalg.norm(x_ref)
    # the objective is stationary at the optimum: only rounding, n u
    assert result.objective == pytest.approx(np.linalg.norm(A @ x_ref - b), rel=4 * 300 * U64)
    assert result.iterations == 0
    assert result.converged


# -- 1 < p < inf -----------------------------------------------------------------------------


def bfgs_best(A, b, p, starts) -> float:
    """The best ``f = sum |A x - b|^p`` found by BFGS (analytic gradient) from each start."""

    def f(x):
        return power_sum(A, b, x, p)

    def gradient(x):
        r = A @ x - b
        return p * A.T @ (np.abs(r) ** (p - 1) * np.sign(r))

    values = [f(start) for start in starts]
    for start in starts:
        result = minimize(f, start, jac=gradient, method="BFGS", options={"gtol": 1e-12})
        values.append(float(result.fun))
    return min(values)


def hoelder_allowance(A, x, f, p) -> float:
    """The relative suboptimality allowed for ``1 < p < 2`` (module docstring)."""
    rows = np.sum(np.linalg.norm(A, axis=1) ** p)
    return 2 ** (2 - p) * rows * (10 * math.sqrt(TOL) * np.linalg.norm(x)) ** p / f


@pytest.mark.parametrize("p", [1.2, 1.5, 3, 4, 8])
@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_general_p_matches_bfgs(p, kind, seed):
    n, d = 300, 5
    A, b = problem(kind, n, d, seed)
    result = lp_regression(A, b, p)
    assert result.converged
    x = np.asarray(result.x)
    f = power_sum(A, b, x, p)
    assert result.objective == pytest.approx(norm_p(A, b, x, p), rel=4 * n * U64)
    start = np.linalg.lstsq(A, b, rcond=None)[0]
    reference = bfgs_best(A, b, p, [start, x])
    allowance = 10 * TOL if p >= 2 else hoelder_allowance(A, x, f, p)
    assert f <= reference * (1 + allowance + n * U64)
    if p >= 2:  # stationarity (module docstring), plus the rounding of the gradient's sum
        r = A @ x - b
        g = A.T @ (np.abs(r) ** (p - 1) * np.sign(r))
        H = (p - 1) * (A.T * np.abs(r) ** (p - 2)) @ A
        scale = np.linalg.norm(A, 2) * np.sum(np.abs(r) ** (p - 1))
        rounding = n * U64 * scale
        assert np.linalg.norm(g) <= math.sqrt(2 * TOL * (f / p) * np.linalg.norm(H, 2)) + rounding
        assert np.linalg.norm(g) <= math.sqrt(2 * TOL) * scale + rounding


@pytest.mark.parametrize("p", [1.5, 3])
@pytest.mark.parametrize("kind", FAMILIES)
def test_exact_fit(p, kind):
    """``b = A x*``: the least-squares start is backward stable, ``||A x0 - b||_2 <= c d u
    (||A|| ||x0|| + ||b||)``, and Newton only decreases ``f``, so the objective stays below that
    (times ``n^{1/p - 1/2}`` for ``p < 2``, the l_p/l_2 norm ratio); and ``||A (x - x*)||_2 <=
    ||A x - b||_2 + ||A x* - b||_2`` bounds ``x - x*`` through ``sigma_min``."""
    n, d = 200, 4
    A, _ = problem(kind, n, d, 3)
    x_true = np.random.default_rng(4).standard_normal(d)
    b = A @ x_true
    result = lp_regression(A, b, p)
    assert result.converged
    x = np.asarray(result.x)
    sizes = np.linalg.norm(A, 2) * np.linalg.norm(x_true) + np.linalg.norm(b)
    ratio = n ** max(0.0, 1 / p - 1 / 2)
    bound = 10 * d * U64 * sizes
    assert result.objective <= ratio * bound
    sigma_min = np.linalg.svd(A, compute_uv=False)[-1]
    gap = np.linalg.norm(A @ x - b) + np.linalg.norm(A @ x_true - b)
    assert np.linalg.norm(x - x_true) <= (gap + 2 * bound) / sigma_min


@pytest.mark.parametrize("p", [1, 1.5, 3])
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # the singular Newton system
def test_rank_deficient_matrix(p):
    """``A = F G`` with ``G`` of full row rank has the column space of ``F``: the same optimum."""
    rng = np.random.default_rng(5)
    F = rng.standard_normal((120, 2))
    A = F @ rng.standard_normal((2, 4))
    b = rng.standard_normal(120)
    factor = lp_regression(F, b, p).objective
    result = lp_regression(A, b, p)
    rtol = LP_RTOL if p == 1 else 10 * TOL
    assert result.objective == pytest.approx(factor, rel=rtol)
    assert result.objective == pytest.approx(norm_p(A, b, np.asarray(result.x), p), rel=1e-12)


# -- dtypes, sparse, backends ----------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 1.5, 2, 3])
def test_float32_returns_float32(p):
    A, b = problem("heavy", 200, 4, 6)
    A32, b32 = A.astype(np.float32), b.astype(np.float32)
    result = lp_regression(A32, b32, p)
    assert result.x.dtype == np.float32
    assert isinstance(result.objective, float)
    # the solve runs in float64 on the float32 data: the same as solving that data in float64
    A64, b64 = A32.astype(np.float64), b32.astype(np.float64)
    reference = lp_regression(A64, b64, p)
    assert result.objective == pytest.approx(reference.objective, rel=LP_RTOL if p == 1 else TOL)
    # rounding x to float32 moves each residual by at most u32 |a_i|^T |x|
    shift = lp_norm(np.abs(A64) @ np.abs(reference.x), p) * U32
    assert norm_p(A64, b64, result.x.astype(np.float64), p) <= reference.objective + shift


@pytest.mark.parametrize("p", [1, 1.5, 2, 3])
def test_sparse_equals_dense(p):
    A, b = problem("heavy", 300, 5, 7)
    A[np.abs(A) < 0.5] = 0.0  # some structure
    dense = lp_regression(A, b, p)
    for matrix in (sp.csr_array(A), sp.csc_matrix(A)):
        sparse = lp_regression(matrix, b, p)
        assert isinstance(sparse.x, np.ndarray)
        if p == 1:  # two HiGHS runs on the same LP
            assert sparse.objective == pytest.approx(dense.objective, rel=LP_RTOL)
        else:  # the same dense arithmetic after toarray()
            np.testing.assert_allclose(sparse.x, dense.x, rtol=10 * U64, atol=0)
            assert sparse.objective == pytest.approx(dense.objective, rel=10 * U64)


def test_backends(backend):
    A, b = problem("heavy", 150, 3, 8)
    result = lp_regression(backend.asarray(A), backend.asarray(b), 1.5)
    assert type(result.x) is type(backend.asarray(b))
    reference = lp_regression(A, b, 1.5)
    # computed on the host from the same float64 data
    np.testing.assert_allclose(backend.to_numpy(result.x), reference.x, rtol=10 * U64)
    assert result.objective == pytest.approx(reference.objective, rel=10 * U64)


# -- lp_norm ---------------------------------------------------------------------------------


def mp_norm(r: np.ndarray, p: float) -> float:
    with mpmath.workdps(60):
        total = mpmath.fsum(mpmath.power(abs(mpmath.mpf(float(v))), p) for v in r)
        return float(mpmath.power(total, mpmath.mpf(1) / p))


@pytest.mark.parametrize(
    ("scale", "p"), [(1e10, 50), (1e200, 3), (1e-200, 3), (1e-10, 50), (1.0, 1), (1.0, 2.5)]
)
def test_lp_norm_neither_overflows_nor_underflows(scale, p):
    r = scale * np.random.default_rng(9).standard_normal(100)
    r[:3] = 0.0
    value = lp_norm(r, p)
    assert math.isfinite(value)
    # n powers with relative error ~ p u each, a sum of n terms, then the 1/p-th root divides
    # the sum's relative error by p; plus the scaling's two roundings
    rtol = ((p + 100) * U64) / p + 4 * U64
    assert value == pytest.approx(mp_norm(r, p), rel=rtol)


def test_lp_norm_special_vectors():
    assert lp_norm(np.zeros(5), 3) == 0.0
    assert lp_norm(np.array([-3.0]), 7) == 3.0
    assert lp_norm(np.array([3.0, 4.0]), 2) == pytest.approx(5.0, rel=4 * U64)
    # beyond every float: p = 50 on entries ~1e10 (naive sum |r|^p = inf)
    assert lp_norm(np.full(4, 1e10), 50) == pytest.approx(1e10 * 4 ** (1 / 50), rel=8 * U64)


# -- sampling --------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 1.5, 2, 3])
@pytest.mark.parametrize("d", [5, 9])
def test_sampled_solution_is_near_optimal(p, d):
    """``objective <= (1 + eps) / (1 - eps) OPT`` holds w.h.p. when the sample is a ``1 +- eps``
    embedding of ``[A, b]``'s column space (Cohen & Peng 2015; Woodruff & Yasuda 2023): checked
    on three fixed seeds, against a certified lower bound on ``OPT`` (:func:`dual_lower_bound`)
    so that the check is never weaker than the statement."""
    n, eps = 20000, 0.1
    A, b = problem("heavy", n, d, 10 + d)
    optimum = lp_regression(A, b, p)
    lower = dual_lower_bound(A, b, np.asarray(optimum.x), p)
    assert lower <= optimum.objective * (1 + 1e-12)
    default_size = math.ceil(4 * (d + 1) * math.log(d + 1) / eps)
    for seed in range(3):
        sampled = lp_regression(A, b, p, method="sample", eps=eps, seed=seed)
        assert sampled.objective <= (1 + eps) / (1 - eps) * lower, seed
        assert sampled.objective == pytest.approx(norm_p(A, b, sampled.x, p), rel=4 * n * U64)
        # Bernoulli sample size: mean default_size, standard deviation at most its root
        assert abs(sampled.sample_size - default_size) <= 5 * math.sqrt(default_size)


def test_sample_size_and_reproducibility():
    A, b = problem("heavy", 5000, 4, 11)
    first = lp_regression(A, b, 1.5, method="sample", sample_size=400, seed=3)
    again = lp_regression(A, b, 1.5, method="sample", sample_size=400, seed=3)
    other = lp_regression(A, b, 1.5, method="sample", sample_size=400, seed=4)
    assert np.array_equal(first.x, again.x)
    assert first.sample_size == again.sample_size
    assert not np.array_equal(first.x, other.x)
    assert abs(first.sample_size - 400) <= 5 * math.sqrt(400)
    # a sample as large as the problem keeps every row unscaled: the full solution
    everything = lp_regression(A, b, 1.5, method="sample", sample_size=5000, seed=0)
    assert everything.sample_size == 5000
    assert everything.objective == pytest.approx(lp_regression(A, b, 1.5).objective, rel=10 * TOL)
    # sparse A samples too
    sparse = lp_regression(sp.csr_array(A), b, 1.5, method="sample", sample_size=400, seed=3)
    assert sparse.sample_size == first.sample_size
    np.testing.assert_allclose(sparse.x, first.x, rtol=1e-8)


# -- convergence -----------------------------------------------------------------------------


def test_maxiter_warns():
    A, b = problem("heavy", 300, 5, 12)
    with pytest.warns(ConvergenceWarning, match="maxiter=1"):
        result = lp_regression(A, b, 1.5, maxiter=1)
    assert not result.converged
    assert result.iterations == 1
    assert math.isfinite(result.objective)
    # one damped Newton step from the least-squares start cannot increase f
    start = np.linalg.lstsq(A, b, rcond=None)[0]
    assert result.objective <= norm_p(A, b, start, 1.5) * (1 + 300 * U64)


def test_converged_run_is_silent():
    A, b = problem("heavy", 300, 5, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in (1, 1.5, 2, 4):
            assert lp_regression(A, b, p).converged


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "options", "error", "match"),
    [
        (0.5, {}, ValueError, "p must be >= 1"),
        (0, {}, ValueError, "p must be >= 1"),
        (math.inf, {}, ValueError, "p = inf"),
        (math.nan, {}, ValueError, "p must be >= 1"),
        (True, {}, TypeError, "p must be a real number"),
        ("2", {}, TypeError, "p must be a real number"),
        (2, {"method": "bogus"}, ValueError, "method must be one of"),
        (2, {"eps": 0}, ValueError, "eps must be in"),
        (2, {"eps": 1}, ValueError, "eps must be in"),
        (2, {"eps": -0.5}, ValueError, "eps must be in"),
        (2, {"eps": math.nan}, ValueError, "eps must be in"),
        (2, {"eps": True}, TypeError, "eps must be a number"),
        (2, {"tol": 0}, ValueError, "tol must be in"),
        (2, {"tol": 1.5}, ValueError, "tol must be in"),
        (2, {"tol": math.nan}, ValueError, "tol must be in"),
        (2, {"tol": "small"}, TypeError, "tol must be a number"),
        (2, {"maxiter": 0}, ValueError, "maxiter must be"),
        (2, {"maxiter": 2.5}, TypeError, "maxiter must be an integer"),
        (2, {"method": "sample", "sample_size": 0}, ValueError, "sample_size must be"),
        (2, {"method": "sample", "scheme": "bogus"}, ValueError, "scheme must be one of"),
    ],
)
def test_bad_options(p, options, error, match):
    A, b = problem("gaussian", 50, 3, 0)
    with pytest.raises(error, match=match):
        lp_regression(A, b, p, **options)


def test_bad_arrays():
    A, b = problem("gaussian", 50, 3, 0)
    bad = A.copy()
    bad[4, 1] = np.inf
    with pytest.raises(ValueError, match="A must hold only finite"):
        lp_regression(bad, b, 2)
    with pytest.raises(ValueError, match="A must hold only finite"):
        lp_regression(sp.csr_array(bad), b, 2)
    nan_b = b.copy()
    nan_b[7] = np.nan
    with pytest.raises(ValueError, match="b must hold only finite"):
        lp_regression(A, nan_b, 2)
    with pytest.raises(ValueError, match="b must have length 50"):
        lp_regression(A, b[:-1], 2)
    with pytest.raises(ValueError, match="b must be 1-D"):
        lp_regression(A, b[:, None], 2)
    with pytest.raises(ValueError, match="A must be 2-D"):
        lp_regression(b, b, 2)
