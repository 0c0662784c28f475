"""``cg`` against dense solves and SciPy's CG, and the Poisson grid operators against their
sparse matrices.

Bounds. CG's recurrence residual ``r_k`` drifts from the true ``b - A x_k`` by about
``u k ||A|| ||x||`` (Greenbaum, *Iterative Methods for Solving Linear Systems*, 1997, Section
7.3): on converged runs the true residual is checked against ``tol ||b||`` plus that drift
(``k`` the iterations). Iterates are compared with SciPy's CG (the same recurrence, the same
arithmetic order up to BLAS summation) to ``64 u kappa`` relative after a few steps, the
rounding amplification of CG's first iterations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchla import ConvergenceWarning
from sketchla._array import to_numpy
from sketchla.solvers import PoissonGrid, cg

U64 = np.finfo(np.float64).eps / 2


def random_solid(grid_shape, fraction, seed):
    return np.random.default_rng(seed).random(grid_shape) < fraction


# -- the grid operators ----------------------------------------------------------------------


@given(
    grid_shape=st.one_of(
        st.tuples(st.integers(1, 9), st.integers(1, 9)),
        st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
    ),
    boundary=st.sampled_from(["dirichlet", "neumann"]),
    fraction=st.sampled_from([0.0, 0.2, 0.6]),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=40)
def test_matrix_free_equals_sparse_and_is_symmetric(grid_shape, boundary, fraction, seed):
    A = PoissonGrid(grid_shape, boundary=boundary, solid=random_solid(grid_shape, fraction, seed))
    S = A.to_sparse()
    assert (S != S.T).nnz == 0
    x = np.random.default_rng(seed).standard_normal(A.shape[0])
    # integer-valued stencil: both sums are exact up to one rounding per term
    bound = 8 * U64 * (np.abs(S) @ np.abs(x))
    assert np.all(np.abs(A.matvec(x) - S @ x) <= bound)
    assert A.matvec(x.reshape(grid_shape)).shape == grid_shape


def test_stencil_rows():
    """Interior rows of the 3-D operator are ``6, -1 x 6``; a corner row under Dirichlet is
    ``6`` (three faces outside) with three neighbours, under Neumann ``3``."""
    for boundary, corner in (("dirichlet", 6.0), ("neumann", 3.0)):
        S = PoissonGrid((4, 4, 4), boundary=boundary).to_sparse().toarray()
        interior = np.ravel_multi_index((1, 2, 1), (4, 4, 4))
        assert S[interior, interior] == 6.0
        assert np.sum(S[interior] == -1) == 6
        assert S[0, 0] == corner
        assert np.sum(S[0] == -1) == 3


def test_solid_cells_decouple_and_act_as_walls():
    solid = np.zeros((5, 5), dtype=bool)
    solid[2, 2] = True
    S = PoissonGrid((5, 5), solid=solid).to_sparse().toarray()
    k = np.ravel_multi_index((2, 2), (5, 5))
    assert S[k, k] == 1.0
    assert np.count_nonzero(S[k]) == 1
    assert np.count_nonzero(S[:, k]) == 1
    neighbour = np.ravel_multi_index((2, 1), (5, 5))
    assert S[neighbour, neighbour] == 3.0  # 4 faces, one to the solid cell


def test_dirichlet_is_positive_definite_and_pure_neumann_singular():
    w = np.linalg.eigvalsh(
        PoissonGrid((4, 5), solid=random_solid((4, 5), 0.3, 1)).to_sparse().toarray()
    )
    assert w.min() > 0
    w = np.linalg.eigvalsh(PoissonGrid((4, 5), boundary="neumann").to_sparse().toarray())
    assert abs(w.min()) <= 32 * U64 * w.max()  # constants are in the null space
    assert np.sort(w)[1] > 0.01


def test_matrix_free_on_every_backend(backend):
    A = PoissonGrid((6, 5, 4), solid=random_solid((6, 5, 4), 0.2, 2))
    x = np.random.default_rng(3).standard_normal(A.shape[0])
    y = A.matvec(backend.asarray(x))
    assert type(y) is type(backend.asarray(x))
    S = A.to_sparse()
    assert np.all(np.abs(to_numpy(y) - S @ x) <= 8 * U64 * (np.abs(S) @ np.abs(x)))


def test_bad_grids():
    with pytest.raises(ValueError, match="grid_shape"):
        PoissonGrid((4,))
    with pytest.raises(ValueError, match="grid_shape"):
        PoissonGrid((4, 0))
    with pytest.raises(ValueError, match="boundary"):
        PoissonGrid((4, 4), boundary="periodic")
    with pytest.raises(ValueError, match="solid"):
        PoissonGrid((4, 4), solid=np.zeros((4, 5), dtype=bool))
    with pytest.raises(ValueError, match="solid"):
        PoissonGrid((4, 4), solid=np.zeros((4, 4)))


# -- conjugate gradients ---------------------------------------------------------------------


def spd(n, kappa, seed):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (Q * np.logspace(0, -math.log10(kappa), n)) @ Q.T


def true_residual_bound(A_dense, x, b, tol, iterations):
    """``tol ||b||`` plus the recurrence's drift ``u k ||A|| ||x||`` (see the module)."""
    drift = U64 * max(iterations, 1) * np.linalg.norm(A_dense, 2) * np.linalg.norm(x)
    return tol * np.linalg.norm(b) + 4 * drift


