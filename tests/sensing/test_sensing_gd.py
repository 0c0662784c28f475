"""Gradient descent for sensing: the steps are gradient steps of the stated losses (central
differences and Torch autodiff), the one-step rebalancing keeps the product, recovery, stopping
and warnings, backends, and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sketchla._array import array_namespace, backend_name, to_numpy
from sketchla.errors import ConvergenceWarning, SketchlaWarning
from sketchla.sensing import (
    GaussianMeasurements,
    RankOneMeasurements,
    asymmetric_gd,
    planted_low_rank,
    rebalance,
    run_sensing_experiment,
    symmetric_gd,
)


def _problem(shape=(8, 8), m=120, r=2, symmetric=True, seed=0, kind=GaussianMeasurements):
    M = planted_low_rank(shape, r, symmetric=symmetric, seed=seed)
    A = kind(shape, m, seed=seed + 1)
    return A, A(M), M


def _symmetric_loss(A, y, X):
    return 0.5 * np.sum((A(X @ X.T) - y) ** 2)


def _asymmetric_loss(A, y, F, G):
    return 0.5 * np.sum((A(F @ G.T) - y) ** 2)


def _central_differences(f, X, h=1e-6):
    grad = np.zeros_like(X)
    for index in np.ndindex(X.shape):
        E = np.zeros_like(X)
        E[index] = h
        grad[index] = (f(X + E) - f(X - E)) / (2 * h)
    return grad


def _first_step(solver, A, y, k, step, **starts):
    """The factors after one step from the given start (captured by the callback)."""
    seen = []
    solver(A, y, k, step=step, maxiter=1, tol=0.0, callback=lambda t, f: seen.append(f), **starts)
    return seen[0]


@pytest.mark.parametrize("kind", [GaussianMeasurements, RankOneMeasurements])
def test_symmetric_step_is_the_gradient(kind):
    """(X0 - X1) / step equals the gradient of 1/2 ||A(X X^T) - y||^2 by central differences
    (error O(h^2) times the third derivative: 1e-6 relative at h = 1e-6 here)."""
    A, y, _ = _problem(kind=kind)
    X0 = np.random.default_rng(3).standard_normal((8, 3))
    (X1,) = _first_step(symmetric_gd, A, y, 3, 0.01, X0=X0)
    gradient = (X0 - X1) / 0.01
    numeric = _central_differences(lambda X: _symmetric_loss(A, y, X), X0)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())


@pytest.mark.parametrize("kind", [GaussianMeasurements, RankOneMeasurements])
def test_asymmetric_step_is_the_gradient(kind):
    A, y, _ = _problem(shape=(7, 5), symmetric=False, kind=kind)
    rng = np.random.default_rng(4)
    F0, G0 = rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
    F1, G1 = _first_step(asymmetric_gd, A, y, 3, 0.01, F0=F0, G0=G0)
    for start, after, f in (
        (F0, F1, lambda F: _asymmetric_loss(A, y, F, G0)),
        (G0, G1, lambda G: _asymmetric_loss(A, y, F0, G)),
    ):
        numeric = _central_differences(f, start)
        np.testing.assert_allclose(
            (start - after) / 0.01, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max()
        )


def test_steps_match_torch_autodiff():
    """The same first steps as Torch's autograd on the same losses (to rounding)."""
    torch = pytest.importorskip("torch")
    A, y, _ = _problem(shape=(6, 6), symmetric=False)
    rng = np.random.default_rng(5)
    X0, F0, G0 = (rng.standard_normal(s) for s in ((6, 2), (6, 2), (6, 2)))
    D, yt = torch.tensor(A.to_dense()), torch.tensor(y)
    X = torch.tensor(X0, requires_grad=True)
    (0.5 * ((D @ (X @ X.T).reshape(-1) - yt) ** 2).sum()).backward()
    (X1,) = _first_step(symmetric_gd, A, y, 2, 0.05, X0=X0)
    np.testing.assert_allclose(X1, X0 - 0.05 * X.grad.numpy(), rtol=1e-12, atol=1e-12)
    F, G = torch.tensor(F0, requires_grad=True), torch.tensor(G0, requires_grad=True)
    (0.5 * ((D @ (F @ G.T).reshape(-1) - yt) ** 2).sum()).backward()
    F1, G1 = _first_step(asymmetric_gd, A, y, 2, 0.05, F0=F0, G0=G0)
    np.testing.assert_allclose(F1, F0 - 0.05 * F.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(G1, G0 - 0.05 * G.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(12, 12), (20, 9)])
