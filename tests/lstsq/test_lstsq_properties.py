"""Property tests: ``lstsq`` matches LAPACK on random shapes, dtypes, condition numbers,
residual sizes and sketch families, to a tolerance derived from the dtype and the problem's
sensitivity."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
from _lstsq_problems import lstsq_recording
from hypothesis import given
from hypothesis import strategies as st

from sketchla.errors import ConvergenceWarning
from sketchla.lstsq import lstsq
from sketchla.testing import eps


@st.composite
def problems(draw):
    d = draw(st.integers(1, 12))
    n = d * draw(st.integers(2, 40))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    # kappa**2 eps stays below ~1e-3: beyond it there is no accuracy left to compare
    log_kappa = draw(st.floats(0.0, 2.0 if dtype == "float32" else 5.0))
    noise = draw(st.sampled_from([0.0, 1e-3, 1.0]))
    k = draw(st.sampled_from([None, 1, 3]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    scale = 10.0 ** draw(st.integers(-3, 3))  # ||A||
    A = scale * (U * np.logspace(0, -log_kappa, d)) @ V.T
    shape = (d,) if k is None else (d, k)
    b = A @ rng.standard_normal(shape) + noise * scale * rng.standard_normal((n, *shape[1:]))
    return A.astype(dtype), b.astype(dtype), seed


def sensitivity(A, b, x):
    """``kappa + kappa**2 ||r|| / (||A|| ||x||)``, worst over right-hand sides."""
    s = np.linalg.svd(A, compute_uv=False)
    kappa = s[0] / s[-1]
    X, B = x.reshape(A.shape[1], -1), b.reshape(A.shape[0], -1)
    worst = 0.0
    for j in range(X.shape[1]):
        x_norm = np.linalg.norm(X[:, j])
        if x_norm == 0:
            continue
        rho = np.linalg.norm(B[:, j] - A @ X[:, j]) / (s[0] * x_norm)
        worst = max(worst, kappa + kappa**2 * rho)
    return worst


@given(problem=problems(), sketch=st.sampled_from(["saso", "gaussian", "srht", "countsketch"]))
def test_matches_lapack(problem, sketch):
    A, b, seed = problem
    result, caught = lstsq_recording(A, b, sketch=sketch, seed=seed)
    assert result.converged == (not caught)
    assert result.x.dtype == A.dtype
    assert result.x.shape == A.shape[1:] + b.shape[1:]
    A64, b64 = A.astype(np.float64), b.astype(np.float64)
    x_ref = scipy.linalg.lstsq(A64, b64)[0]
    d = A.shape[1]
    tolerance = 8 * eps(A.dtype) * (math.sqrt(d) + sensitivity(A64, b64, x_ref))
    error = np.linalg.norm(result.x.astype(np.float64) - x_ref)
    # the floor: a zero solution (b = 0 in exact arithmetic is not drawn, but x can be tiny)
    assert error <= tolerance * np.linalg.norm(x_ref) + eps(A.dtype) * np.linalg.norm(b64) / (
        np.linalg.norm(A64, 2)
    ), (result.method, result.iterations, error / np.linalg.norm(x_ref), tolerance)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
def test_scaling_a_and_b_scales_nothing_but_x(dtype, data):
    """``lstsq(alpha A, beta b) = (beta / alpha) lstsq(A, b)`` exactly for powers of two (the
    same sketch, every rounding scaled)."""
    d = data.draw(st.integers(1, 8))
    n = d * data.draw(st.integers(8, 30))
    seed = data.draw(st.integers(0, 2**16))
    alpha = 2.0 ** data.draw(st.integers(-20, 20))
    beta = 2.0 ** data.draw(st.integers(-20, 20))
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # see test_matches_lapack
        x = lstsq(A, b, seed=seed).x
        scaled = lstsq(A * dtype_type(dtype)(alpha), b * dtype_type(dtype)(beta), seed=seed).x
    np.testing.assert_allclose(scaled, x * (beta / alpha), rtol=64 * eps(dtype), atol=0)


def dtype_type(name):
    return np.dtype(name).type