@pytest.mark.parametrize("kappa", [10.0, 1e4])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["dense", "sparse", "operator"])
def test_converges_to_the_solution(kappa, seed, kind):
    A_dense = spd(60, kappa, seed)
    b = np.random.default_rng(seed).standard_normal(60)
    A = {
        "dense": A_dense,
        "sparse": sp.csr_array(A_dense),
        "operator": spla.aslinearoperator(A_dense),
    }[kind]
    result = cg(A, b, tol=1e-10, maxiter=2000)
    assert result.converged
    assert result.residual_norms.shape == (result.iterations + 1,)
    residual = np.linalg.norm(b - A_dense @ result.x)
    assert residual <= true_residual_bound(A_dense, result.x, b, 1e-10, result.iterations)


def test_iterates_equal_scipy_cg():
    A = PoissonGrid((12, 12)).to_sparse()
    b = np.random.default_rng(4).standard_normal(A.shape[0])
    ours, theirs = [], []
    with pytest.warns(ConvergenceWarning):  # 8 steps: far from tol, on purpose
        cg(A, b, tol=1e-12, maxiter=8, callback=lambda x: ours.append(x.copy()))
    spla.cg(A, b, rtol=1e-12, maxiter=8, callback=lambda x: theirs.append(x.copy()))
    kappa = 8 / (2 * (1 - np.cos(np.pi / 13)))  # the 2-D Dirichlet Laplacian's condition
    for x, y in zip(ours, theirs, strict=True):
        assert np.linalg.norm(x - y) <= 64 * U64 * kappa * np.linalg.norm(y)


def test_poisson_matrix_free_on_every_backend(backend):
    A = PoissonGrid((10, 9, 8), solid=random_solid((10, 9, 8), 0.1, 5))
    b = np.random.default_rng(5).standard_normal(A.shape[0]) * A.fluid.reshape(-1)
    result = cg(A, backend.asarray(b), tol=1e-8)
    assert result.converged
    x = to_numpy(result.x)
    S = A.to_sparse()
    assert np.linalg.norm(b - S @ x) <= true_residual_bound(
        S.toarray(), x, b, 1e-8, result.iterations
    )


def test_preconditioner_reduces_iterations():
    """Jacobi on a badly scaled SPD matrix: ``D^{-1/2} A D^{-1/2}`` is the Poisson matrix."""
    P = PoissonGrid((12, 12)).to_sparse()
    d = np.logspace(0, 4, P.shape[0])
    A = sp.diags(np.sqrt(d)) @ P @ sp.diags(np.sqrt(d))
    b = np.random.default_rng(6).standard_normal(P.shape[0])
    plain = cg(A, b, tol=1e-8, maxiter=20000)
    jacobi = cg(A, b, tol=1e-8, M=lambda r: r / A.diagonal(), maxiter=20000)
    assert plain.converged
    assert jacobi.converged
    assert jacobi.iterations < plain.iterations / 2


def test_x0_and_exact_start():
    A = spd(30, 100.0, 7)
    b = np.random.default_rng(7).standard_normal(30)
    x = np.linalg.solve(A, b)
    result = cg(A, b, x0=x, tol=1e-6)
    assert result.iterations == 0
    assert result.converged
    assert np.array_equal(result.x, x)
    assert result.x is not x  # never the caller's array


def test_not_positive_definite_is_an_error():
    with pytest.raises(ValueError, match="A is not positive definite"):
        cg(-np.eye(5), np.ones(5))
    with pytest.raises(ValueError, match="M is not positive definite"):
        cg(np.eye(5), np.ones(5), M=lambda r: -r)


def test_maxiter_warns():
    A = PoissonGrid((20, 20)).to_sparse()
    with pytest.warns(ConvergenceWarning, match="maxiter=3"):
        result = cg(A, np.ones(A.shape[0]), maxiter=3)
    assert not result.converged
    assert result.iterations == 3


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: cg(np.eye(3), np.ones(4)), ValueError, "A must be 4 x 4"),
        (lambda: cg(np.ones((3, 4)), np.ones(3)), ValueError, "square"),
        (lambda: cg(np.eye(3), np.array([1.0, np.nan, 0])), ValueError, "b must hold only finite"),
        (lambda: cg(np.eye(3), np.ones(3), tol=0), ValueError, "tol"),
        (lambda: cg(np.eye(3), np.ones(3), tol=True), TypeError, "tol"),
        (lambda: cg(np.eye(3), np.ones(3), maxiter=-1), ValueError, "maxiter"),
        (lambda: cg(np.eye(3), np.ones(3), x0=np.ones(4)), ValueError, "x0"),
        (lambda: cg(np.eye(3), np.ones(3), callback=3), TypeError, "callback"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_zero_right_hand_side_gives_zero_whatever_the_start():
    """``b = 0``: the solution of a positive definite system is ``x = 0``; a nonzero ``x0``
    must not make the relative residual divide by ``||b|| = 0``."""
    import warnings

    from sketchla.solvers import dcdm_solve

    A = PoissonGrid((6, 6))
    b = np.zeros(36)
    x0 = np.random.default_rng(0).standard_normal(36)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for result in (
            cg(A, b, x0=x0, maxiter=3),
            dcdm_solve(A, b, model=lambda r: r, x0=x0, maxiter=3),
        ):
            assert result.converged
            assert result.iterations == 0
            np.testing.assert_array_equal(to_numpy(result.x), np.zeros(36))
