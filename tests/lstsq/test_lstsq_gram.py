"""The Gram preconditioner (``factor_gram``, ``_upper_inverse``) and ``lstsq``'s
``method="gram_precondition"`` route.

The preconditioner is ``P = R^-1`` with ``R^T R = fl(A^T A) + damp**2 I``. Rounding in the Gram
matrix and its Cholesky factor perturbs ``A^T A`` by ``E`` with ``||E|| ~ u ||A||**2``, so
``(A P)^T (A P) = I - R^-T E R^-1`` is within about ``u kappa**2`` of the identity: the
preconditioner's distortion, estimated as ``4 u kappa**2``. Tolerances below are in units of
that estimate, of ``eps kappa`` (a triangular inverse's rounding), or of the sensitivity of the
least-squares problem ``kappa + kappa**2 ||r|| / (||A|| ||x||)`` (what a backward-stable solver
guarantees), never tuned to one problem.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from _lstsq_problems import (
    U64,
    agreement_bound,
    backward_stable_level,
    conditioned,
    exact_lstsq,
    gaussian,
    householder,
    lapack,
    lstsq_recording,
    rank_deficient,
    relative,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info, threadpool_limits

from sketchla._array import namespace_for
from sketchla.lstsq import lstsq
from sketchla.lstsq.preconditioner import GRAM_LIMIT, GRAM_ROUNDING, _upper_inverse, factor_gram
from sketchla.testing import eps

NP = namespace_for("numpy")
HAS_EXTENDED = np.finfo(np.longdouble).eps <= 1e-18
needs_extended = pytest.mark.skipif(
    not HAS_EXTENDED, reason="needs an extended-precision long double"
)


def column(b):
    return np.asarray(b).reshape(-1, 1)


# -- the triangular inverse --------------------------------------------------------------------


INVERSE_CASES = [
    (dtype, kappa)
    for dtype, kappas in [("float64", [10.0, 1e4, 1e8]), ("float32", [10.0, 1e4])]
    for kappa in kappas  # float32 to eps32 * kappa = 1e-3
]


@pytest.mark.parametrize("d", [1, 5, 128, 129, 300])
@pytest.mark.parametrize(("dtype", "kappa"), INVERSE_CASES, ids=str)
def test_upper_inverse_matches_a_triangular_solve(dtype, kappa, d):
    """``_upper_inverse(R)`` against ``R^-1`` from ``solve_triangular(R, I)`` in float64 (for
    float32 ``R``: the exact inverse at float32 level). A computed triangular inverse has a
    normwise relative error ``c_d u kappa(R)`` (Higham, Accuracy and Stability, ch. 14), ``c_d``
    at most ``O(d)`` and about ``sqrt(d)`` in practice: the bound is ``sqrt(d) eps kappa`` for
    the two errors together. Measured: at most ``0.18 eps kappa`` (d = 300). Below and above
    the 128-column block (one ``inv``; one and two levels of recursion); the zeros below the
    diagonal are exact."""
    A, _ = conditioned(max(2 * d, 10), d, kappa, seed=d)
    R = np.linalg.qr(A)[1].astype(dtype)  # kappa(R) = kappa, signs of the diagonal mixed
    X = _upper_inverse(R, NP)
    assert X.dtype == R.dtype
    assert X.shape == (d, d)
    assert np.all(np.tril(X, -1) == 0)  # exactly upper triangular
    reference = scipy.linalg.solve_triangular(R.astype(np.float64), np.eye(d))
    condition = np.linalg.cond(R.astype(np.float64))
    assert relative(X, reference) <= math.sqrt(d) * eps(dtype) * condition


def test_upper_inverse_of_a_diagonal_is_exact_up_to_one_rounding():
    """No recursion error to hide behind: the inverse of a 300 x 300 diagonal is its
    reciprocals, each rounded once, and the off-diagonal blocks are exact zeros."""
    diagonal = np.random.default_rng(0).uniform(0.5, 4.0, 300) * np.where(np.arange(300) % 3, 1, -1)
    X = _upper_inverse(np.diag(diagonal), NP)
    np.testing.assert_allclose(np.diag(X), 1 / diagonal, rtol=eps("float64"), atol=0)
    assert np.all(X[~np.eye(300, dtype=bool)] == 0)


# -- factor_gram ------------------------------------------------------------------------------


def distortion_interval(A, P):
    """``(lo, hi)``: the extreme eigenvalues of ``(A P)^T (A P) - I``, i.e. ``s**2 - 1`` for the
    extreme singular values ``s`` of ``A P``. The product is formed in long double (rounding
    ``sqrt(n) * 5e-20``, three orders below the ``4e-16`` resolved here) and the eigenvalues of
    the small difference from the identity in float64 (absolute error ``u * |s**2 - 1|``)."""
    AP = A.astype(np.longdouble) @ P.astype(np.longdouble)
    M = AP.T @ AP - np.eye(P.shape[1], dtype=np.longdouble)
    values = np.linalg.eigvalsh(M.astype(np.float64))
    return float(values[0]), float(values[-1])


GRAM_KAPPAS = [1.0, 1e2, 1e4, 1e6]
GRAM_SHAPES = [
    (2000, 10, 0),
    (2000, 10, 1),
    (3000, 30, 1),
    (3000, 30, 2),
    (5000, 50, 2),
    (5000, 50, 3),
]


@functools.cache
def gram_case(n, d, kappa, seed):
    A, b = conditioned(n, d, kappa, seed)
    return A, b, factor_gram(A, column(b), 0.0, U64)


@needs_extended
@pytest.mark.parametrize("kappa", GRAM_KAPPAS)
def test_gram_factor_distortion_is_within_its_documented_interval(kappa):
    """``Preconditioner``'s contract: ``A P`` has singular values in ``[1/(1 + delta), 1/(1 -
    delta)]`` for the factor's ``distortion`` ``delta``, i.e. ``s**2 - 1`` in ``[-(2 delta +
    delta**2) / (1 + delta)**2, (2 delta - delta**2) / (1 - delta)**2]``, measured in extended
    precision. Measured: ``|s**2 - 1|`` at most ``1.65 delta`` at kappa = 1 with the estimate
    ``4 u kappa**2`` alone (Intel), ``2.06 delta`` on an AMD EPYC's OpenBLAS kernels, which left
    the interval: the ``d u`` term now in the estimate covers that rounding; at most ``0.13 delta``
    for kappa >= 100."""
    for n, d, seed in GRAM_SHAPES:
        A, _, out = gram_case(n, d, kappa, seed)
        assert out is not None, (n, d, seed)
        factor, _ = out
        delta = factor.distortion
        assert delta == pytest.approx(U64 * (GRAM_ROUNDING * factor.condition_estimate**2 + d))
        lo, hi = distortion_interval(A, factor.P)
        assert lo >= -(2 * delta + delta**2) / (1 + delta) ** 2, (n, d, seed, lo / delta)
        assert hi <= (2 * delta - delta**2) / (1 - delta) ** 2, (n, d, seed, hi / delta)


@needs_extended
@pytest.mark.parametrize("kappa", [1e2, 1e4, 1e6])
def test_gram_factor_distortion_bounds_the_gram_perturbation(kappa):
    """The stricter reading, ``max |s_i**2 - 1| <= distortion`` (the relative perturbation of
    the Gram matrix, ``||R^-T E R^-1||``, against ``4 u kappa**2``), where ``u kappa**2``
    dominates the rounding: measured at most ``0.13`` of the estimate for ``kappa >= 100``.

    Not at kappa = 1: there the terms that do not grow with ``kappa**2`` (rounding in the
    Cholesky factor and in the inverse, ``O(u)`` with a ``d``-dependent constant) reach
    ``1.2-1.65`` times the ``4 u`` estimate (7.3e-16 against 4.4e-16 at 3000 x 30), which only
    the documented interval above (half-width ``2 delta``) contains."""
    for n, d, seed in GRAM_SHAPES:
        A, _, (factor, _) = gram_case(n, d, kappa, seed)
        lo, hi = distortion_interval(A, factor.P)
        assert max(-lo, hi) <= factor.distortion, (n, d, seed, max(-lo, hi) / factor.distortion)


@pytest.mark.parametrize("kappa", GRAM_KAPPAS)
def test_gram_factor_estimates_and_normal_equations_solution(kappa):
    """``condition_estimate`` within a factor 2 of ``cond(A)`` (power iteration on ``R`` and
    ``R^-1``; measured: within 15%), ``norm_estimate`` likewise of ``||A||``, ``rank = d``, and
    ``X0`` the normal-equations solution: ``x0 - x = -(R^T R)^-1 (E x - f)`` for the Gram
    perturbation ``E`` and the rounding ``f`` of ``A^T b``, so its relative error is about
    ``u kappa**2 (1 + ||b|| / (||A|| ||x||))`` (the classical normal-equations bound, Higham
    ch. 20.4), here bounded by ``10 distortion (1 + ||b|| / (||A|| ||x||)) + 8 eps kappa``.
    Measured: at most ``0.84 u kappa**2`` for kappa >= 100, ``13.5 u`` at kappa = 1."""
    for n, d, seed in [*GRAM_SHAPES, (4000, 20, 3)]:
        A, b, out = gram_case(n, d, kappa, seed)
        assert out is not None
        factor, X0 = out
        s = np.linalg.svd(A, compute_uv=False)
        assert factor.rank == d
        assert factor.P.shape == (d, d)
        assert np.all(np.tril(factor.P, -1) == 0)  # R^-1: upper triangular
        assert 0.5 <= factor.condition_estimate / (s[0] / s[-1]) <= 2
        assert 0.5 <= factor.norm_estimate / s[0] <= 2
        x = lapack(A, b)
        assert X0.shape == (d, 1)
        sensitivity = 1 + np.linalg.norm(b) / (s[0] * np.linalg.norm(x))
        bound = 10 * factor.distortion * sensitivity + 8 * eps("float64") * kappa
        assert relative(X0[:, 0], x) <= bound, (n, d, seed, relative(X0[:, 0], x) / bound)


def test_gram_factor_apply_is_p_p_transpose():
    A, b, (factor, X0) = gram_case(3000, 30, 1e2, 1)
    G = np.random.default_rng(0).standard_normal((30, 4))
    np.testing.assert_allclose(factor.apply(G), factor.P @ (factor.P.T @ G), rtol=0, atol=0)
    np.testing.assert_array_equal(X0, factor.apply(A.T @ column(b)))


def test_gram_factor_with_several_right_hand_sides_solves_each():
    """``b`` of shape ``(n, 3)``: the same factor (bit for bit) and each column of ``X0`` the
    one-column solution. ``A^T b`` for three columns and for one round differently (BLAS's
    blocking), by ``~ u ||A|| ||b||``, which the normal equations amplify by ``kappa**2 /
    ||A||**2``: relative difference ``<= 10 distortion ||b|| / (||A|| ||x||) + 8 eps kappa``
    (measured: 0.2 ``u kappa**2`` at kappa = 1e3)."""
    A, b = conditioned(3000, 20, 1e3, seed=4)
    B = np.column_stack([b, A @ np.ones(20), np.random.default_rng(5).standard_normal(3000)])
    factor, X0 = factor_gram(A, B, 0.0, U64)
    assert X0.shape == (20, 3)
    for j in range(3):
        single, x0 = factor_gram(A, B[:, j : j + 1], 0.0, U64)
        np.testing.assert_array_equal(single.P, factor.P)
        kappa, norm = factor.condition_estimate, factor.norm_estimate
        ratio = np.linalg.norm(B[:, j]) / (norm * np.linalg.norm(x0))
        bound = 10 * factor.distortion * ratio + 8 * eps("float64") * kappa
        assert relative(X0[:, j], x0[:, 0]) <= bound, (j, relative(X0[:, j], x0[:, 0]) / bound)


@pytest.mark.parametrize("kappa", [1.0, 1e3, 1e6])
@pytest.mark.parametrize("damp", [1e-3, 0.5])
def test_gram_factor_with_damp_gives_the_ridge_solution(damp, kappa):
    """With ``damp``, ``R^T R = A^T A + damp**2 I``: ``X0`` is the ridge solution (LAPACK on
    the stacked ``[A; damp I]``) within the normal-equations error of the damped problem, whose
    ``distortion`` is the factor's own (``4 u kappa_damp**2``); ``condition_estimate`` is the
    stacked matrix's condition number."""
    A, b = conditioned(3000, 20, kappa, seed=7)
    out = factor_gram(A, column(b), damp, U64)
    assert out is not None
    factor, X0 = out
    stacked = np.vstack([A, damp * np.eye(20)])
    x = lapack(stacked, np.concatenate([b, np.zeros(20)]))
    condition = np.linalg.cond(stacked)
    assert 0.5 <= factor.condition_estimate / condition <= 2
    # the damping regularises: kappa_damp = sqrt(1 + damp**2) / sqrt(s_min**2 + damp**2)
    assert condition <= min(kappa, math.sqrt(1 + damp**2) / damp) * 1.001
    bound = (
        10 * factor.distortion * (1 + np.linalg.norm(b) / np.linalg.norm(x))
        + 8 * eps("float64") * condition
    )
    assert relative(X0[:, 0], x) <= bound


