"""The DCDM iteration with given direction maps: identity is CG, ``A^{-1}`` solves in one step,
rescaling the map leaves the iterates unchanged, directions are A-orthogonal to the last
``n_orth``, and bad input is refused.

Bounds. Two runs of the same recurrence in different rounding orders drift apart by about
``u kappa`` per step relative to the iterate (Greenbaum 1997, Section 7.3); the comparisons allow
``64 u kappa k`` after ``k`` steps. A-orthogonality holds to ``16 u kappa`` relative to
``||p_i||_A ||p_j||_A`` (one projection, done twice implicitly by the recurrence).
"""

from __future__ import annotations

import numpy as np
import pytest

from sketchla import ConvergenceWarning
from sketchla._array import to_numpy
from sketchla.solvers import PoissonGrid, cg
from sketchla.solvers.dcdm import dcdm_solve

U64 = np.finfo(np.float64).eps / 2
GRID = (10, 9)


def poisson_condition(grid):
    """``lambda_max / lambda_min`` of the Dirichlet Laplacian on ``grid``."""
    low = sum(2 * (1 - np.cos(np.pi / (s + 1))) for s in grid)
    high = sum(2 * (1 - np.cos(np.pi * s / (s + 1))) for s in grid)
    return high / low


def problem(seed=0):
    A = PoissonGrid(GRID)
    b = np.random.default_rng(seed).standard_normal(A.shape[0])
    return A, b


def iterates(solver, A, b, **options):
    xs = []
    solver(A, b, callback=lambda x: xs.append(np.array(to_numpy(x))), **options)
    return xs


