"""The numba half-step kernels (``sketchla._array.kernels._altmin_numba``) against their
portable Array-API references (``sketchla._array.kernels.altmin``), run on NumPy.

Both solve the same per-target problems in float64 by different routes: numba by a Cholesky
factorization of each ``k x k`` normal matrix, the portable kernel by a batched ``pinv`` of it.
Two backward-stable solves of one system agree to ``cond(H) u`` relative, times a modest
constant for forming ``H`` (``16 k``): the bound ``normal_equations_bound`` computes per target.
The robust kernels share the hashes passed to them and the stopping rule, so on a target where
they take the same number of conjugate-gradient steps they do the same arithmetic in a different
order; they apply the preconditioner ``P`` differently (Cholesky solves against an explicit
``pinv``), relative differences up to ``cond(P) u`` that the CG recurrences may amplify by up to
about the preconditioned condition number ``κ``: ``64 k u cond(P) κ``.
"""

from __future__ import annotations

import numba
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

from sketchla._array import namespace_for
from sketchla._array.kernels import _altmin_numba as numba_kernels
from sketchla._array.kernels import implementations, kernel
from sketchla.random import Generator

XP = namespace_for("numpy")
P, K, N_TARGETS = 200, 4, 70


def problem(seed: int, scale: float = 3.0):
    """A scaled orthonormal factor (not orthonormal, so the ridge matters) and targets with
    0 to 60 observations, the first ones empty, one, ``k - 1`` and ``k``."""
    F = scale * orthonormal_factor(P, K, seed)
    counts = np.random.default_rng(seed).integers(0, 61, size=N_TARGETS)
    counts[:4] = [0, 1, K - 1, K]
    index = target_index(P, counts, seed)
    return F, index


def hashes(seed: int, s: int, n_obs: int):
    """A CountSketch's buckets and signs, drawn as ``solve_targets`` draws them (none for
    ``s = 0``)."""
    if s == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    g = Generator(seed)
    return g.integers(s, shape=n_obs, dtype=np.int64), g.signs(n_obs)


def test_numpy_uses_the_numba_kernels():
    for name in ("altmin_exact", "altmin_robust", "entries_of_product"):
        assert kernel(name, XP) is getattr(numba_kernels, name)
        assert set(implementations(name)) == {"numpy", "portable"}


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_kernels_agree(seed, ridge):
    F, index = problem(seed)
    impl = implementations("altmin_exact")
    fast, status = impl["numpy"](F, index.ptr, index.positions, index.values, ridge)
    slow, slow_status = impl["portable"](F, index.ptr, index.positions, index.values, ridge, xp=XP)
    assert fast.dtype == slow.dtype == np.float64
    assert not slow_status.any()  # pinv handles the singular ones itself
    # numba flags exactly the singular normal matrices (nonempty, fewer than k observations),
    # only when there is no ridge, and leaves them for the caller
    singular = (index.counts > 0) & (index.counts < K) & (ridge == 0)
    np.testing.assert_array_equal(status.astype(bool), singular)
    assert np.all(fast[status == 1] == 0.0)
    assert np.all(fast[index.counts == 0] == 0.0)
    assert np.all(slow[index.counts == 0] == 0.0)
    for t in range(N_TARGETS):
        A, b = target_problem(F, index, t)
        if status[t] or A.shape[0] == 0:
            continue
        H = A.T @ A + ridge * np.eye(K)
        bound = 16 * K * U64 * np.linalg.cond(H)
        assert np.linalg.norm(fast[t] - slow[t]) <= bound * np.linalg.norm(slow[t]), t
    # the portable kernel's pinv gives the minimum-norm solution where numba flags one
    for t in np.flatnonzero(status):
        A, b = target_problem(F, index, t)
        np.testing.assert_allclose(slow[t], minimum_norm(A, b, K), rtol=1e-10, atol=0)


def _robust_pair(F, index, ridge, x0, s, tol, maxiter, seed):
    buckets, signs = hashes(seed, s, index.positions.shape[0])
    impl = implementations("altmin_robust")
    args = (F, index.ptr, index.positions, index.values, ridge, x0, buckets, signs, s)
    fast = impl["numpy"](*args, np.zeros((0, 0)), tol, maxiter)
    slow = impl["portable"](*args, np.zeros((0, 0)), tol, maxiter, xp=XP)
    return fast, slow