def test_gram_factor_refuses_a_too_ill_conditioned_matrix():
    """kappa = 1e10: ``4 u kappa**2 = 4.4e4``, far above ``GRAM_LIMIT``; kappa = 1e7 is just
    inside (``0.044``) and is accepted."""
    assert GRAM_LIMIT == 0.1
    for seed in range(3):
        A, b = conditioned(2000, 10, 1e10, seed)
        assert factor_gram(A, column(b), 0.0, U64) is None
        A, b = conditioned(2000, 10, 1e7, seed)
        factor, _ = factor_gram(A, column(b), 0.0, U64)
        assert factor.distortion <= GRAM_LIMIT


@pytest.mark.parametrize(("n", "d", "rank"), [(2000, 10, 5), (2000, 10, 9), (1500, 12, 1)])
def test_gram_factor_refuses_a_rank_deficient_matrix(n, d, rank):
    A, b = rank_deficient(n, d, rank, seed=rank)
    assert factor_gram(A, column(b), 0.0, U64) is None


def test_gram_factor_refuses_an_overflowing_gram_matrix():
    """Finite entries of ``1e200``: ``A^T A`` overflows; refused, not raised (the finiteness
    error is for non-finite ``A`` only)."""
    A, b = gaussian(500, 5, seed=0)
    with np.errstate(over="ignore", invalid="ignore"):
        assert factor_gram(1e200 * A, column(b), 0.0, U64) is None
    assert factor_gram(A, column(b), 0.0, U64) is not None  # the same matrix, unscaled


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_gram_factor_rejects_non_finite_a(bad):
    A, b = gaussian(500, 5, seed=0)
    A[123, 2] = bad
    with pytest.raises(ValueError, match=r"^A must hold only finite"):
        factor_gram(A, column(b), 0.0, U64)