def test_rebalance_keeps_the_product_and_equalises_f(seed, shape):
    rng = np.random.default_rng(seed)
    # an F with a tiny direction, as after descent from a small start
    F = rng.standard_normal((shape[0], 4)) @ np.diag([1.0, 0.5, 1e-3, 1e-5])
    G = rng.standard_normal((shape[1], 4))
    F2, G2 = rebalance(F, G)
    product = F @ G.T
    np.testing.assert_allclose(F2 @ G2.T, product, atol=1e-9 * np.abs(product).max())
    s = np.linalg.svd(F2, compute_uv=False)
    np.testing.assert_allclose(s, np.sqrt(np.linalg.norm(product, 2)), rtol=1e-8)


def test_rebalance_inputs():
    with pytest.raises(ValueError, match="same number of columns"):
        rebalance(np.ones((3, 2)), np.ones((3, 1)))
    F, G = np.ones((3, 2)), np.ones((4, 2))
    F_before, G_before = F.copy(), G.copy()
    rebalance(F, G)
    np.testing.assert_array_equal(F, F_before)
    np.testing.assert_array_equal(G, G_before)
    zero = rebalance(np.zeros((3, 2)), np.zeros((4, 2)))
    assert all(np.all(x == 0) for x in zero)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_recovery_symmetric_and_asymmetric(seed):
    """Both descents recover the planted matrix to 1e-6 relative (Frobenius) with a stopping
    tolerance and default steps, and report convergence."""
    A, y, M = _problem(shape=(16, 16), m=400, r=2, symmetric=True, seed=seed)
    result = symmetric_gd(A, y, 2, init_scale=0.1, maxiter=3000, seed=seed)
    assert result.converged
    assert np.linalg.norm(result.estimate() - M) <= 1e-6 * np.linalg.norm(M)
    A, y, M = _problem(shape=(16, 12), m=400, r=2, symmetric=False, seed=seed)
    result = asymmetric_gd(A, y, 4, init_scale=0.1, one_step=True, maxiter=3000, seed=seed)
    assert result.converged
    assert result.one_step_at is not None
    assert np.linalg.norm(result.estimate() - M) <= 1e-6 * np.linalg.norm(M)


def test_histories_and_float32():
    A, y, M = _problem(shape=(10, 10), m=200, symmetric=True)
    y32, M32 = y.astype(np.float32), M.astype(np.float32)
    result = symmetric_gd(A, y32, 2, init_scale=0.1, maxiter=2000, truth=M32, seed=0)
    assert result.converged
    assert result.factors[0].dtype == np.float32
    assert len(result.loss_history) == len(result.error_history) == result.iterations + 1
    # float32: the residual stops at its rounding level; tol is floored at 100 u
    assert np.linalg.norm(result.estimate() - M32) <= 1e-4 * np.linalg.norm(M32)


def test_non_convergence_warns_and_tol_zero_does_not():
    A, y, _ = _problem()
    with pytest.warns(ConvergenceWarning, match="stopped after 5 steps"):
        result = symmetric_gd(A, y, 2, maxiter=5, seed=0)
    assert not result.converged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = symmetric_gd(A, y, 2, maxiter=5, tol=0.0, seed=0)
    assert result.iterations == 5


def test_callback_stops_and_divergence_is_an_error():
    A, y, _ = _problem()
    result = symmetric_gd(A, y, 2, maxiter=50, callback=lambda t, f: t == 2, seed=0)
    assert result.iterations == 3
    with pytest.raises(FloatingPointError, match="reduce step"):
        symmetric_gd(A, y, 2, step=50.0, init_scale=1.0, maxiter=200, seed=0)


