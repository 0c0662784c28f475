"""``reigh`` (symmetric, top-k by magnitude) and ``nystrom`` (positive semidefinite): exact
recovery of low-rank matrices, the order and sign of eigenvalues, eigenvectors up to sign, the
Nyström error bound of Tropp et al. (2017) on decaying spectra, and the PSD check."""

from __future__ import annotations

import numpy as np
import pytest
from _lowrank_problems import (
    align_columns,
    f64,
    nystrom_tolerance,
    orthonormality,
    orthonormality_tolerance,
    reconstruct,
    recovery_tolerance,
    spectral,
    spectrum,
    symmetric,
)

from sketchla.lowrank import EighResult, nystrom, range_finder, reigh
from sketchla.testing import assert_equal

INDEFINITE = np.array([5.0, -4.0, 3.0, -2.0, 1.5, -1.0])  # distinct magnitudes, both signs


# -- reigh -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [60, 150])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [6, 9])
def test_reigh_recovers_a_low_rank_indefinite_matrix(n, dtype, seed, k):
    """Rank 6 with eigenvalues 5, -4, 3, -2, 1.5, -1: the range finder captures the range to
    the backward error ``tol ||A||`` (``tol = 16 eps (n + n)``), so ``Q Q^T A Q Q^T = A`` to
    about twice that, and by Weyl each eigenvalue is within ``2 tol ||A||``. Order: decreasing
    magnitude (the three extra values, ``k = 9``, are then at most ``2 tol ||A||``).
    Eigenvectors, up to sign, within ``4 tol ||A|| / gap`` (Davis-Kahan; ``gap`` the smallest
    distance between the eigenvalues, zero included: 1 here)."""
    A64, V = symmetric(n, INDEFINITE, seed)
    A = A64.astype(dtype)
    result = reigh(A, k, seed=seed)
    assert isinstance(result, EighResult)
    w, U = result
    assert w.shape == (k,)
    assert U.shape == (n, k)
    assert w.dtype == U.dtype == np.dtype(dtype)
    tol = recovery_tolerance(A.shape, dtype) * 5.0
    assert np.all(np.diff(np.abs(f64(w))) <= 2 * tol)  # magnitudes non-increasing
    assert np.max(np.abs(f64(w[:6]) - INDEFINITE)) <= 2 * tol
    assert np.max(np.abs(f64(w[6:])), initial=0.0) <= 2 * tol
    assert orthonormality(U) <= orthonormality_tolerance(k + 10, dtype)
    assert spectral(f64(A) - reconstruct(U, w, f64(U).T)) <= 2 * tol
    spectrum_with_zero = np.sort(np.append(INDEFINITE, 0.0))
    gap = np.min(np.diff(spectrum_with_zero))
    assert np.max(np.abs(align_columns(U[:, :6], V) - V)) <= 4 * tol / gap


@pytest.mark.parametrize("seed", range(5))
def test_reigh_keeps_the_largest_magnitudes_of_a_full_rank_matrix(seed):
    """Full rank, eigenvalues ``+-exp(-(i-1)/3)`` with alternating signs, ``k = 8``. ``reigh``
    is Rayleigh-Ritz on the range finder's ``Q`` (same seed, same ``Q``: checked by
    ``span(U) in span(Q)``). With ``e = ||(I - Q Q^T) A||`` computed exactly,
    ``||A - Q Q^T A Q Q^T|| <= 2 e``, so by Weyl each kept eigenvalue is within ``2 e`` of the
    true one, provided ``2 e`` is below half the gaps between magnitudes (asserted: then the
    magnitude order, and the signs, are the true ones), and the error of the rank-8
    approximation is at most ``|lambda_9| + 2 e`` (and at least ``|lambda_9|``,
    Eckart-Young)."""
    n, k = 120, 8
    magnitudes = spectrum("fast", n)
    eigenvalues = magnitudes * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    A, _ = symmetric(n, eigenvalues, seed=3)
    w, U = reigh(A, k, seed=seed)
    Q = range_finder(A, k, seed=seed)
    assert spectral(U - Q @ (Q.T @ U)) <= recovery_tolerance(A.shape, "float64")
    e = spectral(A - Q @ (Q.T @ A))
    assert 2 * e < np.min(-np.diff(magnitudes[: k + 1])) / 2
    assert np.max(np.abs(w - eigenvalues[:k])) <= 2 * e
    assert np.all(np.sign(w) == np.sign(eigenvalues[:k]))
    error = spectral(A - reconstruct(U, w, U.T))
    assert magnitudes[k] * (1 - 1e-12) <= error <= magnitudes[k] + 2 * e


def test_reigh_is_reproducible():
    A, _ = symmetric(80, INDEFINITE, seed=1)
    first, second = reigh(A, 4, seed=5), reigh(A, 4, seed=5)
    assert_equal(first.eigenvalues, second.eigenvalues)
    assert_equal(first.eigenvectors, second.eigenvectors)