def _blas_counts():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_gram_factor_with_split_products_matches_one_thread_and_restores_blas():
    """With two BLAS threads, ``factor_gram`` splits the 9000-row products over two blocks
    (``gram``'s rule): the factor and ``X0`` differ from the one-thread ones by rounding only
    (the summation order), ``X0`` within ``10 distortion`` (the normal-equations error itself),
    ``P`` within ``10 distortion`` too (``R`` of a Gram matrix perturbed by ``u ||A||**2``); and
    the BLAS threads are two again afterwards (the dense work ran under one)."""
    A, b = conditioned(9000, 20, 1e4, seed=3)
    one, X1 = factor_gram(A, column(b), 0.0, U64)
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_counts()
        if max(before) < 2:
            pytest.skip("BLAS runs a single thread here: no split")
        two, X2 = factor_gram(A, column(b), 0.0, U64)
        assert _blas_counts() == before
    assert relative(X2, X1) <= 10 * one.distortion
    assert relative(two.P, one.P) <= 10 * one.distortion
    assert two.distortion == pytest.approx(one.distortion, rel=0.01)


# -- lstsq on the Gram route ------------------------------------------------------------------

FORWARD_SEEDS = range(8)


@functools.cache
def gram_forward_case(kappa, seed, n=600, d=6):
    A, b = conditioned(n, d, kappa, seed)
    result, caught = lstsq_recording(A, b, method="gram_precondition", seed=seed)
    return A, b, exact_lstsq(A, b), result, caught, householder(A, b)