def test_same_seed_same_bits():
    A, y, _ = _problem(symmetric=False)
    a = asymmetric_gd(A, y, 3, maxiter=20, tol=0.0, seed=4)
    b = asymmetric_gd(A, y, 3, maxiter=20, tol=0.0, seed=4)
    np.testing.assert_array_equal(a.factors[0], b.factors[0])
    np.testing.assert_array_equal(a.factors[1], b.factors[1])


def test_one_step_at_a_given_iteration():
    A, y, _ = _problem(symmetric=False)
    result = asymmetric_gd(A, y, 3, maxiter=20, tol=0.0, one_step=7, seed=0)
    assert result.one_step_at == 7


def test_backends_agree_with_numpy(backend, dtype):
    """A few steps on every backend give NumPy's iterates to rounding, in the input's namespace."""
    A, y, M = _problem(shape=(6, 6), m=60, symmetric=False)
    rng = np.random.default_rng(0)
    F0, G0 = 0.3 * rng.standard_normal((6, 3)), 0.1 * rng.standard_normal((6, 3))
    options = dict(step=0.2, maxiter=10, tol=0.0, one_step=4)
    want = asymmetric_gd(A, y, 3, F0=F0, G0=G0, **options)
    got = asymmetric_gd(
        A,
        backend.asarray(y, dtype),
        3,
        F0=backend.asarray(F0, dtype),
        G0=backend.asarray(G0, dtype),
        truth=backend.asarray(M, dtype),
        **options,
    )
    rtol = 1e-10 if dtype == "float64" else 1e-4
    for g, w in zip(got.factors, want.factors, strict=True):
        assert backend_name(array_namespace(g)) == backend_name(backend.xp)
        assert g.dtype == backend.dtype(dtype)
        np.testing.assert_allclose(to_numpy(g), w, rtol=rtol, atol=rtol * np.abs(w).max())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda A, y: symmetric_gd("A", y, 2), TypeError, "MeasurementOperator"),
        (lambda A, y: symmetric_gd(A, y[:-1], 2), ValueError, "y"),
        (lambda A, y: symmetric_gd(A, y, 0), ValueError, "rank"),
        (lambda A, y: symmetric_gd(A, y, 9), ValueError, "rank"),
        (
            lambda A, y: symmetric_gd(A, y, 2, step=0),
            ValueError,
            r"step must be a finite number in \(0, inf\)",
        ),
        (lambda A, y: symmetric_gd(A, y, 2, step=-1), ValueError, "step"),
        (lambda A, y: symmetric_gd(A, y, 2, tol=float("nan")), ValueError, "tol"),
        (lambda A, y: symmetric_gd(A, y, 2, X0=np.ones((8, 3))), ValueError, "X0 must have"),
        (lambda A, y: symmetric_gd(A, y, 2, truth=np.ones((7, 8))), ValueError, "truth"),
        (lambda A, y: symmetric_gd(A, y * np.nan, 2), ValueError, "finite"),
        (lambda A, y: asymmetric_gd(A, y, 2, F0=np.ones((8, 2))), ValueError, "together"),
        (lambda A, y: asymmetric_gd(A, y, 2, one_step="yes"), TypeError, "one_step"),
        (lambda A, y: asymmetric_gd(A, y, 2, init_scale=-1), ValueError, "init_scale"),
    ],
)
def test_bad_input(call, error, match):
    A, y, _ = _problem()
    with pytest.raises(error, match=match):
        call(A, y)


def test_symmetric_needs_a_square_operator():
    A = GaussianMeasurements((4, 3), 20, seed=0)
    with pytest.raises(ValueError, match="square"):
        symmetric_gd(A, np.ones(20), 1)


def test_experiment_warns_below_the_degrees_of_freedom():
    with pytest.warns(SketchlaWarning, match="fewer than the"):
        run_sensing_experiment(10, 2, 2, measurements=20, iterations=2)
    with pytest.raises(ValueError, match="asymmetric"):
        run_sensing_experiment(10, 2, 2, parameterization="symmetric", one_step=True)
    with pytest.raises(ValueError, match="parameterization"):
        run_sensing_experiment(10, 2, 2, parameterization="both")