@pytest.mark.parametrize(("inner_tol", "inner_maxiter"), [(0.3, 2), (0.1, 20), (1e-3, 20)])
@pytest.mark.parametrize("ridge", [0.0, 0.3])
@pytest.mark.parametrize("seed", [0, 1])
def test_robust_kernels_take_the_same_steps_to_the_same_iterates(
    seed, ridge, inner_tol, inner_maxiter
):
    s = 4 * K
    F, index = problem(seed)
    x0 = np.random.default_rng(seed + 1).standard_normal((N_TARGETS, K))
    (fast, status, fast_steps), (slow, _, slow_steps) = _robust_pair(
        F, index, ridge, x0, s, inner_tol, inner_maxiter, seed
    )
    assert fast_steps.dtype == slow_steps.dtype == np.int32
    small = index.counts <= s
    assert np.all(fast_steps[small] == 0)
    assert np.all(slow_steps[small] == 0)
    assert np.all(fast_steps[~small] >= 1)
    # a stopping test that compares two rounded numbers may flip on a rare target
    same = fast_steps == slow_steps
    assert same.mean() >= 0.95
    buckets, signs = hashes(seed, s, index.positions.shape[0])
    for t in np.flatnonzero(same & (status == 0) & ~small):
        A, _ = target_problem(F, index, t)
        lo, hi = index.ptr[t], index.ptr[t + 1]
        H = A.T @ A + ridge * np.eye(K)
        P_t = sketched_gram(A, buckets[lo:hi], signs[lo:hi], s) + ridge * np.eye(K)
        eigenvalues = scipy.linalg.eigh(H, P_t)[0]
        kappa = eigenvalues[-1] / eigenvalues[0]
        # Cholesky solves and an explicit pinv apply P^-1 with relative differences up to
        # cond(P) u; CG's recurrences carry such a perturbation of the preconditioned gradient
        # into the iterate amplified by up to about kappa (measured: at most 15 cond(P) kappa u)
        bound = 64 * K * U64 * np.linalg.cond(P_t) * kappa
        scale = np.linalg.norm(slow[t]) + np.linalg.norm(x0[t])
        assert np.linalg.norm(fast[t] - slow[t]) <= bound * scale, t
    for t in np.flatnonzero(small & (status == 0) & (index.counts > 0)):  # solved exactly
        A, _ = target_problem(F, index, t)
        bound = 16 * K * U64 * np.linalg.cond(A.T @ A + ridge * np.eye(K))
        assert np.linalg.norm(fast[t] - slow[t]) <= bound * np.linalg.norm(slow[t]), t
    assert np.all(fast[index.counts == 0] == 0.0)
    assert np.all(slow[index.counts == 0] == 0.0)


@pytest.mark.parametrize("ridge", [0.0, 0.3])
@pytest.mark.parametrize("seed", [0, 1])
def test_robust_kernels_agree_on_the_exact_solution_when_run_to_convergence(seed, ridge):
    s = 4 * K
    F, index = problem(seed)
    x0 = np.random.default_rng(seed + 1).standard_normal((N_TARGETS, K))
    (fast, status, _), (slow, _, _) = _robust_pair(F, index, ridge, x0, s, 1e-14, 200, seed)
    for t in range(N_TARGETS):
        A, b = target_problem(F, index, t)
        if status[t] or A.shape[0] == 0:
            continue
        exact = np.linalg.solve(A.T @ A + ridge * np.eye(K), A.T @ b)
        bound = max(normal_equations_bound(A), 1e-13)
        assert np.linalg.norm(fast[t] - exact) <= bound * np.linalg.norm(exact), t
        assert np.linalg.norm(slow[t] - exact) <= bound * np.linalg.norm(exact), t