# -- nystrom -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "rank"), [(60, 6), (200, 6), (200, 15)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nystrom_recovers_a_low_rank_psd_matrix(n, rank, dtype, seed):
    """PSD of rank ``r``, eigenvalues log-spaced 1 ... 0.1, ``k = r + 2``, ``l = k + 10``:
    the approximation is within :func:`nystrom_tolerance` (the shift ``nu`` times the sketch's
    conditioning, derived there); eigenvalues non-negative, decreasing, within the same bound
    (Weyl); eigenvectors orthonormal and, up to sign, within ``2 bound / gap``."""
    eigenvalues = np.logspace(0, -1, rank)
    A64, V = symmetric(n, eigenvalues, seed)
    A = A64.astype(dtype)
    k = rank + 2
    w, U = nystrom(A, k, seed=seed)
    assert w.shape == (k,)
    assert U.shape == (n, k)
    assert w.dtype == U.dtype == np.dtype(dtype)
    assert np.all(f64(w) >= 0)
    assert np.all(np.diff(f64(w)) <= 0)
    bound = nystrom_tolerance(n, k + 10, rank, np.linalg.norm(A64), dtype)
    assert spectral(f64(A) - reconstruct(U, w, f64(U).T)) <= bound
    assert np.max(np.abs(f64(w[:rank]) - eigenvalues)) <= bound
    assert np.max(f64(w[rank:])) <= bound
    assert orthonormality(U) <= orthonormality_tolerance(k + 10, dtype)
    gap = min(np.min(-np.diff(eigenvalues)), eigenvalues[-1])
    assert np.max(np.abs(align_columns(U[:, :rank], V) - V)) <= 2 * bound / gap


@pytest.mark.parametrize("kind", ["fast", "slow", "poly2"])
@pytest.mark.parametrize(("k", "p"), [(10, 10), (10, 3), (20, 5)])
def test_nystrom_error_within_the_tropp_bound(kind, k, p):
    """Tropp, Yurtsever, Udell & Cevher (2017), Theorem 4.1: the rank-``k`` Nyström
    approximation from ``l = k + p`` Gaussian test vectors has expected trace-norm error at
    most ``(1 + k / (p - 1)) sum_{j > k} lambda_j`` (``p >= 2``). The mean over 20 seeds stays
    below (measured: 0.23-0.69 of the bound, so sampling noise does not cross it); the
    spectral error, at most the trace-norm one, is at least ``lambda_{k+1}`` (Eckart-Young).
    On the fast spectrum this bounds the mean spectral error by ``7.5 lambda_{k+1}`` for
    ``p = 10``."""
    n = 200
    eigenvalues = spectrum(kind, n)
    A, _ = symmetric(n, eigenvalues, seed=5)
    trace_errors, spectral_errors = [], []
    for seed in range(20):
        w, U = nystrom(A, k, oversampling=p, seed=seed)
        E = A - reconstruct(U, w, U.T)
        trace_errors.append(np.linalg.norm(E, "nuc"))
        spectral_errors.append(spectral(E))
    bound = (1 + k / (p - 1)) * eigenvalues[k:].sum()
    assert np.mean(trace_errors) <= bound, np.mean(trace_errors) / bound
    assert min(spectral_errors) >= eigenvalues[k] * (1 - 1e-12)
    if kind == "fast" and p == 10:
        assert np.mean(spectral_errors) <= 10 * eigenvalues[k]


def test_nystrom_power_iterations_help_on_a_slow_spectrum():
    """Spectrum ``1 / i``: the test matrix ``orth(A^q Omega)`` sharpens the spectrum seen by the
    sketch (Halko et al. Cor. 10.10 applied to ``A^(1/2)``), so the mean error over 10 seeds
    decreases with ``q`` toward ``lambda_{k+1}`` (measured 2.6, 1.04, 1.004 times
    ``lambda_{k+1}`` for ``q = 0, 1, 2``), and stays at least ``lambda_{k+1}``."""
    eigenvalues = spectrum("slow", 200)
    A, _ = symmetric(200, eigenvalues, seed=2)
    means = []
    for q in (0, 1, 2):
        errors = []
        for seed in range(10):
            w, U = nystrom(A, 10, power_iters=q, seed=seed)
            assert np.all(w >= 0)
            assert np.all(np.diff(w) <= 0)
            errors.append(spectral(A - reconstruct(U, w, U.T)))
        assert min(errors) >= eigenvalues[10] * (1 - 1e-12)
        means.append(np.mean(errors))
    assert means[0] > means[1] > means[2], means


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: -np.eye(n), id="minus-identity"),
        pytest.param(lambda n: -symmetric(n, np.logspace(0, -1, n), 0)[0], id="negative-definite"),
        pytest.param(lambda n: -symmetric(n, np.ones(4), 0)[0], id="negative-semidefinite"),
    ],
)
def test_nystrom_refuses_a_matrix_that_is_not_psd(make, dtype):
    """``Omega^T A Omega`` of a negative (semi)definite ``A`` has no Cholesky factor even after
    the shift ``nu ~ eps ||A||``: a ValueError saying so."""
    A = make(50).astype(dtype)
    with pytest.raises(ValueError, match="positive semidefinite"):
        nystrom(A, 5, seed=0)


def test_nystrom_of_the_zero_matrix():
    """The zero matrix is positive semidefinite: its Nyström approximation is zero."""
    w, U = nystrom(np.zeros((30, 30)), 3, seed=0)
    assert np.all(w == 0)
    assert orthonormality(U) <= orthonormality_tolerance(13, "float64")


def test_nystrom_is_reproducible():
    A, _ = symmetric(80, np.logspace(0, -2, 10), seed=1)
    first, second = nystrom(A, 4, seed=5), nystrom(A, 4, seed=5)
    assert_equal(first.eigenvalues, second.eigenvalues)
    assert_equal(first.eigenvectors, second.eigenvectors)