@pytest.mark.parametrize("kappa", GRAM_KAPPAS)
def test_gram_route_forward_error_within_10x_of_householder_qr(kappa):
    """Against the exact (mpmath) solution: within 10x of LAPACK Householder QR's error or of
    one rounding of the answer (``u ||x||``); measured: at most 1.4x QR's error, at kappa = 1.
    For kappa >= 100 also below the backward-stable level ``u (kappa + kappa**2 ||r|| / (||A||
    ||x||))`` (forward stability, as the sketch route's tests require). Not at kappa = 1, where
    that level, ``u``, is below a backward-stable solver's error: Householder QR reaches 3.6-6.1
    times it on these seeds (the Gram route 2.9-6.0, the sketch route the same)."""
    failures = []
    for seed in FORWARD_SEEDS:
        A, b, x_true, result, caught, x_qr = gram_forward_case(kappa, seed)
        assert result.method == "gram_precondition"
        assert result.sketch_size == 0
        assert result.converged
        assert not caught
        floor = U64 * np.linalg.norm(x_true)
        error, error_qr = np.linalg.norm(result.x - x_true), np.linalg.norm(x_qr - x_true)
        if error > 10 * max(error_qr, floor):
            failures.append((seed, round(error / max(error_qr, floor), 1)))
        level = backward_stable_level(A, b, x_true, U64)
        if kappa >= 1e2:
            assert relative(result.x, x_true) <= level, (seed, relative(result.x, x_true) / level)
    assert not failures, f"(seed, error / QR's error): {failures}"