def test_the_portable_robust_kernel_takes_the_numba_kernels_arguments():
    s = 4 * K
    F, index = problem(0)
    x0 = np.zeros((N_TARGETS, K))
    buckets, signs = hashes(0, s, index.positions.shape[0])
    impl = implementations("altmin_robust")
    args = (F, index.ptr, index.positions, index.values, 0.0, x0, buckets, signs, s)
    args += (np.zeros((0, 0)), 1e-3, 20)
    fast = impl["numpy"](*args)
    slow = impl["portable"](*args, xp=XP)
    solved = fast[1] == 0  # (the numba kernel flags singular targets for the caller's lstsq)
    assert solved.any()
    np.testing.assert_allclose(slow[0][solved], fast[0][solved], rtol=1e-10)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_entries_of_product_kernels_agree_with_the_dense_product(k):
    rng = np.random.default_rng(k)
    U, V = rng.standard_normal((50, k)), rng.standard_normal((40, k))
    rows, cols = rng.integers(0, 50, 500), rng.integers(0, 40, 500)
    impl = implementations("entries_of_product")
    fast = impl["numpy"](U, V, rows, cols)
    slow = impl["portable"](U, V, rows, cols, xp=XP)
    expected = (U @ V.T)[rows, cols]
    # a k-term dot product: |error| <= k u sum_c |U_ic V_jc|
    bound = k * U64 * (np.abs(U)[rows] * np.abs(V)[cols]).sum(axis=1) * 2
    assert np.all(np.abs(fast - expected) <= bound)
    assert np.all(np.abs(slow - expected) <= bound)
    empty = np.zeros(0, dtype=np.int64)
    assert impl["numpy"](U, V, empty, empty).shape == (0,)
    assert impl["portable"](U, V, empty, empty, xp=XP).shape == (0,)


def test_the_numba_kernels_do_not_depend_on_the_number_of_threads():
    """Each target is solved by one thread alone, so the threaded compilation (taken above
    ``SERIAL_WORK`` multiply-adds with more than one thread) and the serial one agree: the exact
    kernel and the entries to the bit, the robust one to the same steps and to rounding."""
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    if threads < 2:
        pytest.skip("numba has one thread here")
    # enough observations that every kernel's work exceeds SERIAL_WORK
    n_targets = 2 * numba_kernels.SERIAL_WORK // (30 * K) + 1
    F = 3.0 * orthonormal_factor(P, K, 2)
    index = target_index(P, np.random.default_rng(2).integers(0, 61, size=n_targets), 2)
    n_obs = index.positions.shape[0]
    assert n_obs * K >= numba_kernels.SERIAL_WORK
    x0 = np.random.default_rng(3).standard_normal((n_targets, K))
    buckets, signs = hashes(2, 4 * K, n_obs)
    rows, cols = index.positions, np.minimum(index.positions, n_targets - 1)

    def run():
        exact = numba_kernels.altmin_exact(F, index.ptr, index.positions, index.values, 0.1)
        robust = numba_kernels.altmin_robust(
            F, index.ptr, index.positions, index.values, 0.1, x0, buckets, signs, 4 * K,
            np.zeros((0, 0)), 1e-3, 20,
        )  # fmt: skip
        return exact, robust, numba_kernels.entries_of_product(F, x0, rows, cols)

    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run()
        numba.set_num_threads(threads)
        many = run()
    finally:
        numba.set_num_threads(previous)
    for a, b in zip(one[0], many[0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(one[2], many[2])
    (x_one, status_one, steps_one), (x_many, status_many, steps_many) = one[1], many[1]
    np.testing.assert_array_equal(status_one, status_many)
    assert np.mean(steps_one == steps_many) >= 0.99
    same = steps_one == steps_many
    np.testing.assert_allclose(x_one[same], x_many[same], rtol=0, atol=1e-10 * np.abs(x_one).max())


def test_the_robust_kernel_gives_the_same_bits_on_every_call():
    rng = np.random.default_rng(0)
    held = []  # allocations of varying sizes between the calls, as in any program
    for k in (4, 5, 8):
        F = 3.0 * orthonormal_factor(P, k, 0)
        index = target_index(P, np.random.default_rng(0).integers(0, 61, size=N_TARGETS), 0)
        x0 = np.random.default_rng(1).standard_normal((N_TARGETS, k))
        for s in (0, 4 * k):
            buckets, signs = hashes(0, s, index.positions.shape[0])
            args = (F, index.ptr, index.positions, index.values, 0.0, x0, buckets, signs, s)
            args += (np.zeros((0, 0)), 0.3, 20)
            first = numba_kernels.altmin_robust(*args)[0]
            for _ in range(300):
                held.append(np.empty(int(rng.integers(1, 50))))
                np.testing.assert_array_equal(numba_kernels.altmin_robust(*args)[0], first)
