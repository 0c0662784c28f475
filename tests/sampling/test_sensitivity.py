"""``sensitivities``: the exact l_p sensitivities ``s_i = sup_x |a_i^T x|^p / ||A x||_p^p`` against
brute force, and the certified upper bounds (``"lewis"``, ``"augmented"``, ``"root_leverage"``)
against the exact values.

References. For ``p = 1`` the supremum is attained on a ray of the hyperplane arrangement
``{a_j^T x = 0}`` (the unit ball of ``||A x||_1`` is a polytope whose vertices lie on the
intersections of ``d - 1`` of those hyperplanes, and a linear function peaks at a vertex), so
enumerating every ``(d - 1)``-subset of rows and its null vector gives ``s_i`` exactly, to
rounding. For ``p > 1`` the reference is random search plus Nelder-Mead maximisation of the
ratio from several starts; every value it finds is a lower bound on ``s_i``, and because
``1 / s_i = min {||A x||_p^p : a_i^T x = 1}`` is a convex problem, the ratio has no spurious local
maxima, so the optimiser reaches ``s_i``.

Tolerances.

* ``p = 1``: the library solves an LP with HiGHS, whose default primal and dual feasibility
  tolerances are ``1e-7`` (relative, in HiGHS's scaled units): :data:`LP_RTOL`.
* ``p > 1``: the library's inner damped Newton stops at a relative decrease of ``1e-13`` and a
  relative step of ``sqrt(1e-13) ~ 3e-7``; at a smooth minimum the objective error is quadratic in
  the step, ``~1e-13``, times a modest curvature factor. Nelder-Mead stops with a simplex of size
  ``xatol = 1e-10`` on unit-scale ``x``, an error ``O(xatol**2)`` in the ratio at a smooth maximum.
  Summing ``n`` terms adds ``n u``. :data:`NEWTON_RTOL` ``= 1e-9`` leaves three orders of
  magnitude above all of these.
* Upper bounds: the Lewis weights are computed to the fixed-point residual
  ``max_i |w_i^{2/p} / g_i(w) - 1| <= sqrt(u)`` (their default ``tol``); a relative error ``t`` in
  ``w_i^{2/p}`` is ``(p / 2) t`` in ``w_i``, and the contraction with rate
  ``rho = |p - 2| / (p + 2)`` amplifies a residual by at most ``1 / (1 - rho) <= (p + 2) / 4``;
  :func:`bound_allowance` takes ``p (p + 2) sqrt(u)``, plus ``100 n u`` for the rounding of the
  QRs.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize

from sketchla.sampling import leverage_scores, sensitivities, total_sensitivity

U64 = float(np.finfo(np.float64).eps) / 2  # unit roundoff of float64
LP_RTOL = 1e-7  # HiGHS's default primal/dual feasibility tolerance
NEWTON_RTOL = 1e-9  # see the module docstring
FAMILIES = ("gaussian", "heavy", "coherent")


def family(kind: str, n: int, d: int, seed: int) -> np.ndarray:
    """Seeded test matrices with very non-uniform sensitivities.

    ``"gaussian"``: standard normal. ``"heavy"``: Gaussian rows times Student-t(2) draws
    (heavy-tailed row scales). ``"coherent"``: a ``d x d`` identity block on top of Gaussian noise
    of scale ``1e-3 / n`` (total l_p mass about ``1e-3`` of an identity row for every ``p >= 1``),
    so that each identity row carries a whole direction (``s_i ~ 1``).
    """
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, d))
    if kind == "heavy":
        return rng.standard_normal((n, d)) * rng.standard_t(2, size=(n, 1))
    if kind == "coherent":
        return np.vstack([np.eye(d), (1e-3 / n) * rng.standard_normal((n - d, d))])
    raise ValueError(kind)


def ratios(A: np.ndarray, X: np.ndarray, p: float) -> np.ndarray:
    """``|a_i^T x|^p / ||A x||_p^p`` for every row ``i`` and column ``x`` of ``X``: ``(n, k)``."""
    R = np.abs(A @ X) ** p
    return R / R.sum(axis=0)


def l1_vertex_sensitivities(A: np.ndarray) -> np.ndarray:
    """Exact l_1 sensitivities by enumerating the rays of the arrangement ``{a_j^T x = 0}``: the
    null vector of every ``(d - 1)``-subset of rows (see the module docstring)."""
    n, d = A.shape
    subsets = np.array(list(itertools.combinations(range(n), d - 1)))
    X = np.linalg.svd(A[subsets])[2][:, -1, :].T  # (d, #subsets): each subset's null vector
    return ratios(A, X, 1.0).max(axis=1)


def brute_force(A: np.ndarray, p: float, seed: int, samples: int = 20000):
    """``(random, optimised)``: per row, the best ratio over ``samples`` random ``x``, and the best
    found by Nelder-Mead maximisation from the best random ``x`` and from one random start."""
    n, d = A.shape
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, samples))
    R = ratios(A, X, p)
    random_best = R.max(axis=1)
    optimised = np.zeros(n)
    options = {"xatol": 1e-10, "fatol": 1e-15, "maxiter": 20000, "maxfev": 20000}
    for i in range(n):

        def negative_ratio(x, i=i):
            r = np.abs(A @ x) ** p
            return -r[i] / r.sum()

        for start in (X[:, np.argmax(R[i])], rng.standard_normal(d)):
            result = minimize(negative_ratio, start, method="Nelder-Mead", options=options)
            optimised[i] = max(optimised[i], -result.fun)
    return random_best, optimised


def bound_allowance(p: float, n: int) -> float:
    """Relative slack of a Lewis-weight bound over the exact sensitivity (module docstring)."""
    return p * (p + 2) * math.sqrt(U64) + 100 * n * U64


def total_bound(p: float, d: int) -> float:
    """``sum_i s_i <= d`` for ``p <= 2`` and ``d^{p/2}`` beyond (Woodruff & Yasuda 2023)."""
    return float(d) if p <= 2 else d ** (p / 2)


# -- exact values against brute force --------------------------------------------------------


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("d", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_p1_matches_vertex_enumeration(kind, d, seed):
    A = family(kind, 40, d, seed)
    exact = sensitivities(A, 1, method="exact")
    reference = l1_vertex_sensitivities(A)
    np.testing.assert_allclose(exact, reference, rtol=LP_RTOL, atol=0)
    # and no random direction beats it
    X = np.random.default_rng(seed + 10).standard_normal((d, 20000))
    assert np.all(ratios(A, X, 1.0).max(axis=1) <= exact * (1 + LP_RTOL))


def brute_force_cases():
    for n, d, seed in [(40, 3, 0), (50, 2, 1)]:
        for kind in FAMILIES:
            for p in (1.5, 3, 4):
                yield pytest.param(p, kind, n, d, seed)


@pytest.mark.parametrize(("p", "kind", "n", "d", "seed"), list(brute_force_cases()))
def test_exact_matches_brute_force(p, kind, n, d, seed):
    A = family(kind, n, d, seed)
    exact = sensitivities(A, p, method="exact")
    random_best, optimised = brute_force(A, p, seed)
    # every brute-force ratio is a lower bound on s_i ...
    assert np.all(random_best <= exact * (1 + NEWTON_RTOL))
    assert np.all(optimised <= exact * (1 + NEWTON_RTOL))
    # ... and the optimiser reaches it
    assert np.all(optimised >= exact * (1 - NEWTON_RTOL))


@pytest.mark.parametrize("p", [1, 1.5, 3])
def test_single_column_closed_form(p):
    """``d = 1``: ``s_i = |a_i|^p / sum_j |a_j|^p`` (every ``x`` gives the same ratio)."""
    a = family("heavy", 30, 1, 3)
    expected = np.abs(a[:, 0]) ** p / np.sum(np.abs(a[:, 0]) ** p)
    # the closed form's rounding: a sum of n terms, each with a few roundings
    np.testing.assert_allclose(sensitivities(a, p, method="exact"), expected, rtol=4 * 30 * U64)
    assert np.all(sensitivities(a, p) >= expected * (1 - bound_allowance(p, 30)))


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("seed", [0, 1])
def test_p2_exact_is_leverage(kind, seed):
    A = family(kind, 60, 4, seed)
    exact = sensitivities(A, 2, method="exact")
    tau = leverage_scores(A)
    # both are backward stable (lstsq, QR): forward error ~ n u cond(A) per score, relative to
    # the largest score (a tiny score's relative error is not controlled)
    bound = 10 * 60 * U64 * np.linalg.cond(A) * float(tau.max())
    assert np.max(np.abs(exact - tau)) <= bound
    assert np.all(sensitivities(A, 2, method="root_leverage") == tau)


# -- the bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 1.5, 2, 3, 4])
@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize(("d", "seed"), [(2, 0), (4, 1)])
def test_bounds_dominate_exact_and_totals(p, kind, d, seed):
    n = 60
    A = family(kind, n, d, seed)
    exact = sensitivities(A, p, method="exact")
    allowance = bound_allowance(p, n)
    methods = ["lewis", "augmented"] + (["root_leverage"] if p <= 2 else [])
    for method in methods:
        bound = sensitivities(A, p, method=method)
        assert np.all(bound >= exact * (1 - allowance)), method
    rtol = LP_RTOL if p == 1 else NEWTON_RTOL
    assert exact.sum() <= total_bound(p, d) * (1 + rtol)
    # the Lewis bound sums to exactly d (p <= 2) or d^{p/2} (p > 2) at the fixed point
    lewis_total = total_sensitivity(A, p)
    assert lewis_total == pytest.approx(total_bound(p, d), rel=allowance)
    assert total_sensitivity(A, p, method="exact") == pytest.approx(exact.sum(), rel=1e-12)
    # augmented = lewis + leverage
    np.testing.assert_allclose(
        sensitivities(A, p, method="augmented"),
        sensitivities(A, p) + leverage_scores(A),
        rtol=4 * U64,
        atol=0,
    )


@pytest.mark.parametrize("p", [1, 1.5, 3])
def test_coherent_rows_are_tight(p):
    """An identity row carrying a direction has ``s_i ~ 1``, and every bound must be ~1 there
    too. ``x = e_j`` gives the ratio ``1 / (1 + ||noise e_j||_p^p)``, a lower bound on ``s_j``
    (the noise's l_p mass is about ``1e-3``), and no ratio exceeds 1."""
    d = 3
    A = family("coherent", 60, d, 5)
    exact = sensitivities(A, p, method="exact")
    noise_mass = np.sum(np.abs(A[d:]) ** p, axis=0)  # ||noise e_j||_p^p for each j
    assert np.all(noise_mass < 2e-3)
    rtol = LP_RTOL if p == 1 else NEWTON_RTOL
    assert np.all(exact[:d] >= 1 / (1 + noise_mass) * (1 - rtol))
    assert np.all(exact[:d] <= 1 + rtol)
    assert np.all(sensitivities(A, p)[:d] >= exact[:d] * (1 - bound_allowance(p, 60)))


# -- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 1.5, 2, 3])
def test_zero_rows_get_zero(p):
    A = family("heavy", 50, 3, 6)
    zeros = [0, 17, 49]
    A_zero = A.copy()
    A_zero[zeros] = 0.0
    others = np.setdiff1d(np.arange(50), zeros)
    methods = ["exact", "lewis", "augmented"] + (["root_leverage"] if p <= 2 else [])
    for method in methods:
        values = sensitivities(A_zero, p, method=method)
        if method in ("exact", "lewis"):  # zero rows are skipped: exactly 0
            assert np.all(values[zeros] == 0), method
        else:
            # the leverage scores come from a Householder QR, whose Q has rounding-level entries
            # (<= 10 n u each) in a zero row: tau <= d (10 n u)^2, and tau^{p/2} for root_leverage
            tau_bound = 3 * (10 * 50 * U64) ** 2
            bound = tau_bound ** (p / 2) if method == "root_leverage" else tau_bound
            assert np.all(values[zeros] <= bound), method
        # the zero rows change no ratio: the others are the sensitivities of A without them
        reference = sensitivities(A_zero[others], p, method=method)
        rtol = (LP_RTOL if p == 1 else NEWTON_RTOL) if method == "exact" else 1e-12
        np.testing.assert_allclose(values[others], reference, rtol=rtol, err_msg=method)


@pytest.mark.parametrize("p", [1, 1.5, 3])
@pytest.mark.parametrize("kind", FAMILIES)
def test_invariant_under_change_of_basis(p, kind):
    """``s_i`` depends on the column space only: ``A -> A G`` for an invertible ``G``."""
    A = family(kind, 50, 3, 7)
    G = np.random.default_rng(8).standard_normal((3, 3))
    kappa = np.linalg.cond(G)
    exact = sensitivities(A, p, method="exact")
    moved = sensitivities(A @ G, p, method="exact")
    rtol = (LP_RTOL if p == 1 else NEWTON_RTOL) + 10 * kappa * 50 * U64
    np.testing.assert_allclose(moved, exact, rtol=2 * rtol)
    # the Lewis weights: two fixed points each within the bound allowance of the exact one
    lewis = sensitivities(A, p)
    np.testing.assert_allclose(
        sensitivities(A @ G, p), lewis, rtol=2 * bound_allowance(p, 50) + 10 * kappa * 50 * U64
    )


@pytest.mark.parametrize("p", [1.5, 2, 3])
def test_exact_rank_deficient(p):
    """``A = F G`` with ``G`` of full row rank has the column space of ``F``: the same
    sensitivities, whose sum is at most ``rank = 2`` (``p <= 2``)."""
    rng = np.random.default_rng(0)
    F = rng.standard_normal((40, 2))
    A = F @ rng.standard_normal((2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy's LinAlgWarning from the singular solve
        values = sensitivities(A, p, method="exact")
    np.testing.assert_allclose(values, sensitivities(F, p, method="exact"), rtol=1e-6)


def test_exact_rank_deficient_p1():
    """The LP route (``p = 1``) handles a rank-deficient ``A``."""
    rng = np.random.default_rng(0)
    F = rng.standard_normal((40, 2))
    A = F @ rng.standard_normal((2, 4))
    np.testing.assert_allclose(
        sensitivities(A, 1, method="exact"), l1_vertex_sensitivities(F), rtol=LP_RTOL
    )


# -- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["exact", "lewis", "augmented", "root_leverage"])
def test_sparse_and_float32(method):
    A = family("heavy", 40, 3, 9)
    A[5] = 0.0
    dense = sensitivities(A, 1.5, method=method)
    sparse = sensitivities(sp.csr_array(A), 1.5, method=method)
    assert isinstance(sparse, np.ndarray)
    assert sparse.dtype == np.float64
    rtol = NEWTON_RTOL if method == "exact" else bound_allowance(1.5, 40)
    np.testing.assert_allclose(sparse, dense, rtol=rtol)
    single = sensitivities(A.astype(np.float32), 1.5, method=method)
    assert single.dtype == np.float32
    # float32 data: the Lewis weights are solved to sqrt(u32); the exact route works in float64
    # on data rounded to float32, whose relative perturbation of the rows is u32, amplified by
    # cond(A) (modest here)
    u32 = float(np.finfo(np.float32).eps) / 2
    rtol32 = 10 * 1.5 * (1.5 + 2) * math.sqrt(u32) + 100 * np.linalg.cond(A) * u32
    np.testing.assert_allclose(single, dense, rtol=rtol32, atol=0)


@pytest.mark.parametrize("method", ["exact", "lewis"])
def test_backends(backend, method):
    A = family("gaussian", 30, 3, 10)
    values = sensitivities(backend.asarray(A), 1.5, method=method)
    assert type(values) is type(backend.asarray(A[:, 0]))
    rtol = NEWTON_RTOL if method == "exact" else 2 * bound_allowance(1.5, 30)
    np.testing.assert_allclose(
        backend.to_numpy(values), sensitivities(A, 1.5, method=method), rtol=rtol
    )


@pytest.mark.parametrize(
    ("p", "options", "error", "match"),
    [
        (3, {"method": "root_leverage"}, ValueError, "root_leverage.*p <= 2"),
        (2.5, {"method": "root_leverage"}, ValueError, "root_leverage.*p <= 2"),
        (1, {"method": "bogus"}, ValueError, "method must be one of"),
        (0.5, {}, ValueError, "p must be >= 1"),
        (math.inf, {}, ValueError, "p = inf"),
        (math.nan, {}, ValueError, "p must be"),
        (True, {}, TypeError, "p must be a real number"),
        ("2", {}, TypeError, "p must be a real number"),
    ],
)
def test_bad_input(p, options, error, match):
    A = family("gaussian", 20, 2, 0)
    with pytest.raises(error, match=match):
        sensitivities(A, p, **options)


def test_non_finite_matrix():
    A = family("gaussian", 20, 2, 0)
    A[3, 1] = np.inf
    with pytest.raises(ValueError, match="A must hold only finite"):
        sensitivities(A, 1)
    with pytest.raises(ValueError, match="A must hold only finite"):
        sensitivities(sp.csr_array(A), 1, method="exact")
