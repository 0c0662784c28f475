"""``estimate_norm`` and ``estimate_error``: the power estimate is a lower bound, accurate to
``rtol`` when the spectrum has a gap; the certified upper bound holds over many seeds and fails
at the rate Dixon's lemma predicts; sparse and operator input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import scipy.stats
from _lowrank_problems import (
    f64,
    low_rank,
    recovery_tolerance,
    spectral,
    spectrum,
    with_spectrum,
)

from sketchla.lowrank import NormEstimate, estimate_error, estimate_norm, rsvd

SHAPES = [(150, 100), (100, 150)]


def gapped(kind: str, count: int) -> np.ndarray:
    """Spectra whose 11th singular value is at most ``sigma_1 / 11``: the 10-vector block
    power iteration then converges by ``rho = (sigma_11 / sigma_1)**2 <= 1/121`` per step."""
    if kind == "isolated":
        return np.where(np.arange(count) == 0, 1.0, 0.5 / np.arange(1, count + 1))
    return spectrum(kind, count, k=10)


def upper_slack(shape, dtype) -> float:
    """The power estimate is ``||A Z||_2`` for a computed orthonormal ``Z``: at most ``||A||``
    times ``1 + ||Z^T Z - I||`` plus the rounding of the product and its SVD, within the
    backward error ``16 eps (m + n)``."""
    return recovery_tolerance(shape, dtype)


@pytest.mark.parametrize("kind", ["slow", "fast", "flat", "isolated"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_estimate_is_a_lower_bound_within_rtol_when_there_is_a_gap(kind, shape, dtype):
    """The iteration stops when the estimate changes by at most ``rtol`` relatively. The
    Ritz value converges geometrically, by at most ``rho = (sigma_11 / sigma_1)**2 <= 1/121``
    per step (see :func:`gapped`; the true rate is the square of that), so what is left after
    the stop is at most ``rtol rho / (1 - rho)``, plus rounding (``slack``, the backward
    error ``16 eps (m + n)``):
    ``||A|| (1 - rtol rho / (1 - rho) - slack) <= estimate <= ||A|| (1 + slack)``."""
    sigma = gapped(kind, min(shape))
    A = with_spectrum(*shape, sigma, seed=8)[0].astype(dtype)
    true = spectral(A)
    result = estimate_norm(A, rtol=1e-4, seed=3)
    assert isinstance(result, NormEstimate)
    assert isinstance(result.estimate, float)
    assert float(result) == result.estimate
    rho = (sigma[10] / sigma[0]) ** 2
    slack = upper_slack(shape, dtype)
    assert true * (1 - 1e-4 * rho / (1 - rho) - slack) <= result.estimate
    assert result.estimate <= true * (1 + slack)
    assert result.upper_bound >= true
    assert 1 <= result.iterations < 20  # stopped on rtol, not on power_iters


def test_estimate_is_a_lower_bound_without_a_gap():
    """Twelve nearly equal leading values (1 - i/1000) and a 10-vector block: no ``rtol``
    accuracy is promised (measured: 1e-3 low), but the estimate never exceeds the norm
    (beyond rounding). It is not far below either: the block converges into the span of the
    top 12 right singular vectors (the rest damped by ``(sigma_13 / sigma_12)**2 ~ 1.5e-3``
    per step), on which ``||A z|| >= sigma_12 = 0.988`` for every unit ``z``; we ask for
    ``0.98``."""
    i = np.arange(1, 101)
    sigma = np.where(i <= 12, 1 - i * 1e-3, 0.5 / i)
    A = with_spectrum(150, 100, sigma, seed=1)[0]
    true = spectral(A)
    for seed in range(10):
        result = estimate_norm(A, seed=seed)
        assert result.estimate <= true * (1 + upper_slack(A.shape, "float64"))
        assert result.estimate >= 0.98 * true
        assert result.upper_bound >= true


def test_more_iterations_never_lower_the_estimate_much():
    """``power_iters`` caps the iterations; with one iteration the estimate is the largest
    singular value of ``A Z`` for a random orthonormal ``Z`` (a lower bound, generally
    poor); converged, it is within ``rtol``."""
    A = with_spectrum(150, 100, spectrum("slow", 100), seed=2)[0]
    true = spectral(A)
    one = estimate_norm(A, power_iters=1, seed=0)
    assert one.iterations == 1
    assert one.estimate <= true * (1 + upper_slack(A.shape, "float64"))
    converged = estimate_norm(A, power_iters=50, rtol=1e-10, seed=0)
    assert converged.iterations < 50
    assert abs(converged.estimate - true) <= 1e-9 * true
    loose = estimate_norm(A, power_iters=50, rtol=0.5, seed=0)
    assert loose.iterations < converged.iterations
    assert loose.estimate <= converged.estimate * (1 + 1e-12)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: low_rank(200, 120, 1, seed=0)[0], id="rank-one"),
        pytest.param(lambda: with_spectrum(200, 120, spectrum("slow", 120), 0)[0], id="slow"),
        pytest.param(lambda: np.eye(120), id="identity"),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_upper_bound_holds_over_many_seeds(make, dtype):
    """With the default ``alpha = 10`` the bound fails with probability at most ``1e-10`` per
    call (Halko et al. Lemma 4.1): it holds for all of 150 seeds, also with a single power
    iteration (where the estimate cannot rescue it)."""
    A = make().astype(dtype)
    true = spectral(A)
    for seed in range(150):
        result = estimate_norm(A, power_iters=1, seed=seed)
        assert result.upper_bound >= true, seed
        assert result.confidence == 1 - 10.0**-10


def test_upper_bound_fails_at_the_rate_dixons_lemma_predicts():
    """For a rank-one ``A = sigma u v^T`` the bound ``alpha sqrt(2/pi) max_i ||A omega_i||``
    over ten standard Gaussian ``omega_i`` fails exactly when ``max_i |g_i| < sqrt(pi/2) /
    alpha``, ``g_i = v^T omega_i`` standard normal: probability
    ``erf(sqrt(pi) / (2 alpha))**10`` (0.030 at ``alpha = 1.2``, under the lemma's
    ``alpha**-10 = 0.16``). With one power iteration the estimate (``sigma ||Z^T v||``, about
    ``0.2 sigma``) cannot mask a failure. Over 400 seeds the count of failures must lie in the
    central ``1 - 2e-6`` of the binomial law: this pins the scaling of the Gaussian vectors
    and of the bound (unit-norm vectors or a missing ``alpha`` would give ~400 or 0)."""
    alpha, trials = 1.2, 400
    A = 3.0 * low_rank(150, 200, 1, seed=4)[0]
    failures = sum(
        estimate_norm(A, power_iters=1, alpha=alpha, seed=s).upper_bound < 3.0 * (1 - 1e-12)
        for s in range(trials)
    )
    p = math.erf(math.sqrt(math.pi) / (2 * alpha)) ** 10
    law = scipy.stats.binom(trials, p)
    assert law.ppf(1e-6) <= failures <= law.isf(1e-6), (failures, trials * p)
    assert failures <= trials * alpha**-10


@pytest.mark.parametrize("alpha", [1.5, 2.0, 10.0, 100.0])
def test_confidence_is_one_minus_alpha_to_the_minus_ten(alpha):
    result = estimate_norm(np.diag([3.0, 2.0, 1.0]), alpha=alpha, seed=0)
    assert result.confidence == pytest.approx(1 - alpha**-10, rel=1e-15)
    assert result.estimate == pytest.approx(3.0, rel=1e-12)


def test_zero_matrix():
    result = estimate_norm(np.zeros((20, 15)), seed=0)
    assert result.estimate == 0.0
    assert result.upper_bound == 0.0


@pytest.mark.parametrize("shape", [(5, 5), (20, 5), (9, 9)])
def test_estimate_is_a_lower_bound_for_fewer_than_ten_columns(shape):
    A = np.eye(*shape)
    result = estimate_norm(A, power_iters=1, seed=0)
    assert result.estimate <= 1.0 + 1e-12


@pytest.mark.parametrize("kind", ["csr", "csc", "operator"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_and_operator_input(kind, dtype):
    """Sparse (random, 2% dense, with a scaled first column: a gap) and LinearOperator input:
    the same estimate as the dense matrix (same seed, same vectors; to rounding) and the
    accuracy of the gapped case."""
    S = sp.random(300, 200, density=0.02, random_state=3, format="csr", dtype=np.float64)
    S = S + sp.csr_matrix(([5.0] * 300, (np.arange(300), np.zeros(300, int))), shape=S.shape)
    S = S.astype(dtype).asformat("csr" if kind == "operator" else kind)
    dense = S.toarray()
    A = spla.aslinearoperator(S) if kind == "operator" else S
    true = spectral(dense)
    result = estimate_norm(A, seed=2)
    reference = estimate_norm(dense, seed=2)
    slack = upper_slack(dense.shape, dtype)
    assert abs(result.estimate - reference.estimate) <= slack * true
    assert (1 - 1e-4) * true <= result.estimate <= true * (1 + slack)
    assert result.upper_bound >= true


# -- estimate_error ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fast", "slow", "flat"])
@pytest.mark.parametrize("power_iters", [0, 2])
def test_estimate_error_matches_the_true_error(kind, power_iters):
    """``||A - U diag(s) Vh||_2`` from products only, against the exact norm of the formed
    difference: a lower bound (up to rounding of ``||A||``'s size, which the difference
    inherits) and within ``1e-3`` relatively. The residual's spectrum starts at about
    ``sigma_{k+1}`` and the block of 10 converges by ``(sigma'_11 / sigma'_1)**2`` (at most
    ``(11/21)**2 = 0.27`` for ``1 / i``), so the iteration stopped at ``rtol = 1e-4`` is
    within ``0.4 rtol`` of the norm; ``1e-3`` leaves room for residuals with smaller gaps.
    The certified bound holds. The estimator's seeds differ from the rsvd's: its random start
    must be independent of the approximation (see the next test)."""
    A = with_spectrum(200, 150, spectrum(kind, 150, k=10), seed=6)[0]
    U, s, Vh = rsvd(A, 10, power_iters=power_iters, seed=0)
    true = spectral(A - (U * s) @ Vh)
    for seed in range(100, 105):
        result = estimate_error(A, U, s, Vh, seed=seed)
        assert result.estimate <= true + upper_slack(A.shape, "float64") * spectral(A)
        assert result.estimate >= (1 - 1e-3) * true, result.estimate / true - 1
        assert result.upper_bound >= true


def test_estimate_error_with_the_seed_of_the_rsvd():
    """Flat-then-drop spectrum (ten 1's, then 0.01), ``rsvd(A, 10, power_iters=0, seed=s)``:
    the residual's norm (about 0.06, leakage of the top singular vectors) must be found
    whichever seed the estimator gets, its own included."""
    A = with_spectrum(200, 150, spectrum("flat", 150, k=10), seed=6)[0]
    for seed in range(10):
        U, s, Vh = rsvd(A, 10, power_iters=0, seed=seed)
        true = spectral(A - (U * s) @ Vh)
        assert estimate_error(A, U, s, Vh, seed=seed).estimate >= (1 - 1e-3) * true, seed


@pytest.mark.parametrize("kind", ["dense", "csr", "operator"])
def test_estimate_error_of_an_exact_decomposition_is_rounding(kind):
    """An exactly rank-6 ``A`` and its rsvd: the error is rounding, at most the recovery
    tolerance ``16 eps (m + n) ||A||``, and so is the estimate (which carries the rounding
    of its own products with ``A - U diag(s) Vh``, of the same order, so it is no lower
    bound at this level), whatever the route: dense, sparse or operator."""
    A = low_rank(120, 90, 6, seed=2)[0]
    U, s, Vh = rsvd(A, 6, seed=0)
    operand = {
        "dense": A,
        "csr": sp.csr_matrix(A),
        "operator": spla.aslinearoperator(A),
    }[kind]
    result = estimate_error(operand, U, s, Vh, seed=1)
    tol = recovery_tolerance(A.shape, "float64") * spectral(A)
    assert spectral(A - (U * s) @ Vh) <= tol
    assert 0.0 <= result.estimate <= tol


@pytest.mark.parametrize("kind", ["csr", "operator"])
def test_estimate_error_on_sparse_and_operator_input(kind):
    """A sparse matrix with a decaying column scaling: the sparse and operator routes give the
    dense route's estimate (same seed) and the true error to ``1e-3``."""
    base = sp.random(250, 160, density=0.05, random_state=5, format="csr")
    S = (base @ sp.diags(np.exp(-np.arange(160) / 10))).tocsr()
    dense = S.toarray()
    U, s, Vh = rsvd(dense, 8, seed=0)
    A = S if kind == "csr" else spla.aslinearoperator(S)
    result = estimate_error(A, U, s, Vh, seed=4)
    reference = estimate_error(dense, U, s, Vh, seed=4)
    true = spectral(dense - (U * s) @ Vh)
    tol = recovery_tolerance(dense.shape, "float64") * spectral(dense)
    assert abs(result.estimate - reference.estimate) <= tol
    assert (1 - 1e-3) * true <= result.estimate <= true * (1 + 1e-9)
    assert f64(result.upper_bound) >= true