@pytest.mark.parametrize("kappa", [1.0, 1e2, 1e4])
def test_gram_route_takes_few_iterations_when_well_conditioned(kappa):
    """The normal-equations start is within ``u kappa**2`` of the solution and each step
    contracts by the distortion (``<= 4.4e-8`` here): at most 4 passes (measured: 0-2)."""
    for seed in FORWARD_SEEDS:
        A, b, _, result, _, _ = gram_forward_case(kappa, seed)
        assert result.iterations <= 4, (seed, result.iterations)
        assert result.residual_norm == pytest.approx(np.linalg.norm(b - A @ result.x), rel=1e-10)


def test_gram_route_falls_back_to_the_sketch_when_too_ill_conditioned():
    """kappa = 1e10: the Gram matrix is refused; the sketch route answers, converged, at the
    backward-stable level against the exact solution (as its own accuracy tests require)."""
    for seed in range(3):
        A, b = conditioned(600, 6, 1e10, seed)
        result, caught = lstsq_recording(A, b, method="gram_precondition", seed=seed)
        assert result.method == "sketch_and_precondition"
        assert result.sketch_size > 0
        assert result.converged
        assert not caught
        x_true = exact_lstsq(A, b)
        assert relative(result.x, x_true) <= backward_stable_level(A, b, x_true, U64)


