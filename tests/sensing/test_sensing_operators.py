"""Measurement operators: the adjoint identity, factored products against dense ones, the dense
matrix against the products, near-isotropy, reproducibility, backends and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchla._array import array_namespace, backend_name, to_numpy
from sketchla.random import Generator
from sketchla.sensing import (
    OPERATOR_KINDS,
    GaussianMeasurements,
    RankOneMeasurements,
    SketchedMeasurements,
    degrees_of_freedom,
    measurement_operator,
)

KINDS = ["gaussian", "rank_one", "srft", "srht", "saso", "countsketch"]
U64 = np.finfo(np.float64).eps / 2


def _operator(kind, shape, m, seed=0):
    return measurement_operator(kind, shape, m, seed=seed)


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    n1=st.integers(1, 12),
    n2=st.integers(1, 12),
    m=st.integers(1, 60),
    seed=st.integers(0, 2**16),
)
def test_adjoint_identity_and_factored_products(kind, n1, n2, m, seed):
    """<A(M), y> = <M, A*(y)>, A(F G^T) = A(F @ G.T), A*(z) G and A*(z)^T F as dense products,
    for random shapes and every family."""
    if kind in ("srft", "srht"):
        m = min(m, n1 * n2)
    if kind == "saso":
        m = max(m, 8)  # 8 nonzeros per column by default
    A = _operator(kind, (n1, n2), m, seed)
    rng = np.random.default_rng(seed)
    M, y = rng.standard_normal((n1, n2)), rng.standard_normal(m)
    AM, Ay = A(M), A.adjoint(y)
    assert AM.shape == (m,)
    assert Ay.shape == (n1, n2)
    scale = np.linalg.norm(AM) * np.linalg.norm(y) + np.linalg.norm(M) * np.linalg.norm(Ay)
    assert abs(AM @ y - np.sum(M * Ay)) <= 50 * (n1 * n2 + m) * U64 * scale

    k = rng.integers(1, 4)
    F, G = rng.standard_normal((n1, k)), rng.standard_normal((n2, k))
    tolerance = 50 * (n1 * n2 * k + m) * U64
    dense = A(F @ G.T)
    assert np.linalg.norm(A.apply_factored(F, G) - dense) <= tolerance * (
        np.linalg.norm(F) * np.linalg.norm(G) * max(1.0, np.abs(A.to_dense()).sum(axis=1).max())
    )
    for transposed, factor in ((False, G), (True, F)):
        exact = (Ay.T if transposed else Ay) @ factor
        got = A.adjoint_matmul(y, factor, transpose=transposed)
        assert np.linalg.norm(got - exact) <= tolerance * np.linalg.norm(Ay) * np.linalg.norm(
            factor
        ) + tolerance * np.abs(y).sum() * np.linalg.norm(factor)


@pytest.mark.parametrize("kind", KINDS)
def test_to_dense_rows_are_the_measurement_matrices(kind):
    """Row i of to_dense() is A_i flattened: the products agree with the dense matrix."""
    A = _operator(kind, (5, 7), 20, seed=3)
    D = A.to_dense()
    assert D.shape == (20, 35)
    M = np.random.default_rng(1).standard_normal((5, 7))
    np.testing.assert_allclose(A(M), D @ M.ravel(), rtol=1e-12, atol=1e-12)
    y = np.random.default_rng(2).standard_normal(20)
    np.testing.assert_allclose(A.adjoint(y), (D.T @ y).reshape(5, 7), rtol=1e-12, atol=1e-12)


def test_rank_one_measurements_are_rank_one():
    A = RankOneMeasurements((6, 4), 10, seed=0)
    ranks = [np.linalg.matrix_rank(row.reshape(6, 4)) for row in A.to_dense()]
    assert ranks == [1] * 10


@pytest.mark.parametrize("kind", KINDS)
def test_near_isotropic_on_average(kind):
    """E ||A(M)||^2 = ||M||_F^2: the mean over 200 independent operators is within 4 standard
    errors of it (a test that fails for a wrong scaling by any factor beyond a few percent)."""
    rng = np.random.default_rng(0)
    M = rng.standard_normal((6, 5))
    m = 12 if kind in ("srft", "srht") else 40
    ratios = np.array(
        [np.sum(_operator(kind, (6, 5), m, seed=s)(M) ** 2) for s in range(200)]
    ) / np.sum(M**2)
    standard_error = ratios.std() / np.sqrt(ratios.size)
    assert abs(ratios.mean() - 1) <= 4 * standard_error + 1e-12


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_operator_generator_advances(kind):
    M = np.random.default_rng(0).standard_normal((4, 6))
    np.testing.assert_array_equal(
        _operator(kind, (4, 6), 10, 7)(M), _operator(kind, (4, 6), 10, 7)(M)
    )
    assert not np.array_equal(_operator(kind, (4, 6), 10, 7)(M), _operator(kind, (4, 6), 10, 8)(M))
    g = Generator(5)
    first, second = _operator(kind, (4, 6), 10, g), _operator(kind, (4, 6), 10, g)
    assert not np.array_equal(first(M), second(M))


@pytest.mark.parametrize("kind", KINDS)
def test_backends_agree_with_numpy(kind, backend, dtype):
    """The same operator on every backend gives NumPy's measurements to rounding, in the
    input's namespace and dtype."""
    A = _operator(kind, (6, 5), 15, seed=11)
    rng = np.random.default_rng(4)
    M, y = rng.standard_normal((6, 5)), rng.standard_normal(15)
    F, G = rng.standard_normal((6, 2)), rng.standard_normal((5, 2))
    xd = backend.dtype(dtype)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    for got, want in (
        (A(backend.asarray(M, dtype)), A(M)),
        (A.adjoint(backend.asarray(y, dtype)), A.adjoint(y)),
        (A.apply_factored(backend.asarray(F, dtype), backend.asarray(G, dtype)), A(F @ G.T)),
        (A.adjoint_matmul(backend.asarray(y, dtype), backend.asarray(G, dtype)), A.adjoint(y) @ G),
    ):
        assert backend_name(array_namespace(got)) == backend_name(backend.xp)
        assert got.dtype == xd
        host = to_numpy(got)
        np.testing.assert_allclose(host, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_inputs_are_not_mutated():
    A = GaussianMeasurements((4, 4), 10, seed=0)
    M = np.arange(16.0).reshape(4, 4)
    before = M.copy()
    A(M)
    A.adjoint(np.ones(10))
    np.testing.assert_array_equal(M, before)


def test_degrees_of_freedom():
    assert degrees_of_freedom((50, 40), 3) == 3 * (90 - 3)
    assert degrees_of_freedom((50, 50), 3, symmetric=True) == 150 - 3
    with pytest.raises(ValueError, match="square"):
        degrees_of_freedom((5, 4), 1, symmetric=True)


def test_kinds_are_listed_and_repr():
    assert set(KINDS) <= set(OPERATOR_KINDS)
    assert "srft" in repr(SketchedMeasurements((10, 10), 20, seed=0))
    assert (
        repr(GaussianMeasurements((3, 2), 4, seed=0)) == "GaussianMeasurements(shape=(3, 2), m=4)"
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: measurement_operator("nope", (3, 3), 4), ValueError, "kind must be one of"),
        (lambda: GaussianMeasurements((3,), 4), ValueError, "shape must be"),
        (lambda: GaussianMeasurements((3, 0), 4), ValueError, "shape must be"),
        (lambda: GaussianMeasurements((3, 3), 0), ValueError, "m"),
        (lambda: GaussianMeasurements((10**4, 10**4), 100), ValueError, "dense Gaussian"),
        (lambda: SketchedMeasurements((3, 3), 20, kind="srft"), ValueError, "m must be <= n"),
    ],
)
def test_bad_construction(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_bad_products():
    A = GaussianMeasurements((4, 3), 10, seed=0)
    with pytest.raises(ValueError, match=r"M must have shape \(4, 3\)"):
        A(np.ones((3, 4)))
    with pytest.raises(ValueError, match="M must be 2-D"):
        A(np.ones(12))
    with pytest.raises(ValueError, match="finite"):
        A(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="y"):
        A.adjoint(np.ones(9))
    with pytest.raises(ValueError, match="F and G must have 4 and 3 rows"):
        A.apply_factored(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="same number of columns"):
        A.apply_factored(np.ones((4, 2)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="G must have 3 rows"):
        A.adjoint_matmul(np.ones(10), np.ones((4, 2)))
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="one library"):
        A.apply_factored(np.ones((4, 2)), torch.ones((3, 2), dtype=torch.float64))
    with pytest.raises(TypeError, match="one dtype"):
        A.apply_factored(np.ones((4, 2)), np.ones((3, 2), dtype=np.float32))
