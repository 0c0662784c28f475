"""``lstsq`` options and inputs: ridge, weights, underdetermined problems, sparse and operator
``A``, ``x0``, callbacks, seeds, tolerances, the method choice, every array backend, and bad
input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from _lstsq_problems import conditioned, gaussian, lapack, lstsq_recording, relative

from sketchla._array import device, to_numpy
from sketchla.errors import ConvergenceWarning
from sketchla.lstsq import lstsq, lstsq_linf
from sketchla.random import Generator
from sketchla.sketch import FAMILIES
from sketchla.testing import assert_close, assert_equal, eps

TIGHT = 1e3 * eps("float64")  # well-conditioned float64 problems: a few hundred ulps


def scaled(n, d, seed, decades=2.0):
    """Gaussian with columns scaled over ``decades`` orders of magnitude (cond ~ 10**decades)."""
    A, b = gaussian(n, d, seed)
    return A * np.logspace(0, -decades, d), b


# -- ridge -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sketch_and_precondition", "gram_precondition"])
@pytest.mark.parametrize("damp", [1e-3, 0.3, 10.0, 300.0])
@pytest.mark.parametrize("k", [None, 2])
def test_ridge_matches_the_normal_equations(damp, k, method):
    n, d = 3000, 20
    A, b = scaled(n, d, seed=1)
    if k:
        b = np.column_stack([b, A @ np.ones(d)])
    result = lstsq(A, b, damp=damp, method=method, seed=0)
    assert result.method == method
    assert result.converged
    normal = A.T @ A + damp**2 * np.eye(d)
    x_ref = np.linalg.solve(normal, A.T @ b)
    # the normal equations lose cond(normal) * eps; the augmented LAPACK solve does not
    x_aug = lapack(
        np.vstack([A, damp * np.eye(d)]), np.concatenate([b, np.zeros((d, *b.shape[1:]))])
    )
    assert relative(result.x, x_aug) <= TIGHT * 100  # cond [A; damp I] <= 100
    assert relative(result.x, x_ref) <= 10 * eps("float64") * np.linalg.cond(normal)
    objective = np.sqrt(
        np.sum((A @ result.x - b) ** 2, axis=0) + damp**2 * np.sum(result.x**2, axis=0)
    )
    np.testing.assert_allclose(result.residual_norm, objective, rtol=1e-12)


def test_ridge_regularises_an_ill_conditioned_problem():
    A, b = conditioned(3000, 20, 1e10, seed=2)
    damp = 1e-4
    result = lstsq(A, b, damp=damp, seed=0)
    x_aug = lapack(np.vstack([A, damp * np.eye(20)]), np.concatenate([b, np.zeros(20)]))
    assert relative(result.x, x_aug) <= 1e-10  # cond of the damped problem <= 1e4
    assert np.linalg.norm(result.x) < np.linalg.norm(lapack(A, b))  # shrunk


# -- weights ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dense", "csr", "operator"])
def test_weights_equal_scaling_rows_by_their_square_roots(kind):
    n, d = 3000, 15
    A, b = scaled(n, d, seed=3)
    w = np.random.default_rng(3).uniform(0, 4, n)
    w[:100] = 0.0  # zero weights drop rows
    w[100:110] = 1e4  # and heavy ones dominate
    root = np.sqrt(w)
    x_ref = lapack(A * root[:, None], b * root)
    originals = (A.copy(), b.copy(), w.copy())
    M = {"dense": A, "csr": sp.csr_array(A), "operator": spla.aslinearoperator(A)}[kind]
    result = lstsq(M, b, weights=w, seed=0)
    assert relative(result.x, x_ref) <= TIGHT
    assert result.residual_norm == pytest.approx(
        np.linalg.norm(root * (A @ result.x - b)), rel=1e-12
    )
    # the caller's arrays are left alone
    for before, after in zip(originals, (A, b, w), strict=True):
        assert_equal(after, before)


def test_weights_with_ridge_and_several_right_hand_sides():
    n, d = 2500, 10
    A, b = scaled(n, d, seed=4)
    B = np.column_stack([b, -2 * b + 1])
    w = np.random.default_rng(4).uniform(0.5, 2, n)
    damp = 2.0
    result = lstsq(A, B, weights=w, damp=damp, seed=0)
    Aw = np.sqrt(w)[:, None] * A
    x_ref = np.linalg.solve(Aw.T @ Aw + damp**2 * np.eye(d), Aw.T @ (np.sqrt(w)[:, None] * B))
    assert relative(result.x, x_ref) <= TIGHT * 100


def test_unit_weights_change_nothing():
    A, b = gaussian(2000, 10, seed=5)
    assert_close(lstsq(A, b, weights=np.ones(2000), seed=1).x, lstsq(A, b, seed=1).x, ulps=64)


# -- underdetermined -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "d", "method", "sketch_size"),
    [
        (30, 400, "auto", None),
        (30, 400, "sketch_and_precondition", 150),
        (40, 3000, "auto", None),
        (40, 3000, "sketch_and_precondition", 400),
        (40, 3000, "direct", None),
    ],
    ids=str,
)
def test_underdetermined_gives_the_minimum_norm_solution(n, d, method, sketch_size):
    A, b = gaussian(d, n, seed=6)
    A, b = np.ascontiguousarray(A.T), b[:n]  # (n, d) with n < d
    result = lstsq(A, b, method=method, sketch_size=sketch_size, seed=0)
    assert result.converged
    if method != "auto":
        assert result.method == method
    x_ref = np.linalg.pinv(A) @ b
    assert relative(result.x, x_ref) <= TIGHT
    assert np.linalg.norm(A @ result.x - b) <= TIGHT * np.linalg.norm(b)
    assert result.residual_norm <= TIGHT * np.linalg.norm(b)


@pytest.mark.parametrize("method", ["sketch_and_precondition", "direct"])
def test_underdetermined_ridge_and_several_right_hand_sides(method):
    n, d, damp = 40, 2000, 3.0
    rng = np.random.default_rng(7)
    A, B = rng.standard_normal((n, d)), rng.standard_normal((n, 3))
    result = lstsq(A, B, damp=damp, method=method, seed=0, sketch_size=200)
    x_ref = A.T @ np.linalg.solve(A @ A.T + damp**2 * np.eye(n), B)
    assert result.x.shape == (d, 3)
    assert relative(result.x, x_ref) <= TIGHT
    objective = np.sqrt(np.sum((A @ x_ref - B) ** 2, axis=0) + damp**2 * np.sum(x_ref**2, axis=0))
    np.testing.assert_allclose(result.residual_norm, objective, rtol=1e-10)


def test_underdetermined_sparse_and_operator_agree_with_dense():
    A = sp.random_array((60, 2500), density=0.05, format="csr", rng=8)
    b = np.random.default_rng(8).standard_normal(60)
    x_ref = np.linalg.pinv(A.toarray()) @ b
    for M in (A, A.tocsc(), spla.aslinearoperator(A), A.toarray()):
        result = lstsq(M, b, method="sketch_and_precondition", sketch_size=300, seed=2)
        assert isinstance(result.x, np.ndarray)
        assert relative(result.x, x_ref) <= TIGHT, type(M).__name__


# -- sparse and operator input ---------------------------------------------------------------


def _sparse_problem(seed=9):
    A = sp.random_array((4000, 25), density=0.08, format="csr", rng=seed)
    A = (A @ sp.diags_array(np.logspace(0, -2, 25))).tocsr()
    return A, np.random.default_rng(seed).standard_normal(4000)


@pytest.mark.parametrize(
    "convert",
    [
        lambda A: A,
        lambda A: A.tocsc(),
        lambda A: A.tocoo(),
        lambda A: sp.csr_matrix(A),
        lambda A: sp.csc_matrix(A),
        spla.aslinearoperator,
        lambda A: spla.LinearOperator(A.shape, matvec=lambda x: A @ x, rmatvec=lambda y: A.T @ y),
    ],
    ids=["csr", "csc", "coo", "csr_matrix", "csc_matrix", "aslinearoperator", "matvec-only"],
)
@pytest.mark.parametrize("method", ["auto", "sketch_and_solve", "direct"])
def test_sparse_and_operator_input_agree_with_dense(convert, method):
    A, b = _sparse_problem()
    dense = lstsq(A.toarray(), b, method=method, seed=3)
    result = lstsq(convert(A), b, method=method, seed=3)
    assert isinstance(result.x, np.ndarray)
    assert result.x.dtype == np.float64
    if method == "auto":  # the Gram matrix is formed for dense A only
        assert (dense.method, result.method) == ("gram_precondition", "sketch_and_precondition")
    else:
        assert result.method == dense.method == method
    if method == "sketch_and_solve":  # the same sketch: the same answer up to rounding
        assert relative(result.x, dense.x) <= TIGHT
    else:
        assert result.converged
        assert relative(result.x, lapack(A.toarray(), b)) <= TIGHT
        assert relative(dense.x, lapack(A.toarray(), b)) <= TIGHT


def test_float32_sparse_stays_float32():
    A, b = _sparse_problem()
    result = lstsq(A.astype(np.float32), b.astype(np.float32), seed=0)
    assert result.x.dtype == np.float32
    # cond(A) ~ 90, large residual: measured 2.8e-7 = 2.3 eps32 against the float32 data's
    # LAPACK solution
    x_ref = lapack(A.astype(np.float32).toarray(), b.astype(np.float32))
    assert relative(result.x, x_ref) <= 100 * eps("float32")


# -- x0 and callback -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sketch_and_precondition", "gram_precondition"])
def test_x0_at_the_solution_needs_at_most_a_step_or_two(method):
    A, b = scaled(3000, 20, seed=10)
    x_ref = lapack(A, b)
    cold = lstsq(A, b, method=method, seed=0)
    warm = lstsq(A, b, x0=x_ref, method=method, seed=0)
    assert warm.iterations <= 2
    if method == "sketch_and_precondition":  # (the Gram route's cold start is as close)
        assert warm.iterations < cold.iterations
    assert relative(warm.x, x_ref) <= TIGHT
    assert warm.residual_norms[0] == pytest.approx(np.linalg.norm(A @ x_ref - b), rel=1e-12)


@pytest.mark.parametrize("x0", ["zeros", "far", "very-far", "float32", "list"])
def test_x0_anywhere_converges_to_the_same_answer(x0):
    A, b = scaled(3000, 20, seed=11)
    start = {
        "zeros": np.zeros(20),
        "far": np.full(20, 1e3),
        # ||x0|| ~ 5e5 ||x*||: a stall test on ||step|| / ||x|| gave up here after 7 steps
        "very-far": np.full(20, 1e6),
        "float32": np.ones(20, dtype=np.float32),
        "list": [1.0] * 20,
    }[x0]
    result = lstsq(A, b, x0=start, seed=0)
    assert result.converged
    assert result.x.dtype == np.float64
    assert relative(result.x, lapack(A, b)) <= TIGHT


def test_x0_for_several_right_hand_sides():
    A, b = scaled(3000, 20, seed=12)
    B = np.column_stack([b, 2 * b])
    X_ref = lapack(A, B)
    result = lstsq(A, B, x0=X_ref + 1e-3, seed=0)
    assert relative(result.x, X_ref) <= TIGHT


@pytest.mark.parametrize(
    ("shape", "k", "method"),
    [
        ((3000, 20), None, "sketch_and_precondition"),
        ((3000, 20), 3, "sketch_and_precondition"),
        ((3000, 20), None, "gram_precondition"),
        ((3000, 20), 3, "gram_precondition"),
        ((30, 500), None, "sketch_and_precondition"),
        ((3000, 20), None, "sketch_and_solve"),
        ((3000, 20), None, "direct"),
    ],
    ids=str,
)
def test_callback_is_called_once_per_iteration_with_x(shape, k, method):
    n, d = shape
    rng = np.random.default_rng(13)
    A = rng.standard_normal((n, d))
    b = rng.standard_normal(n if k is None else (n, k))
    seen = []
    result = lstsq(
        A, b, method=method, seed=0, sketch_size=150 if n < d else None, callback=seen.append
    )
    assert len(seen) == result.iterations
    assert len(result.residual_norms) == result.iterations + 1
    for x in seen:
        assert isinstance(x, np.ndarray)
        assert x.shape == result.x.shape
    if seen:
        assert_equal(seen[-1], result.x)  # the last iterate is the answer
    if len(seen) > 2:  # and the iterates approach it
        assert relative(seen[0], result.x) > relative(seen[-2], result.x)
    if method == "sketch_and_precondition":  # (the Gram factor of a kappa ~ 1 matrix can be
        assert result.iterations > 0  # exact to rounding at once: 0 steps on some CPUs)


def test_callback_exceptions_propagate():
    A, b = gaussian(3000, 10, seed=14)

    def stop(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lstsq(A, b, seed=0, callback=stop)


# -- seeds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sketch", ["saso", "gaussian", "srht", "countsketch"])
def test_same_seed_same_x_other_seed_same_answer(sketch):
    A, b = scaled(3000, 20, seed=15)
    first = lstsq(A, b, sketch=sketch, seed=21)
    assert_equal(lstsq(A, b, sketch=sketch, seed=21).x, first.x)
    other = lstsq(A, b, sketch=sketch, seed=22)
    assert relative(other.x, first.x) <= TIGHT
    # sketch-and-solve shows the sketches differ
    s1 = lstsq(A, b, method="sketch_and_solve", sketch=sketch, seed=21).x
    s2 = lstsq(A, b, method="sketch_and_solve", sketch=sketch, seed=22).x
    assert relative(s1, s2) > 1e-6


def test_generator_seeds_advance_and_none_is_fresh():
    A, b = scaled(3000, 20, seed=16)
    g = Generator(5)
    a1 = lstsq(A, b, method="sketch_and_solve", seed=g).x
    a2 = lstsq(A, b, method="sketch_and_solve", seed=g).x
    assert not np.array_equal(a1, a2)
    assert_equal(lstsq(A, b, method="sketch_and_solve", seed=Generator(5)).x, a1)
    assert relative(lstsq(A, b, seed=None).x, lapack(A, b)) <= TIGHT


@pytest.mark.parametrize("sketch", sorted(FAMILIES))
def test_every_sketch_family_preconditions_to_full_accuracy(sketch):
    A, b = scaled(2500, 12, seed=17, decades=4)
    result = lstsq(A, b, sketch=sketch, seed=1)
    assert result.converged
    assert relative(result.x, lapack(A, b)) <= 10 * eps("float64") * 1e4


# -- tol, maxiter, method choice -------------------------------------------------------------


@pytest.mark.parametrize("method", ["sketch_and_precondition", "gram_precondition"])
@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-10])
def test_tol_is_lsqr_stopping_rule(tol, method):
    A, b = scaled(3000, 20, seed=18, decades=3)
    result = lstsq(A, b, tol=tol, method=method, seed=0)
    full = lstsq(A, b, method=method, seed=0)
    assert result.converged
    if method == "sketch_and_precondition":  # (the Gram route needs a step or two anyway)
        assert result.iterations < full.iterations
    r = b - A @ result.x
    # ||A^T r|| <= tol ||A|| ||r||, with ||A|| estimated from the sketch (within 1 +- eps)
    assert np.linalg.norm(A.T @ r) <= 2 * tol * np.linalg.norm(A, 2) * np.linalg.norm(r)
    # and not far beyond it: the error is about kappa * tol
    assert relative(result.x, full.x) <= 1e4 * tol


def test_tol_stops_on_a_small_residual_too():
    A, _ = scaled(3000, 20, seed=19)
    b = A @ np.ones(20)  # consistent: ||r|| <= tol ||b|| ends it
    result = lstsq(A, b, tol=1e-8, seed=0)
    assert result.converged
    assert result.residual_norm <= 1e-8 * np.linalg.norm(b) or result.iterations == 0


def test_non_convergence_warns_and_says_so():
    A, b = scaled(3000, 20, seed=20, decades=4)
    with pytest.warns(ConvergenceWarning, match=r"lstsq stopped after 1 iterations"):
        result = lstsq(A, b, maxiter=1, tol=1e-15, method="sketch_and_precondition", seed=0)
    assert result.converged is False
    assert result.iterations == 1
    assert result.error_estimate > 1e-15
    with pytest.warns(ConvergenceWarning, match="estimated relative error"):
        result = lstsq(
            A, np.column_stack([b, b]), maxiter=2, method="sketch_and_precondition", seed=0
        )
    assert result.converged is False
    assert result.error_estimate.shape == (2,)


def test_maxiter_zero_is_not_convergence():
    A, b = scaled(3000, 20, seed=20, decades=4)
    result, caught = lstsq_recording(A, b, maxiter=0, method="sketch_and_precondition", seed=0)
    assert result.iterations == 0
    assert result.error_estimate > 1e-3  # far from the (default) tolerance
    assert not result.converged
    assert caught


@pytest.mark.parametrize(
    ("n", "kind", "expected"),
    [
        (79, "dense", "direct"),
        (80, "dense", "gram_precondition"),  # cheaper than a sketch at this size
        (79, "csr", "direct"),
        (80, "csr", "sketch_and_precondition"),
    ],
)
def test_auto_iterates_when_the_sketch_is_at_most_half_the_rows(n, kind, expected):
    # oversampling 4, d = 10: m = 40; iterating when 2 m <= n
    A, b = gaussian(n, 10, seed=21)
    result = lstsq(A if kind == "dense" else sp.csr_array(A), b, oversampling=4, seed=0)
    assert result.method == expected
    assert result.sketch_size == (40 if expected == "sketch_and_precondition" else 0)
    assert relative(result.x, lapack(A, b)) <= TIGHT


def test_direct_results():
    A, b = scaled(500, 20, seed=22, decades=3)
    result = lstsq(A, b, method="direct")
    assert (result.method, result.sketch_size, result.iterations, result.converged) == (
        "direct",
        0,
        0,
        True,
    )
    assert result.rank == 20
    assert len(result.residual_norms) == 1
    assert result.condition_estimate == pytest.approx(np.linalg.cond(A), rel=1e-8)
    assert relative(result.x, lapack(A, b)) <= TIGHT * 10


def test_square_systems_are_solved():
    A, b = gaussian(40, 40, seed=23)
    assert relative(lstsq(A, b).x, np.linalg.solve(A, b)) <= 1e-11


def test_sketch_size_equal_to_d_is_accepted():
    A, b = gaussian(3000, 20, seed=24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # m = d is a poor sketch
        result = lstsq(A, b, sketch_size=20, seed=0)
    assert np.all(np.isfinite(result.x))


@pytest.mark.parametrize("options", [{"oversampling": 2}, {"sketch_size": 5}], ids=str)
def test_small_sketches_with_the_default_family(options):
    A, b = gaussian(400, 2, seed=31)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a 4-row sketch is a poor one
        result = lstsq(A, b, seed=0, **options)
    assert np.all(np.isfinite(result.x))


def test_integer_and_mixed_dtypes_promote_to_float64():
    rng = np.random.default_rng(25)
    A = rng.integers(-5, 6, (2000, 6))
    b = rng.integers(-5, 6, 2000)
    result = lstsq(A, b, seed=0)
    assert result.x.dtype == np.float64
    assert relative(result.x, lapack(A, b)) <= TIGHT
    mixed = lstsq(A.astype(np.float32), b.astype(np.float64), seed=0)
    assert mixed.x.dtype == np.float64


# -- every backend ---------------------------------------------------------------------------


def _tolerance(dtype):
    """cond(A) ~ 100 below; measured: at most 17 eps between backends, and from LAPACK."""
    return 200 * eps(dtype)


@pytest.mark.parametrize("method", ["auto", "sketch_and_solve", "direct"])
def test_every_backend_returns_its_own_arrays(backend, dtype, method):
    A, b = scaled(2000, 10, seed=26)
    A, b = A.astype(dtype), b.astype(dtype)
    result = lstsq(backend.asarray(A), backend.asarray(b), method=method, seed=4)
    like = backend.asarray(b)
    assert type(result.x) is type(like)
    assert result.x.dtype == backend.dtype(dtype)
    assert device(result.x) == device(like)
    assert tuple(result.x.shape) == (10,)
    assert isinstance(result.residual_norm, float)
    reference = lstsq(A, b, method=method, seed=4)
    assert result.method == reference.method
    assert result.iterations == pytest.approx(reference.iterations, abs=3)
    assert relative(to_numpy(result.x), reference.x) <= _tolerance(dtype)
    if method != "sketch_and_solve":
        assert relative(to_numpy(result.x), lapack(A, b)) <= _tolerance(dtype)


def test_every_backend_with_options(backend):
    n, d = 2000, 10
    A, b = scaled(n, d, seed=27)
    B = np.column_stack([b, A @ np.ones(d)])
    w = np.random.default_rng(27).uniform(0.5, 2.0, n)
    seen = []
    result = lstsq(
        backend.asarray(A),
        backend.asarray(B),
        weights=backend.asarray(w),
        damp=0.5,
        x0=backend.asarray(np.zeros((d, 2))),
        callback=seen.append,
        seed=0,
    )
    like = backend.asarray(B)
    assert type(result.x) is type(like)
    assert tuple(result.x.shape) == (d, 2)
    assert type(result.residual_norm) is type(like)
    assert tuple(result.residual_norm.shape) == (2,)
    assert type(result.error_estimate) is type(like)
    assert len(seen) == result.iterations
    Aw = np.sqrt(w)[:, None] * A
    x_ref = np.linalg.solve(Aw.T @ Aw + 0.25 * np.eye(d), Aw.T @ (np.sqrt(w)[:, None] * B))
    assert relative(to_numpy(result.x), x_ref) <= TIGHT


def test_callback_sees_the_backend_s_arrays(backend):
    A, b = scaled(2000, 10, seed=27)
    seen = []
    lstsq(
        backend.asarray(A),
        backend.asarray(b),
        method="sketch_and_precondition",
        seed=0,
        callback=seen.append,
    )
    assert seen
    like = backend.asarray(b)
    assert all(type(x) is type(like) for x in seen), {type(x).__name__ for x in seen}
    assert all(device(x) == device(like) for x in seen)


def test_every_backend_underdetermined(backend):
    rng = np.random.default_rng(28)
    A, b = rng.standard_normal((30, 600)), rng.standard_normal(30)
    result = lstsq(
        backend.asarray(A),
        backend.asarray(b),
        method="sketch_and_precondition",
        sketch_size=120,
        seed=0,
    )
    assert type(result.x) is type(backend.asarray(b))
    assert relative(to_numpy(result.x), np.linalg.pinv(A) @ b) <= TIGHT


def test_mixing_backends_is_refused():
    torch = pytest.importorskip("torch")
    A, b = gaussian(200, 3, seed=29)
    with pytest.raises(TypeError, match="b is a numpy array but xp=torch"):
        lstsq(torch.asarray(A), b)


# -- bad input -------------------------------------------------------------------------------

_A, _b = gaussian(500, 5, seed=30)


def _with(array, index, value):
    array = array.copy()
    array[index] = value
    return array


def _sparse_with_inf():
    A = sp.csr_array(_A)
    A.data[7] = np.inf
    return A


BAD_INPUT = [
    (
        lambda: lstsq(_A, _b[:-1]),
        ValueError,
        r"b must have as many rows as A: A has shape \(500, 5\)",
    ),
    (lambda: lstsq(_A, _b.reshape(500, 1, 1)), ValueError, "b must be 1-D or 2-D"),
    (lambda: lstsq(_b, _b), ValueError, "A must be 2-D"),
    (lambda: lstsq(np.ones((0, 3)), np.ones(0)), ValueError, "at least one row and one column"),
    (lambda: lstsq(_A * 1j, _b), TypeError, "A must be real"),
    (lambda: lstsq(_with(_A, (3, 2), np.nan), _b, seed=0), ValueError, "A must hold only finite"),
    (
        lambda: lstsq(_with(_A, (3, 2), np.inf), _b, method="direct"),
        ValueError,
        "A must hold only finite",
    ),
    (
        lambda: lstsq(_with(_A, (3, 2), -np.inf), _b, method="sketch_and_solve", sketch_size=50),
        ValueError,
        "A must hold only finite",
    ),
    (lambda: lstsq(_sparse_with_inf(), _b, seed=0), ValueError, "A must hold only finite"),
    (lambda: lstsq(_sparse_with_inf(), _b, method="direct"), ValueError, "A must hold only finite"),
    (
        lambda: lstsq(spla.aslinearoperator(_with(_A, (3, 2), np.nan)), _b, seed=0),
        ValueError,
        "A must hold only finite",
    ),
    (
        lambda: lstsq(
            _with(_A, (3, 2), np.nan).T.copy(),
            _b[:5],
            method="sketch_and_precondition",
            sketch_size=20,
        ),
        ValueError,
        "A must hold only finite",
    ),
    (lambda: lstsq(_A, _with(_b, 4, np.nan)), ValueError, "b must hold only finite"),
    (lambda: lstsq(sp.csr_array(_A), _with(_b, 4, np.inf)), ValueError, "b must hold only finite"),
    (lambda: lstsq(_A, _b, tol=0), ValueError, r"tol must be in \(0, 1\), got 0"),
    (lambda: lstsq(_A, _b, tol=1.0), ValueError, r"tol must be in \(0, 1\), got 1.0"),
    (lambda: lstsq(_A, _b, tol=-1e-3), ValueError, r"tol must be in \(0, 1\)"),
    (lambda: lstsq(_A, _b, tol=float("nan")), ValueError, r"tol must be in \(0, 1\)"),
    (lambda: lstsq(_A, _b, tol="1e-3"), TypeError, "tol must be a positive number or None"),
    (lambda: lstsq(_A, _b, maxiter=-1), ValueError, "maxiter must be an integer >= 0, got -1"),
    (lambda: lstsq(_A, _b, maxiter=2.0), TypeError, "maxiter must be an integer"),
    (
        lambda: lstsq(_A, _b, method="qr"),
        ValueError,
        "method must be one of auto, sketch_and_solve",
    ),
    (lambda: lstsq(_A, _b, sketch="fft"), ValueError, "sketch must be one of"),
    (
        lambda: lstsq(_A, _b, sketch_size=4),
        ValueError,
        r"sketch_size must be at least min\(n, d\) = 5",
    ),
    (lambda: lstsq(_A, _b, sketch_size=0), ValueError, "sketch_size must be an integer >= 1"),
    (lambda: lstsq(_A, _b, sketch_size=20.0), TypeError, "sketch_size must be an integer"),
    (
        lambda: lstsq(_A, _b, sketch_size=501, method="sketch_and_precondition"),
        ValueError,
        r"the sketch must have at most max\(n, d\) = 500 rows, got 501",
    ),
    (
        lambda: lstsq(_A, _b, sketch_size=501, method="sketch_and_solve"),
        ValueError,
        r"at most max\(n, d\) = 500 rows",
    ),
    (
        lambda: lstsq(_A.T.copy(), _b[:5], sketch_size=501, method="sketch_and_precondition"),
        ValueError,
        r"at most max\(n, d\) = 500 rows",
    ),
    (lambda: lstsq(_A, _b, oversampling=1), ValueError, "oversampling must be a finite number > 1"),
    (
        lambda: lstsq(_A, _b, oversampling=0.5),
        ValueError,
        "oversampling must be a finite number > 1",
    ),
    (
        lambda: lstsq(_A, _b, oversampling=float("inf")),
        ValueError,
        "oversampling must be a finite number > 1",
    ),
    (lambda: lstsq(_A, _b, oversampling="4"), TypeError, "oversampling must be a number > 1"),
    (lambda: lstsq(_A, _b, oversampling=4, sketch_size=40), TypeError, "not both"),
    (lambda: lstsq(_A, _b, damp=-1.0), ValueError, "damp must be a non-negative finite number"),
    (lambda: lstsq(_A, _b, damp=float("inf")), ValueError, "damp must be a non-negative finite"),
    (lambda: lstsq(_A, _b, damp="1"), TypeError, "damp must be a non-negative real number"),
    (
        lambda: lstsq(_A, _b, weights=_with(np.ones(500), 9, -1.0)),
        ValueError,
        "weights must be non-negative",
    ),
    (lambda: lstsq(_A, _b, weights=np.ones(499)), ValueError, "weights must have length 500"),
    (lambda: lstsq(_A, _b, weights=np.ones((500, 1))), ValueError, "weights must be 1-D"),
    (
        lambda: lstsq(_A, _b, weights=_with(np.ones(500), 0, np.nan)),
        ValueError,
        "weights must hold only finite",
    ),
    (lambda: lstsq(_A, _b, x0=np.zeros(4)), ValueError, r"x0 must have shape \(5,\), got \(4,\)"),
    (
        lambda: lstsq(_A, np.ones((500, 2)), x0=np.zeros(5)),
        ValueError,
        r"x0 must have shape \(5, 2\), got \(5,\)",
    ),
    (lambda: lstsq(_A, _b, x0=np.full(5, np.inf)), ValueError, "x0 must hold only finite"),
    (
        lambda: lstsq(_A.T.copy(), _b[:5], x0=np.zeros(500)),
        ValueError,
        r"x0 is supported for overdetermined problems \(n >= d\) only",
    ),
    (lambda: lstsq(_A, _b, callback=3), TypeError, "callback must be callable, got 3"),
    (lambda: lstsq(_A, _b, rcond=1.5), ValueError, r"rcond must be a number in \[0, 1\)"),
    (lambda: lstsq(_A, _b, seed=-1), ValueError, "seed must be a non-negative int"),
    (lambda: lstsq(np.zeros((500, 5)), _b, seed=0), ValueError, "A is zero to working precision"),
    (
        lambda: lstsq_linf(_A, _b, eps=0.5, delta=0.1, sketch="countsketch"),
        ValueError,
        r"sketch must be one of srht, gaussian \(dense sketches",
    ),
    (
        lambda: lstsq_linf(_A, _b, eps=0.5, delta=0.1, sketch="saso"),
        ValueError,
        "sketch must be one of",
    ),
    (
        lambda: lstsq_linf(_A[:5], _b[:5], eps=0.5, delta=0.1),
        ValueError,
        r"needs a tall A \(n > d\)",
    ),
    (lambda: lstsq_linf(_A.T.copy(), _b[:5], eps=0.5, delta=0.1), ValueError, "needs a tall A"),
    (lambda: lstsq_linf(_b, _b, eps=0.5, delta=0.1), ValueError, "A must be 2-D"),
    (lambda: lstsq_linf(_A, _b, eps=0, delta=0.1), ValueError, r"eps must be in \(0, 1\], got 0"),
    (lambda: lstsq_linf(_A, _b, eps=1.5, delta=0.1), ValueError, r"eps must be in \(0, 1\]"),
    (
        lambda: lstsq_linf(_A, _b, eps=float("nan"), delta=0.1),
        ValueError,
        r"eps must be in \(0, 1\]",
    ),
    (lambda: lstsq_linf(_A, _b, eps=0.5, delta=0), ValueError, r"delta must be in \(0, 1\), got 0"),
    (lambda: lstsq_linf(_A, _b, eps=0.5, delta=1), ValueError, r"delta must be in \(0, 1\)"),
    (
        lambda: lstsq_linf(_A, _b, eps=0.5, delta=0.1, c=0),
        ValueError,
        "c must be a positive finite",
    ),
    (
        lambda: lstsq_linf(_A, _b, eps=0.5, delta=0.1, c=-1),
        ValueError,
        "c must be a positive finite",
    ),
    (
        lambda: lstsq_linf(_A, _b, eps=0.5, delta=0.1, c=float("inf")),
        ValueError,
        "c must be a positive finite",
    ),
    (lambda: lstsq_linf(_A, _b, eps="0.5", delta=0.1), TypeError, "eps must be a real number"),
    (lambda: lstsq_linf(_A, _b, eps=0.5, delta=True), TypeError, "delta must be a real number"),
    (
        lambda: lstsq_linf(_A, _with(_b, 0, np.nan), eps=1.0, delta=0.1, c=0.01),
        ValueError,
        "b must hold only finite",
    ),
    (
        lambda: lstsq_linf(_with(_A, (3, 2), np.nan), _b, eps=1.0, delta=0.1, c=0.01),
        ValueError,
        "A must hold only finite",
    ),
    (
        lambda: lstsq_linf(_with(_A, (3, 2), np.nan), _b, eps=0.5, delta=0.1),  # m >= n: direct
        ValueError,
        "A must hold only finite",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_INPUT)
def test_bad_input_gets_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("method", ["direct", "auto"])
def test_nonfinite_operator_on_the_direct_route(method):
    A = spla.aslinearoperator(_with(_A[:40], (3, 2), np.nan))
    with pytest.raises(ValueError, match="A must hold only finite"):
        lstsq(A, _b[:40], method=method)