def test_gram_route_falls_back_on_a_rank_deficient_matrix():
    """Rank 4 of 10: the Cholesky factor is refused; the sketch route gives the minimum-norm
    solution (relative error ``8 eps (sqrt(d) + kappa**2 ||b|| / (s_1 ||x||))`` for the kappa of
    the nonzero part, as in ``test_rank_deficient_gives_the_minimum_norm_solution``)."""
    A, b = rank_deficient(3000, 10, 4, seed=2)
    result = lstsq(A, b, method="gram_precondition", seed=1)
    assert result.method == "sketch_and_precondition"
    assert result.rank == 4
    x_ref = np.linalg.pinv(A) @ b
    s = np.linalg.svd(A, compute_uv=False)[:4]
    kappa = s[0] / s[-1]
    bound = (
        8
        * eps("float64")
        * (math.sqrt(10) + kappa**2 * np.linalg.norm(b) / s[0] / np.linalg.norm(x_ref))
    )
    assert relative(result.x, x_ref) <= bound


@pytest.mark.parametrize(
    ("kappa", "expected"), [(1.0, "gram_precondition"), (1e10, "sketch_and_precondition")]
)
def test_auto_picks_the_gram_route_for_dense_tall_problems(kappa, expected):
    """20 000 x 50 dense: the Gram matrix (``n d**2`` flops in BLAS-3) is cheaper than a sketch
    and its QR; at kappa = 1e10 the Gram matrix is refused and the sketch answers."""
    A, b = conditioned(20_000, 50, kappa, seed=0)
    result = lstsq(A, b, seed=0)
    assert result.method == expected
    assert result.converged
    x_ref = lapack(A, b)
    assert relative(result.x, x_ref) <= agreement_bound(A, b, x_ref, "float64")


def test_auto_picks_the_gram_route_for_gaussian_20000_by_50():
    A, b = gaussian(20_000, 50, seed=1)
    result = lstsq(A, b, seed=1)
    assert result.method == "gram_precondition"
    assert result.sketch_size == 0
    x_ref = lapack(A, b)
    assert relative(result.x, x_ref) <= agreement_bound(A, b, x_ref, "float64")


SPARSE_SHAPES = [(20_000, 50, 0.2), (20_000, 50, 1.0), (5000, 20, 0.05)]


@pytest.mark.parametrize(("n", "d", "density"), SPARSE_SHAPES, ids=str)
def test_sparse_a_never_takes_the_gram_route(n, d, density):
    """Sparse (CSR, even fully dense in storage) and ``LinearOperator`` ``A``: ``auto`` keeps
    to the sketch; the explicit Gram method is an error that names it."""
    A = sp.random(n, d, density=density, format="csr", random_state=n + d, dtype=np.float64)
    b = np.random.default_rng(0).standard_normal(n)
    assert lstsq(A, b, seed=0).method != "gram_precondition"
    with pytest.raises(ValueError, match="gram_precondition"):
        lstsq(A, b, method="gram_precondition")
    with pytest.raises(ValueError, match="gram_precondition"):
        lstsq(spla.aslinearoperator(A), b, method="gram_precondition")


@pytest.mark.parametrize(("n", "d"), [(5, 10), (50, 51), (1, 2)])
def test_gram_route_needs_at_least_as_many_rows_as_columns(n, d):
    A, b = gaussian(n, d, seed=0)
    with pytest.raises(ValueError, match="gram_precondition"):
        lstsq(A, b, method="gram_precondition")


@pytest.mark.parametrize(("n", "d"), [(50, 8), (100, 8), (60, 3)])
def test_explicit_gram_route_on_a_small_tall_problem(n, d):
    A, b = gaussian(n, d, seed=0)
    result = lstsq(A, b, method="gram_precondition")
    assert result.method == "gram_precondition"
    x_ref = lapack(A, b)
    assert relative(result.x, x_ref) <= agreement_bound(A, b, x_ref, "float64")