@pytest.mark.parametrize("n_orth", [1, 2, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_identity_map_is_cg(n_orth, seed):
    A, b = problem(seed)
    ours = iterates(dcdm_solve, A, b, model=lambda r: r, n_orth=n_orth, tol=1e-10)
    theirs = iterates(cg, A, b, tol=1e-10)
    assert abs(len(ours) - len(theirs)) <= 1  # the last step may fall either side of tol
    kappa = poisson_condition(GRID)
    for k, (x, y) in enumerate(zip(ours, theirs, strict=False), start=1):
        assert np.linalg.norm(x - y) <= 64 * U64 * kappa * k * np.linalg.norm(y)


def test_exact_inverse_solves_in_one_step():
    A, b = problem(2)
    S = A.to_sparse().toarray()
    inverse = np.linalg.inv(S)
    result = dcdm_solve(A, b, model=lambda r: (inverse @ r.reshape(-1)).reshape(GRID), tol=1e-10)
    assert result.iterations == 1
    assert result.converged


@pytest.mark.parametrize("scale", [1e-6, -3.0, 1e8])
def test_rescaled_map_gives_the_same_iterates(scale):
    A, b = problem(3)
    rng = np.random.default_rng(3)
    M = rng.standard_normal((A.shape[0], A.shape[0])) * 0.05 + np.eye(A.shape[0])
    M = M @ M.T  # an SPD map: a non-trivial preconditioner-like f

    def f(r):
        return (M @ r.reshape(-1)).reshape(GRID)

    base = iterates(dcdm_solve, A, b, model=f, tol=1e-8)
    scaled = iterates(dcdm_solve, A, b, model=lambda r: scale * f(r), tol=1e-8)
    # early steps agree to rounding; later, truncated A-orthogonalisation (n_orth = 2, f not the
    # identity) amplifies the different roundings, so the runs are compared at their answers:
    # both residuals are <= tol ||b||, so ||x - y|| <= 2 tol ||b|| / lambda_min(A)
    kappa = poisson_condition(GRID) * np.linalg.cond(M)
    for k, (x, y) in enumerate(zip(scaled[:8], base[:8], strict=True), start=1):
        assert np.linalg.norm(x - y) <= 64 * U64 * kappa * k * np.linalg.norm(y)
    lambda_min = sum(2 * (1 - np.cos(np.pi / (s + 1))) for s in GRID)
    assert np.linalg.norm(scaled[-1] - base[-1]) <= 2 * 1e-8 * np.linalg.norm(b) / lambda_min


@pytest.mark.parametrize("n_orth", [1, 2, 3])
def test_directions_are_a_orthogonal_to_the_last_n_orth(n_orth):
    A, b = problem(4)
    S = A.to_sparse().toarray()
    rng = np.random.default_rng(4)
    W = np.eye(A.shape[0]) + 0.3 * rng.standard_normal((A.shape[0], A.shape[0]))
    with pytest.warns(ConvergenceWarning):  # 15 steps with a poor map: far from tol
        xs = iterates(
            dcdm_solve,
            A,
            b,
            model=lambda r: (W @ r.reshape(-1)).reshape(GRID),
            n_orth=n_orth,
            tol=1e-6,
            maxiter=15,
        )
    X = np.vstack([np.zeros(A.shape[0]), *xs])
    steps = np.diff(X, axis=0)  # alpha_k q_k, up to the rounding of the difference:
    # |error| <= 2 u (||x_k|| + ||x_{k-1}||) per step, which enters p^T S q through ||S|| = 8
    differencing = 2 * U64 * (np.linalg.norm(X[1:], axis=1) + np.linalg.norm(X[:-1], axis=1))
    kappa = poisson_condition(GRID)
    for k in range(len(steps)):
        for j in range(max(0, k - n_orth), k):
            p, q = steps[j], steps[k]
            scale = np.sqrt(p @ S @ p) * np.sqrt(q @ S @ q)
            e_p, e_q = differencing[j], differencing[k]
            rounding = 8 * (e_p * np.linalg.norm(q) + e_q * np.linalg.norm(p) + e_p * e_q)
            assert abs(p @ S @ q) <= 16 * U64 * kappa * (k + 1) * scale + rounding


def test_torch_module_and_torch_input():
    torch = pytest.importorskip("torch")
    A, b = problem(5)
    identity = torch.nn.Identity()
    for rhs in (b, torch.from_numpy(b)):
        result = dcdm_solve(A, rhs, model=identity, tol=1e-8)
        assert result.converged
        assert type(result.x) is type(rhs)
    reference = cg(A, b, tol=1e-8)
    assert result.iterations == reference.iterations


def test_not_converging_warns_and_bad_directions_raise():
    A, b = problem(6)
    with pytest.warns(ConvergenceWarning, match="maxiter=2"):
        result = dcdm_solve(A, b, model=lambda r: r, maxiter=2)
    assert not result.converged
    with pytest.raises(ValueError, match="not positive definite"):
        dcdm_solve(-np.eye(5), np.ones(5), model=lambda r: r)
    with pytest.raises(ValueError, match="zero or lies in the span"):
        dcdm_solve(A, b, model=lambda r: 0 * r, safeguard=False)
    # with the safeguard, a zero model leaves the steps to the residual: CG's directions; a
    # fixed direction (useless after its first step) costs a few steps, never convergence
    plain = cg(A, b, tol=1e-8).iterations
    assert abs(dcdm_solve(A, b, model=lambda r: 0 * r, tol=1e-8).iterations - plain) <= 1
    fixed = np.random.default_rng(1).standard_normal(GRID)
    result = dcdm_solve(A, b, model=lambda r: fixed, tol=1e-8)
    assert result.converged
    assert result.iterations <= 2 * plain
    with pytest.raises(FloatingPointError, match="NaN"):
        dcdm_solve(A, b, model=lambda r: r * np.nan)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"grid_shape": (9, 9)}, ValueError, "grid_shape"),
        ({"model": 3}, TypeError, "model"),
        ({"model": lambda r: r.reshape(-1)}, ValueError, "model returned shape"),
        ({"tol": 0.0}, ValueError, "tol"),
        ({"n_orth": -1}, ValueError, "n_orth"),
        ({"maxiter": -1}, ValueError, "maxiter"),
        ({"x0": np.ones(3)}, ValueError, "x0"),
    ],
)
def test_bad_input(options, error, match):
    A, b = problem(7)
    options = {"model": lambda r: r, **options}
    with pytest.raises(error, match=match):
        dcdm_solve(A, b, **options)


def test_b_must_match_the_grid():
    A = PoissonGrid(GRID)
    with pytest.raises(ValueError, match="A must be"):
        dcdm_solve(A, np.ones(10), model=lambda r: r)
