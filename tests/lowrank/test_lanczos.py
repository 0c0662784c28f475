"""``lanczos_svd``: the top ``k`` singular triplets against LAPACK's dense SVD on every kind of
input, at bounds derived from its stopping rule.

Bounds. The method stops when every top-``k`` Ritz pair of ``M = A^T A`` (or ``A A^T``) has a
residual ``r <= tol * sigma_1**2``. A Ritz value is then within ``r`` of an eigenvalue of ``M``,
and within ``r**2 / gap`` when the rest of ``M``'s spectrum is ``gap`` away (Kato-Temple; Parlett,
*The Symmetric Eigenvalue Problem*, Theorem 11.7.1), with ``gap = min_j |sigma_i**2 -
sigma_j**2|`` over the other eigenvalues. The returned ``s_i`` come from the SVD of ``A Y_k`` and
obey the same bound on ``s_i**2``, so ``|s_i - sigma_i| <= min(e / sigma_i, sqrt(e))`` for
``e = min(r, r**2 / gap)``, plus the rounding of the products and the final SVD, taken as the
low-rank tests' recovery tolerance ``16 eps (m + n) sigma_1`` (see ``_lowrank_problems``).
The singular vectors are compared as subspaces when the gap is wide: ``sin(angle) <= r / gap``
(Davis-Kahan) plus the same rounding over the gap.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from _lowrank_problems import (
    f64,
    flip_signs,
    orthonormality,
    orthonormality_tolerance,
    projector_distance,
    recovery_tolerance,
    spectrum,
    with_spectrum,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchla import ConvergenceWarning
from sketchla.lowrank import lanczos_svd
from sketchla.testing import eps


def default_tol(dtype) -> float:
    return math.sqrt(eps(dtype) / 2)  # sqrt(u)


def value_bounds(exact: np.ndarray, k: int, shape, dtype, tol=None) -> np.ndarray:
    """The allowed ``|s_i - sigma_i|`` for the top ``k`` (see the module docstring);
    ``exact`` holds all ``min(m, n)`` singular values, descending."""
    tol = default_tol(dtype) if tol is None else tol
    squares = exact**2
    r = tol * squares[0]
    bounds = np.empty(k)
    for i in range(k):
        others = np.delete(squares, i)
        gap = float(np.min(np.abs(others - squares[i]))) if others.size else np.inf
        e = min(r, r**2 / gap) if gap > 0 else r
        bounds[i] = min(e / exact[i], math.sqrt(e)) if exact[i] > 0 else math.sqrt(e)
    return bounds + recovery_tolerance(shape, dtype) * exact[0]


def check_triplets(result, A_dense: np.ndarray, k: int, dtype, tol=None) -> None:
    """Values within the bounds, orthonormal factors, the sign convention, and the residuals of
    the singular pairs."""
    U, s, Vh = (f64(x) for x in result)
    m, n = A_dense.shape
    assert U.shape == (m, k)
    assert s.shape == (k,)
    assert Vh.shape == (k, n)
    exact = np.linalg.svd(A_dense, compute_uv=False)
    assert np.all(np.abs(s - exact[:k]) <= value_bounds(exact, k, (m, n), dtype, tol))
    assert np.all(np.diff(s) <= 0)
    assert np.all(s >= 0)
    width = min(m, n)
    assert orthonormality(U) <= orthonormality_tolerance(width, dtype)
    assert orthonormality(Vh.T) <= orthonormality_tolerance(width, dtype)
    assert np.array_equal(U, flip_signs(U)[0])
    # on the side the basis lives in, the final SVD makes the pairs exact; on the other the
    # residual is the Ritz residual over s_i: ||M y - theta y|| / s_i <= tol sigma_1**2 / s_i
    rounding = recovery_tolerance((m, n), dtype) * exact[0]
    right = np.linalg.norm(A_dense @ Vh.T - U * s, axis=0)
    left = np.linalg.norm(A_dense.T @ U - Vh.T * s, axis=0)
    exact_side, ritz_side = (right, left) if n <= m else (left, right)
    assert np.all(exact_side <= rounding)
    tol = default_tol(dtype) if tol is None else tol
    positive = s > rounding
    ritz_bound = tol * exact[0] ** 2 / s[positive] + rounding
    assert np.all(ritz_side[positive] <= ritz_bound)


# -- accuracy --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["slow", "fast", "poly2"])
@pytest.mark.parametrize("shape", [(400, 150), (150, 400)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_matches_lapack(kind, shape, seed):
    A = with_spectrum(*shape, spectrum(kind, min(shape)), seed=seed)[0]
    check_triplets(lanczos_svd(A, 10, seed=seed), A, 10, "float64")


@pytest.mark.parametrize("seed", [0, 1])
def test_ill_conditioned_and_rank_deficient(seed):
    sigma = np.logspace(0, -14, 60)  # kappa 1e14, then exact zeros beyond rank 60
    A = with_spectrum(300, 200, sigma, seed=seed)[0]
    check_triplets(lanczos_svd(A, 8, seed=seed), A, 8, "float64")
    # rank 3 < k: the Krylov space becomes invariant and is extended by random directions
    low = with_spectrum(300, 200, [3.0, 2.0, 1.0], seed=seed)[0]
    result = lanczos_svd(low, 12, seed=seed)
    check_triplets(result, low, 12, "float64")
    assert np.all(f64(result.s)[3:] <= recovery_tolerance((300, 200), "float64") * 3.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(3000, 400), (400, 3000)])
def test_flat_sparse_spectrum_matches_lapack(seed, shape):
    """A random sparse matrix: top singular values a percent apart, the case this is for."""
    A = sp.random_array(shape, density=0.01, format="csr", rng=seed)
    check_triplets(lanczos_svd(A, 15, seed=seed), A.toarray(), 15, "float64")


def test_coherent_matrix():
    """Mass on a few rows and columns (a spiked identity block plus noise)."""
    rng = np.random.default_rng(4)
    A = 1e-3 * rng.standard_normal((500, 120))
    A[:5, :5] += np.diag([10.0, 9.0, 8.0, 7.0, 6.0])
    check_triplets(lanczos_svd(A, 6, seed=0), A, 6, "float64")


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_float32(kind):
    A64 = with_spectrum(500, 200, spectrum("slow", 200), seed=3)[0]
    A = A64.astype(np.float32)
    if kind == "sparse":
        A = sp.csr_array(A)
    result = lanczos_svd(A, 6, seed=0)
    assert all(np.asarray(x).dtype == np.float32 for x in result)
    check_triplets(result, A64.astype(np.float32).astype(np.float64), 6, "float32")


def test_vectors_span_the_singular_subspaces():
    sigma = spectrum("fast", 150)
    A, U, _, V = with_spectrum(400, 150, sigma, seed=5)
    k, tol = 6, default_tol("float64")
    result = lanczos_svd(A, k, seed=0)
    gap = sigma[k - 1] ** 2 - sigma[k] ** 2
    bound = (tol * sigma[0] ** 2 + recovery_tolerance(A.shape, "float64")) / gap
    assert projector_distance(f64(result.Vh).T, V[:, :k]) <= bound
    assert projector_distance(result.U, U[:, :k]) <= bound


@given(
    m=st.integers(30, 160),
    n=st.integers(30, 160),
    data=st.data(),
)
@settings(max_examples=25)
def test_any_shape_block_and_basis(m, n, data):
    k = data.draw(st.integers(1, min(m, n) // 4))
    block = data.draw(st.integers(1, 6))
    basis = data.draw(st.one_of(st.none(), st.integers(2 * (k + block), 2 * (k + block) + 20)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    A = np.random.default_rng(seed).standard_normal((m, n))
    result = lanczos_svd(A, k, block_size=block, basis_size=basis, seed=seed)
    check_triplets(result, A, k, "float64")


# -- inputs ----------------------------------------------------------------------------------


def test_backends_agree_with_numpy(backend):
    A = with_spectrum(300, 120, spectrum("fast", 120), seed=6)[0]
    result = lanczos_svd(backend.asarray(A), 5, seed=0)
    for x in result:
        assert type(x) is type(backend.asarray(A))
    check_triplets(result, A, 5, "float64")


def test_sparse_operator_and_dense_agree():
    A = sp.random_array((800, 300), density=0.02, format="csr", rng=7)
    dense = lanczos_svd(A.toarray(), 8, seed=1)
    for other in (A, A.tocsc(), A.tocoo(), spla.aslinearoperator(A)):
        result = lanczos_svd(other, 8, seed=1)
        check_triplets(result, A.toarray(), 8, "float64")
        assert np.allclose(f64(result.s), f64(dense.s), rtol=0, atol=1e-12)


def test_small_matrices_take_a_dense_svd():
    """``min(m, n) <= basis_size``: the Krylov space would be all of it."""
    A = np.random.default_rng(8).standard_normal((40, 25))
    check_triplets(lanczos_svd(A, 25, seed=0), A, 25, "float64")
    check_triplets(lanczos_svd(spla.aslinearoperator(A.T), 3, seed=0), A.T, 3, "float64")


def test_zero_matrix():
    result = lanczos_svd(np.zeros((200, 100)), 4, seed=0)
    assert np.all(f64(result.s) == 0)
    assert orthonormality(result.U) <= orthonormality_tolerance(100, "float64")
    assert orthonormality(f64(result.Vh).T) <= orthonormality_tolerance(100, "float64")


def test_reproducible_and_input_untouched():
    A = sp.random_array((600, 200), density=0.05, format="csr", rng=9)
    before = A.copy()
    first, second = lanczos_svd(A, 5, seed=3), lanczos_svd(A, 5, seed=3)
    for x, y in zip(first, second, strict=True):
        assert np.array_equal(x, y)
    assert (before != A).nnz == 0


def test_ran_out_of_restarts_warns():
    A = sp.random_array((3000, 400), density=0.01, format="csr", rng=10)
    with pytest.warns(ConvergenceWarning, match="maxiter=1 restarts"):
        result = lanczos_svd(A, 10, maxiter=1, seed=0)
    assert f64(result.s).shape == (10,)
    assert np.all(np.isfinite(f64(result.s)))


def test_converged_run_is_silent():
    A = sp.random_array((3000, 400), density=0.01, format="csr", rng=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lanczos_svd(A, 10, seed=0)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"k": 0}, ValueError, "k must be"),
        ({"k": 101}, ValueError, "k must be at most min"),
        ({"k": 5, "tol": 0.0}, ValueError, "tol must be in"),
        ({"k": 5, "tol": 1e-16}, ValueError, "tol must be in"),
        ({"k": 5, "tol": 1.0}, ValueError, "tol must be in"),
        ({"k": 5, "tol": float("nan")}, ValueError, "tol must be in"),
        ({"k": 5, "tol": True}, TypeError, "tol must be a number"),
        ({"k": 5, "block_size": 0}, ValueError, "block_size"),
        ({"k": 5, "basis_size": 17}, ValueError, "basis_size must be"),
        ({"k": 5, "maxiter": 0}, ValueError, "maxiter"),
    ],
)
def test_bad_options(options, error, match):
    A = np.ones((200, 100))
    with pytest.raises(error, match=match):
        lanczos_svd(A, **options)


def test_non_finite_input():
    A = np.ones((200, 100))
    A[3, 4] = np.nan
    with pytest.raises(ValueError, match="finite"):
        lanczos_svd(A, 3)
    with pytest.raises(ValueError, match="finite"):
        lanczos_svd(sp.csr_array(A), 3)
