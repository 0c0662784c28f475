"""Every sketching family: the fast application against the operator's dense matrix, on every
backend and dtype; blocks, transposes, sparse input, reproducibility, and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from sketchla import dense_sketch, sketch_operator, sparse_sketch
from sketchla.random import Generator
from sketchla.sketch import DENSE_KINDS, FAMILIES
from sketchla.testing import assert_close, assert_equal, eps

CASES = [
    ("gaussian", {}),
    ("rademacher", {}),
    ("uniform", {}),
    ("srht", {}),
    ("srft", {}),
    ("countsketch", {}),
    ("saso", {}),
    ("saso", {"nnz": 3}),
    ("very_sparse", {}),
    ("very_sparse", {"s": 3.0}),
    ("uniform_rows", {}),
    ("uniform_rows", {"replace": True}),
]
IDS = [kind + "".join(f"-{k}={v}" for k, v in params.items()) for kind, params in CASES]


def tolerance(dtype, n: int, dense, A) -> float:
    """Absolute error bound for an n-term inner product: a few eps per term, times the size of
    the terms."""
    return 8 * eps(dtype) * n * float(np.max(np.abs(dense))) * float(np.max(np.abs(A)))


def inputs(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(dtype)


@pytest.mark.parametrize(("kind", "params"), CASES, ids=IDS)
@pytest.mark.parametrize("n", [1, 300, 4096 + 5])
def test_fast_apply_equals_dense_matrix(backend, dtype, kind, params, n):
    m = min(24, n) if kind in ("srht", "srft", "uniform_rows") else 24
    if kind == "saso":
        m = max(m, params.get("nnz", 8))
    S = sketch_operator(kind, m, n, seed=7, **params)
    A = inputs(n, 5, dtype)
    dense = backend.to_numpy(
        S.to_dense(xp=backend.xp, device=backend.device, dtype=backend.dtype(dtype))
    )
    reference = dense.astype(np.float64) @ A.astype(np.float64)
    atol = tolerance(dtype, n, dense, A)
    left = S @ backend.asarray(A)
    assert_close(left, reference.astype(dtype), rtol=0, atol=atol)
    # array-api-strict arrays refuse foreign operands in `@` instead of deferring to S.T
    transposed = backend.asarray(A.T.copy())
    right = S.apply(transposed, axis=1) if backend.name == "array_api_strict" else transposed @ S.T
    assert_close(right, reference.T.astype(dtype), rtol=0, atol=atol)
    vector = S @ backend.asarray(A[:, 0])
    assert_close(vector, reference[:, 0].astype(dtype), rtol=0, atol=atol)
    Y = inputs(m, 3, dtype, seed=1)
    back = S.T @ backend.asarray(Y)
    assert_close(
        back,
        (dense.astype(np.float64).T @ Y.astype(np.float64)).astype(dtype),
        rtol=0,
        atol=8 * eps(dtype) * m * float(np.max(np.abs(dense))) * 4,
    )
    assert type(left) is type(backend.asarray(A))


@pytest.mark.parametrize(("kind", "params"), CASES, ids=IDS)
def test_row_blocks_with_offsets_sum_to_the_whole(backend, kind, params):
    n = 5000
    S = sketch_operator(kind, 40, n, seed=3, **params)
    A = inputs(n, 4, "float64")
    whole = backend.to_numpy(S @ backend.asarray(A))
    cuts = [0, 1, 4100, 4500, n]
    pieces = sum(
        backend.to_numpy(S.apply(backend.asarray(A[lo:hi]), offset=lo))
        for lo, hi in itertools.pairwise(cuts)
    )
    atol = tolerance("float64", n, S.to_dense(), A)
    assert_close(pieces, whole, rtol=0, atol=atol)
    transposed = A.T.copy()
    pieces_t = sum(
        backend.to_numpy(S.apply(backend.asarray(transposed[:, lo:hi].copy()), axis=1, offset=lo))
        for lo, hi in itertools.pairwise(cuts)
    )
    assert_close(pieces_t, whole.T, rtol=0, atol=atol)


@pytest.mark.parametrize(("kind", "params"), CASES, ids=IDS)
def test_same_seed_same_sketch_on_every_backend(backend, kind, params):
    S = sketch_operator(kind, 32, 700, seed=11, **params)
    A = inputs(700, 6, "float64")
    got = S @ backend.asarray(A)
    want = sketch_operator(kind, 32, 700, seed=11, **params) @ A
    assert_close(got, want, rtol=0, atol=tolerance("float64", 700, S.to_dense(), A))
    dense = S.to_dense(xp=backend.xp, device=backend.device, dtype=backend.dtype("float64"))
    if kind in ("srft", "gaussian"):  # cos/sin, log: equal to rounding
        assert_close(dense, S.to_dense(), rtol=0, atol=1e-15)
    else:
        assert_equal(dense, S.to_dense())


@pytest.mark.parametrize("kind", ["gaussian", "rademacher", "uniform"])
def test_dense_sketches_are_nested(kind):
    small = sketch_operator(kind, 7, 5000, seed=5).to_dense()
    large = sketch_operator(kind, 30, 5000, seed=5).to_dense()
    assert_close(large[:7] * math.sqrt(30 / 7), small, ulps=2)


@pytest.mark.parametrize(("kind", "params"), CASES, ids=IDS)
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_scipy_sparse_input_equals_dense_input(kind, params, fmt):
    A = sp.random_array((3000, 40), density=0.02, format=fmt, rng=1)
    S = sketch_operator(kind, 50, 3000, seed=2, **params)
    dense_result = S @ A.toarray()
    got = S @ A
    assert isinstance(got, np.ndarray)
    assert_close(got, dense_result, rtol=0, atol=1e-12)
    assert_close(S.apply(A.T.tocsr(), axis=1), dense_result.T, rtol=0, atol=1e-12)
    block = S.apply(A.tocsr()[1000:2000], offset=1000)
    assert_close(block, S.apply(A.toarray()[1000:2000], offset=1000), rtol=0, atol=1e-12)


def test_dtypes_float32_stays_and_integers_are_promoted():
    S = sketch_operator("countsketch", 10, 100, seed=0)
    assert (S @ np.ones((100, 2), dtype=np.float32)).dtype == np.float32
    assert (S @ np.ones((100, 2), dtype=np.int32)).dtype == np.float64
    assert (S @ sp.csr_array(np.ones((100, 2), dtype=np.int64))).dtype == np.float64


def test_linear_operator_matches_dense():
    S = sketch_operator("srht", 20, 300, seed=4)
    L = S.aslinearoperator()
    x, y = np.arange(300.0), np.arange(20.0)
    dense = S.to_dense()
    assert_close(L @ x, dense @ x, rtol=0, atol=1e-10)
    assert_close(L.rmatvec(y), dense.T @ y, rtol=0, atol=1e-10)
    assert L.shape == (20, 300)


def test_reproducible_and_immutable_operators():
    A = inputs(500, 3, "float64")
    for kind in FAMILIES:
        S1, S2 = sketch_operator(kind, 20, 500, seed=9), sketch_operator(kind, 20, 500, seed=9)
        assert_equal(S1 @ A, S2 @ A)
        assert_equal(S1 @ A, S1 @ A)
    g = Generator(1)
    first, second = (
        sketch_operator("gaussian", 5, 50, seed=g),
        sketch_operator("gaussian", 5, 50, seed=g),
    )
    assert not np.array_equal(first.to_dense(), second.to_dense())
    assert repr(sketch_operator("saso", 20, 500, seed=9, nnz=4)).startswith(
        "SASOSketch(m=20, n=500, nnz=4"
    )
    assert sketch_operator("srht", 20, 500, seed=9).T.shape == (500, 20)


def test_one_line_forms():
    A = inputs(1000, 4, "float64")
    assert_equal(
        dense_sketch(A, 30, kind="srft", seed=1), sketch_operator("srft", 30, 1000, seed=1) @ A
    )
    assert_equal(sparse_sketch(A, 30, seed=1), sketch_operator("saso", 30, 1000, seed=1) @ A)
    assert_equal(
        sparse_sketch(A.T, 30, kind="countsketch", seed=1, axis=1),
        A.T @ sketch_operator("countsketch", 30, 1000, seed=1).T,
    )
    assert_equal(
        sparse_sketch(A, 30, nnz=2, seed=1), sketch_operator("saso", 30, 1000, seed=1, nnz=2) @ A
    )
    assert set(DENSE_KINDS) < set(FAMILIES)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: sketch_operator("gaussian", 0, 10), ValueError, "m must be an integer >= 1"),
        (lambda: sketch_operator("gaussian", 2.0, 10), TypeError, "m must be an integer"),
        (lambda: sketch_operator("nope", 2, 10), ValueError, "kind must be one of"),
        (lambda: sketch_operator("srht", 11, 10), ValueError, "m must be <= n for srht"),
        (lambda: sketch_operator("srft", 11, 10), ValueError, "m must be <= n for srft"),
        (lambda: sketch_operator("uniform_rows", 11, 10), ValueError, "m must be <= n"),
        (lambda: sketch_operator("saso", 4, 10, nnz=5), ValueError, "nnz must be <= m=4"),
        (lambda: sketch_operator("very_sparse", 4, 10, s=0.5), ValueError, "s must be"),
        (lambda: sketch_operator("gaussian", 4, 10, seed=1.5), TypeError, "seed must be"),
        (
            lambda: sketch_operator("gaussian", 4, 10) @ np.ones((9, 2)),
            ValueError,
            r"A must have n=10 entries along the sketched axis, got 9",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10) @ np.full((10, 2), np.nan),
            ValueError,
            "A must hold only finite values",
        ),
        (
            lambda: sketch_operator("saso", 4, 10, nnz=2) @ sp.csr_array(np.full((10, 2), np.inf)),
            ValueError,
            "A must hold only finite values",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10).apply(np.ones((10, 2)), axis=2),
            ValueError,
            "axis must be 0 or 1",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10).apply(np.ones(10), axis=1),
            ValueError,
            "A must be 1-D",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10) @ np.ones((10, 2, 2)),
            ValueError,
            "A must be 1-D",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10).apply(np.ones((5, 2)), offset=6),
            ValueError,
            "does not fit in n=10",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10).T @ np.ones((5, 2)),
            ValueError,
            "Y must have shape",
        ),
        (lambda: dense_sketch(np.ones((10, 2)), 3, kind="saso"), ValueError, "for dense_sketch"),
        (lambda: sparse_sketch(np.ones((10, 2)), 3, kind="srht"), ValueError, "for sparse_sketch"),
        (
            lambda: sparse_sketch(np.ones((10, 2)), 3, kind="countsketch", nnz=2),
            ValueError,
            "nnz applies to kind='saso' only",
        ),
        (lambda: dense_sketch([1, 2], 3), TypeError, "A must be an array"),
        (
            lambda: sketch_operator("gaussian", 4, 10) @ (np.ones((10, 2)) * 1j),
            TypeError,
            "A must be real",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10) @ np.ones(10, dtype=np.float16),
            TypeError,
            "A must have dtype float32 or float64",
        ),
        (
            lambda: (
                sketch_operator("saso", 4, 10, nnz=2)
                @ sp.csr_array(np.ones((10, 2), np.longdouble))
            ),
            TypeError,
            "A must have dtype float32 or float64",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10).apply(np.ones((10, 2)), axis=1.0),
            ValueError,
            "axis must be 0 or 1",
        ),
        (
            lambda: sketch_operator("uniform_rows", 4, 10, replace="no"),
            TypeError,
            "replace must be True or False",
        ),
        (
            lambda: sketch_operator("very_sparse", 4, 10, s="abc"),
            TypeError,
            "s must be a real number",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10, nnz=3),
            TypeError,
            "kind='gaussian' takes no parameter nnz",
        ),
        (
            lambda: sketch_operator("gaussian", 4, 10).T @ sp.csr_array(np.ones((4, 2))),
            TypeError,
            "Y must be a dense array",
        ),
    ],
)
def test_bad_input_gets_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("kind", sorted(FAMILIES))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_input_is_refused_by_every_family(kind, bad):
    A = np.ones((300, 3))
    A[123, 1] = bad
    with pytest.raises(ValueError, match="A must hold only finite values"):
        sketch_operator(kind, 20, 300, seed=0) @ A
    with pytest.raises(ValueError, match="A must hold only finite values"):
        sketch_operator(kind, 20, 300, seed=0).apply(A.T.copy(), axis=1)


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_finite_input_whose_sketch_overflows_is_not_refused(kind):
    A = np.full((300, 2), 1e308)
    with np.errstate(over="ignore", invalid="ignore"):
        result = sketch_operator(kind, 20, 300, seed=0) @ A  # must not raise
    assert result.shape == (20, 2)
    if kind == "uniform_rows":  # sqrt(300 / 20) * 1e308 certainly overflows
        assert np.all(np.isinf(result))


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_an_empty_block_contributes_nothing(kind):
    S = sketch_operator(kind, 8, 100, seed=0)
    assert_equal(S.apply(np.ones((0, 3)), offset=40), np.zeros((8, 3)))