@pytest.mark.parametrize("method", ["gram_precondition", "sketch_and_precondition"])
def test_overflowing_products_raise_instead_of_returning_nan(method):
    """Finite ``1e200 A``: the Gram matrix overflows and is refused, and ``A^T r`` overflows on
    the sketch route too. A clear error, not ``x = NaN`` reported as converged (the bug this
    test caught: ``any(NaN > floor)`` is False, which read as convergence)."""
    A, b = gaussian(2000, 10, seed=0)
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(FloatingPointError, match="overflows"),
    ):
        lstsq(1e200 * A, 1e200 * b, method=method, seed=0)
    x = lstsq(1e150 * A, 1e150 * b, method=method, seed=0).x  # still in range: solved
    x_ref = lapack(A, b)
    assert relative(x, x_ref) <= agreement_bound(A, b, x_ref, "float64")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_gram_route_rejects_non_finite_a(bad):
    A, b = gaussian(600, 6, seed=0)
    A[5, 5] = bad
    with pytest.raises(ValueError, match=r"^A must hold only finite"):
        lstsq(A, b, method="gram_precondition")


@pytest.mark.parametrize("kappa", [1.0, 1e3, 1e6])
@pytest.mark.parametrize("damp", [1e-3, 0.3])
def test_gram_route_ridge_matches_the_stacked_problem(damp, kappa):
    """Ridge on the Gram route against LAPACK on ``[A; damp I] x = [b; 0]``: the agreement
    bound of two backward-stable solutions of the stacked problem (its kappa, its residual)."""
    A, b = conditioned(3000, 20, kappa, seed=11)
    result = lstsq(A, b, method="gram_precondition", damp=damp)
    assert result.method == "gram_precondition"
    assert result.converged
    stacked, padded = np.vstack([A, damp * np.eye(20)]), np.concatenate([b, np.zeros(20)])
    x_ref = lapack(stacked, padded)
    assert relative(result.x, x_ref) <= agreement_bound(stacked, padded, x_ref, "float64")
    objective = np.sqrt(
        np.linalg.norm(b - A @ result.x) ** 2 + damp**2 * np.linalg.norm(result.x) ** 2
    )
    assert result.residual_norm == pytest.approx(objective, rel=1e-10)


@pytest.mark.parametrize("kappa", [1.0, 1e3, 1e6])
def test_gram_route_weights_match_the_scaled_problem(kappa):
    """Row weights from 1e-2 to 1e2 (``sqrt(w)`` scales the rows): against LAPACK on
    ``diag(sqrt(w)) A``, ``diag(sqrt(w)) b``, with that problem's agreement bound."""
    A, b = conditioned(3000, 20, kappa, seed=12)
    w = 10.0 ** np.random.default_rng(3).uniform(-2, 2, 3000)
    result = lstsq(A, b, method="gram_precondition", weights=w)
    assert result.method == "gram_precondition"
    assert result.converged
    root = np.sqrt(w)
    scaled_A, scaled_b = A * root[:, None], b * root
    x_ref = lapack(scaled_A, scaled_b)
    assert relative(result.x, x_ref) <= agreement_bound(scaled_A, scaled_b, x_ref, "float64")


@pytest.mark.parametrize("kappa", [1.0, 1e4])
def test_gram_route_with_several_right_hand_sides(kappa):
    """``b`` of shape ``(n, 3)``: a noisy, a consistent and a pure-noise column (very
    different sensitivities); each column against LAPACK within its own agreement bound, the
    residual norms per column."""
    A, b = conditioned(3000, 20, kappa, seed=13)
    rng = np.random.default_rng(14)
    B = np.column_stack([b, A @ rng.standard_normal(20), rng.standard_normal(3000)])
    result = lstsq(A, B, method="gram_precondition", seed=0)
    assert result.method == "gram_precondition"
    assert result.converged
    assert result.x.shape == (20, 3)
    assert np.shape(result.residual_norm) == (3,)
    X_ref = lapack(A, B)
    for j in range(3):
        x_ref = X_ref[:, j]
        assert relative(result.x[:, j], x_ref) <= agreement_bound(A, B[:, j], x_ref, "float64"), j
    residuals = np.linalg.norm(B - A @ result.x, axis=0)
    scale = np.linalg.norm(B, axis=0) + np.linalg.norm(A, 2) * np.linalg.norm(result.x, axis=0)
    assert np.all(np.abs(result.residual_norm - residuals) <= 1e-12 * residuals + 8 * U64 * scale)


