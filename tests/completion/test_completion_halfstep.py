"""One half-step alone: :func:`sketchla.completion.halfstep.solve_targets`, exact and sketched.

The sketched solver is preconditioned conjugate gradients (CG) on each target's normal
equations ``H x = A^T b`` (``H = A^T A + λ I``, ``A = F[Ω_t]``), started at ``x0`` and stopped
when the preconditioned gradient ``g^T P^{-1} g`` has fallen by ``inner_tol^2``. Two facts of CG
theory give the per-target bounds checked here, both in the energy norm
``||e||_H = ||A (x - x*)||`` (for ``λ = 0``), with ``κ`` the condition number of ``P^{-1} H``:

* after ``j`` steps, ``||e_j||_H <= 2 ρ^j ||e_0||_H``, ``ρ = (√κ - 1) / (√κ + 1)``;
* ``g = -H e``, so ``λ_min ||e||_H^2 <= g^T P^{-1} g <= λ_max ||e||_H^2``: stopping on the
  tolerance means ``||e||_H <= √κ inner_tol ||e_0||_H``.

``P`` is the identity for the shared preconditioner of an orthonormal ``F``, and
``(S A)^T (S A)`` for the per-target CountSketch ``S``, whose hashes the test redraws from the
same seed (and checks that it redrew them right). The exact references are LAPACK least
squares (``numpy.linalg.lstsq``, minimum norm) and ``numpy.linalg.solve`` of the ridge normal
equations; a solve through the normal equations is held to ``16 k u cond(A)^2``
(``normal_equations_bound``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from _completion_problems import (
    U64,
    minimum_norm,
    normal_equations_bound,
    orthonormal_factor,
    sketched_gram,
    target_index,
    target_problem,
)

from sketchla._array.kernels import implementations
from sketchla.completion.halfstep import solve_targets
from sketchla.completion.observations import observations
from sketchla.random import Generator

P, K = 240, 4
N_TARGETS = 90


def counts_for(k: int, s: int, seed: int) -> np.ndarray:
    """Random counts up to 60, and the edge cases: empty, ``k - 1``, ``k``, ``s``, ``s + 1``."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 61, size=N_TARGETS)
    counts[:6] = [0, 1, k - 1, k, max(s, k), max(s, k) + 1]
    return counts


def setup(seed: int, s: int = 0, k: int = K):
    F = orthonormal_factor(P, k, seed)
    index = target_index(P, counts_for(k, s, seed), seed)
    exact = np.array(
        [minimum_norm(*target_problem(F, index, t), k) for t in range(index.counts.shape[0])]
    )
    return F, index, exact


def warm_start(exact: np.ndarray, seed: int, size: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    return exact + size * rng.standard_normal(exact.shape)


def cg_bound(kappa: float, steps: int, inner_tol: float, inner_maxiter: int) -> float:
    """The factor by which CG's energy-norm error can at most have fallen (module docstring)."""
    root = math.sqrt(kappa)
    bound = 2 * ((root - 1) / (root + 1)) ** steps
    if steps < inner_maxiter:  # it stopped on the tolerance
        bound = min(bound, root * inner_tol)
    return bound


def redrawn_sketch(seed: int, s: int, n_obs: int) -> tuple[np.ndarray, np.ndarray]:
    """The CountSketch ``solve_targets`` draws from ``Generator(seed)``: a bucket per observation,
    then a sign per observation."""
    g = Generator(seed)
    return g.integers(s, shape=n_obs, dtype=np.int64), g.signs(n_obs)


# -- the conjugate-gradient bounds ------------------------------------------------------------


@pytest.mark.parametrize("inner_tol", [0.3, 0.1, 1e-3])
@pytest.mark.parametrize("seed", [0, 1])
def test_shared_preconditioner_meets_the_cg_bound_for_every_target(seed, inner_tol):
    F, index, exact = setup(seed)
    x0 = warm_start(exact, seed)
    inner_maxiter = 20
    X, steps = solve_targets(
        F, index, solver="sketch", x0=x0, sketch_size=0, orthonormal=True,
        inner_tol=inner_tol, inner_maxiter=inner_maxiter,
    )  # fmt: skip
    iterated = 0
    for t, count in enumerate(index.counts):
        A, b = target_problem(F, index, t)
        if count < K:  # solved exactly instead (minimum norm): next test
            continue
        iterated += 1
        H = A.T @ A  # P = I: F is orthonormal
        eigenvalues = np.linalg.eigvalsh(H)
        kappa = eigenvalues[-1] / eigenvalues[0]
        before = np.linalg.norm(A @ (x0[t] - exact[t]))
        after = np.linalg.norm(A @ (X[t] - exact[t]))
        bound = cg_bound(kappa, int(steps[t]), inner_tol, inner_maxiter)
        # rounding: x* itself is accurate to u cond(A)^2 |x*|, the iterate to about u kappa
        slack = 64 * U64 * kappa * (np.linalg.norm(b) + np.linalg.norm(A) * np.linalg.norm(X[t]))
        assert after <= bound * before * (1 + 1e-8) + slack, (t, count, steps[t], kappa)
        assert 1 <= steps[t] <= inner_maxiter
    assert iterated >= N_TARGETS // 2


@pytest.mark.parametrize("inner_tol", [0.3, 0.1])
@pytest.mark.parametrize("seed", [0, 1])
def test_countsketch_preconditioner_meets_the_cg_bound_for_every_target(seed, inner_tol):
    s = 4 * K
    F, index, exact = setup(seed, s)
    x0 = warm_start(exact, seed)
    inner_maxiter = 20
    X, steps = solve_targets(
        F, index, solver="sketch", x0=x0, sketch_size=s, orthonormal=True,
        inner_tol=inner_tol, inner_maxiter=inner_maxiter, generator=Generator(seed),
    )  # fmt: skip
    buckets, signs = redrawn_sketch(seed, s, index.positions.shape[0])
    # the redrawn hashes are the ones used: the kernel given them takes the same steps to the
    # same iterates (to rounding, not bit for bit: the robust kernel's reassociated sums vary
    # from call to call, see test_completion_kernels.py); another sketch would change the
    # iterates by O(inner_tol)
    again, status, again_steps = implementations("altmin_robust")["numpy"](
        F, index.ptr, index.positions, index.values, 0.0, x0, buckets, signs, s,
        np.zeros((0, 0)), inner_tol, inner_maxiter,
    )  # fmt: skip
    # (the kernel flags the underdetermined nonempty targets, which solve_targets then solves by
    # LAPACK)
    np.testing.assert_array_equal(status, (index.counts > 0) & (index.counts < K))
    np.testing.assert_array_equal(again_steps, steps)
    solved = status == 0
    np.testing.assert_allclose(again[solved], X[solved], rtol=0, atol=1e-10 * np.abs(X).max())
    iterated = 0
    for t, count in enumerate(index.counts):
        A, b = target_problem(F, index, t)
        if count <= s:  # solved exactly: next test
            continue
        iterated += 1
        lo, hi = index.ptr[t], index.ptr[t + 1]
        H = A.T @ A
        eigenvalues = scipy.linalg.eigh(H, sketched_gram(A, buckets[lo:hi], signs[lo:hi], s))[0]
        kappa = eigenvalues[-1] / eigenvalues[0]
        before = np.linalg.norm(A @ (x0[t] - exact[t]))
        after = np.linalg.norm(A @ (X[t] - exact[t]))
        bound = cg_bound(kappa, int(steps[t]), inner_tol, inner_maxiter)
        slack = 64 * U64 * kappa * (np.linalg.norm(b) + np.linalg.norm(A) * np.linalg.norm(X[t]))
        assert after <= bound * before * (1 + 1e-8) + slack, (t, count, steps[t], kappa)
        # CG minimises the energy-norm error over a growing Krylov space: it never rises, and
        # the first step already lowers it
        assert after < before
        assert 1 <= steps[t] <= inner_maxiter
    assert iterated >= N_TARGETS // 2


# -- exact answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("sketch_size", [0, 4 * K])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_tiny_inner_tolerance_gives_the_least_squares_solution(seed, sketch_size):
    F, index, exact = setup(seed, sketch_size)
    X, _steps = solve_targets(
        F, index, solver="sketch", x0=warm_start(exact, seed), sketch_size=sketch_size,
        orthonormal=True, inner_tol=1e-12, inner_maxiter=200, generator=Generator(seed),
    )  # fmt: skip
    for t in range(N_TARGETS):
        A, _ = target_problem(F, index, t)
        if A.shape[0] < K:
            np.testing.assert_allclose(X[t], exact[t], rtol=1e-12, atol=0)
            continue
        # CG on the normal equations attains the accuracy of a normal-equations solve
        bound = max(normal_equations_bound(A), 1e-13)
        assert np.linalg.norm(X[t] - exact[t]) <= bound * np.linalg.norm(exact[t]), t
        assert np.linalg.norm(X[t] - exact[t]) <= 1e-10 * np.linalg.norm(exact[t]), t


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_exact_solver_gives_the_least_squares_solution(seed):
    F, index, exact = setup(seed)
    X, steps = solve_targets(F, index, solver="exact")
    assert steps is None
    for t in range(N_TARGETS):
        A, _ = target_problem(F, index, t)
        if A.shape[0] < K:  # minimum norm, by LAPACK like the reference
            np.testing.assert_allclose(X[t], exact[t], rtol=1e-12, atol=0)
        else:
            bound = normal_equations_bound(A)
            assert np.linalg.norm(X[t] - exact[t]) <= bound * np.linalg.norm(exact[t]), t


@pytest.mark.parametrize("seed", [0, 1])
def test_targets_that_fit_in_the_sketch_are_solved_exactly_without_iterating(seed):
    s = 4 * K
    F, index, exact = setup(seed, s)
    X, steps = solve_targets(
        F, index, solver="sketch", x0=warm_start(exact, seed), sketch_size=s,
        orthonormal=True, inner_tol=0.5, inner_maxiter=1, generator=Generator(seed),
    )  # fmt: skip
    small = index.counts <= s
    assert small.sum() >= 6  # 0, 1, k - 1, k and s at least
    assert np.all(steps[small] == 0)
    for t in np.flatnonzero(small):
        A, _ = target_problem(F, index, t)
        bound = normal_equations_bound(A) if A.shape[0] >= K else 1e-12
        assert np.linalg.norm(X[t] - exact[t]) <= bound * max(np.linalg.norm(exact[t]), 1e-300)
    # one step of inner_tol 0.5 does not solve the others exactly
    large = np.flatnonzero(~small)
    assert max(np.linalg.norm(X[t] - exact[t]) for t in large) > 1e-6


@pytest.mark.parametrize(
    ("solver", "sketch_size"), [("exact", 0), ("sketch", 0), ("sketch", 4 * K)]
)
def test_empty_targets_get_zero_and_short_ones_the_minimum_norm_solution(solver, sketch_size):
    F = orthonormal_factor(P, K, 3)
    counts = [0, 1, 2, K - 1, 0, 25]
    index = target_index(P, counts, 3)
    x0 = np.full((len(counts), K), 7.0)  # a warm start must not leak into either
    X, _ = solve_targets(
        F, index, solver=solver, x0=x0, sketch_size=sketch_size, orthonormal=True,
        generator=Generator(0),
    )  # fmt: skip
    assert np.all(X[0] == 0.0)
    assert np.all(X[4] == 0.0)
    for t in (1, 2, 3):
        A, b = target_problem(F, index, t)
        reference = np.linalg.lstsq(A, b, rcond=None)[0]
        np.testing.assert_allclose(X[t], reference, rtol=1e-12, atol=0)
        # minimum norm: orthogonal to the null space of A, and an exact fit (more unknowns)
        np.testing.assert_allclose(A @ X[t], b, rtol=0, atol=1e-12 * np.linalg.norm(b))


@pytest.mark.parametrize(
    ("solver", "sketch_size"),
    [
        ("exact", 0),
        ("sketch", 4 * K),
        ("sketch", 0),
    ],
)
def test_a_rank_deficient_target_gets_a_least_squares_solution(solver, sketch_size):
    """Twenty observations (more than ``k`` and than the sketch's ``4 k`` rows) on rows of ``F``
    whose last coordinate is zero: ``F[Ω_t]`` has rank ``k - 1``. The exact and the sketched
    solvers give the minimum-norm solution; conjugate gradients with the shared preconditioner
    never move along the null space, so they give the least-squares solution that keeps the
    warm start's null-space component (documented)."""
    F = orthonormal_factor(P, K, 4)
    F[:20, -1] = 0.0
    rows = np.arange(20)
    values = np.random.default_rng(4).standard_normal(20)
    obs, _, _ = observations((rows, np.zeros(20, dtype=np.int64), values), (P, 1))
    X, _ = solve_targets(
        F, obs.by_col, solver=solver, x0=np.ones((1, K)), sketch_size=sketch_size,
        orthonormal=True, inner_tol=1e-12, inner_maxiter=100, generator=Generator(4),
    )  # fmt: skip
    reference = np.linalg.lstsq(F[:20], values, rcond=None)[0]
    assert reference[-1] == 0.0
    if solver == "sketch" and sketch_size == 0:
        reference[-1] = 1.0  # x0's component along the null space
    np.testing.assert_allclose(X[0], reference, rtol=1e-10, atol=1e-12)


# -- ridge ------------------------------------------------------------------------------------


def ridge_reference(F, index, t, ridge):
    A, b = target_problem(F, index, t)
    k = F.shape[1]
    return np.linalg.solve(A.T @ A + ridge * np.eye(k), A.T @ b)


def ridge_bound(F, index, t, ridge):
    A, _ = target_problem(F, index, t)
    H = A.T @ A + ridge * np.eye(F.shape[1])
    return 16 * F.shape[1] * U64 * np.linalg.cond(H)


@pytest.mark.parametrize("ridge", [1e-3, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_exact_solver_solves_the_ridge_normal_equations(seed, ridge):
    F, index, _ = setup(seed)
    F = 3.0 * F  # not orthonormal: as with ridge > 0 in complete
    X, _ = solve_targets(F, index, solver="exact", ridge=ridge)
    for t in range(N_TARGETS):
        reference = ridge_reference(F, index, t, ridge)
        bound = ridge_bound(F, index, t, ridge)
        assert np.linalg.norm(X[t] - reference) <= bound * max(np.linalg.norm(reference), 1e-300)
    assert np.all(X[index.counts == 0] == 0.0)


@pytest.mark.parametrize("sketch_size", [0, 4 * K])
@pytest.mark.parametrize("ridge", [1e-3, 0.5])
def test_the_sketched_solver_converges_to_the_ridge_solution(ridge, sketch_size):
    """``orthonormal=False`` and ``sketch_size = 0``: the shared preconditioner is the Cholesky
    factor of ``c F^T F + λ I``; with a per-target sketch, ``(S A)^T S A + λ I``."""
    F, index, _ = setup(5, sketch_size)
    F = 3.0 * F
    x0 = np.random.default_rng(5).standard_normal((N_TARGETS, K))
    X, _ = solve_targets(
        F, index, solver="sketch", ridge=ridge, x0=x0, sketch_size=sketch_size,
        orthonormal=False, inner_tol=1e-12, inner_maxiter=200, generator=Generator(5),
    )  # fmt: skip
    for t in range(N_TARGETS):
        reference = ridge_reference(F, index, t, ridge)
        bound = max(ridge_bound(F, index, t, ridge), 1e-13)
        assert np.linalg.norm(X[t] - reference) <= bound * max(np.linalg.norm(reference), 1e-300)


def test_an_unknown_solver_is_refused():
    F, index, _ = setup(0)
    with pytest.raises(ValueError, match="solver"):
        solve_targets(F, index, solver="cholesky")