@pytest.mark.parametrize("kappa", [1.0, 10.0, 1e2])
@pytest.mark.parametrize("seed", [0, 1])
def test_float32_on_the_gram_route_is_accurate_to_float32_precision(kappa, seed):
    """float32 data, ``4 u32 kappa**2 <= 2.4e-3 <= GRAM_LIMIT``: the Gram route, a float32
    answer, against the float64 LAPACK solution of the float32 data (exact at float32 level)
    within the float32 agreement bound."""
    A, b = conditioned(3000, 20, kappa, seed, noise=1e-2)
    A32, b32 = A.astype(np.float32), b.astype(np.float32)
    result = lstsq(A32, b32, method="gram_precondition", seed=seed)
    assert result.method == "gram_precondition"
    assert result.x.dtype == np.float32
    assert result.converged
    x_ref = lapack(A32, b32)
    bound = agreement_bound(A32, b32, x_ref, "float32")
    assert relative(result.x, x_ref) <= bound
    assert bound < 0.1  # the check is not vacuous


def test_float32_falls_back_where_its_gram_matrix_is_too_ill_conditioned():
    """kappa = 1e3 in float32: ``4 u32 kappa**2 = 0.24 > GRAM_LIMIT``: the sketch answers, as
    accurately as on its own route."""
    A, b = conditioned(3000, 20, 1e3, seed=0, noise=1e-2)
    A32, b32 = A.astype(np.float32), b.astype(np.float32)
    assert factor_gram(A32, column(b32), 0.0, float(np.finfo(np.float32).eps) / 2) is None
    result = lstsq(A32, b32, method="gram_precondition", seed=0)
    assert result.method == "sketch_and_precondition"
    assert result.x.dtype == np.float32
    assert result.converged
    x_ref = lapack(A32, b32)
    assert relative(result.x, x_ref) <= agreement_bound(A32, b32, x_ref, "float32")


@needs_extended
@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(50, 300),
    d=st.integers(1, 8),
    log_kappa=st.floats(0, 4),
    noise=st.sampled_from([0.0, 1e-3, 1.0]),
    scale=st.sampled_from([2.0**-20, 1.0, 3.0**15]),
    seed=st.integers(0, 2**16),
)
def test_gram_route_residual_is_optimal_and_deterministic(n, d, log_kappa, noise, scale, seed):
    """``||A^T r|| <= c eps ||A|| (||r|| + ||A|| ||x||)``, ``c = 4 sqrt(d)`` (a backward-stable
    solution's optimality, as in ``test_residual_is_optimal``), ``A^T r`` in extended precision;
    and the same answer twice."""
    A, b = conditioned(n, d, 10.0**log_kappa, seed, noise=noise)
    A, b = scale * A, scale * b
    result = lstsq(A, b, method="gram_precondition", seed=seed)
    assert result.method == "gram_precondition"
    assert result.converged
    Al, xl = A.astype(np.longdouble), result.x.astype(np.longdouble)
    r = b.astype(np.longdouble) - Al @ xl
    gradient = float(np.linalg.norm((Al.T @ r).astype(np.float64)))
    norm_A = float(np.linalg.norm(A, 2))
    r_norm = float(np.linalg.norm(r.astype(np.float64)))
    x_norm = float(np.linalg.norm(result.x))
    c = 4 * math.sqrt(d)
    assert gradient <= c * eps("float64") * norm_A * (r_norm + norm_A * x_norm)
    again = lstsq(A, b, method="gram_precondition", seed=seed)
    np.testing.assert_array_equal(again.x, result.x)
    assert again.iterations == result.iterations
    assert again.residual_norms == result.residual_norms
