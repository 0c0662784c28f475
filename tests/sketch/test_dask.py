"""Dask arrays into sketching operators: the blockwise sketch equals the in-memory one for any
chunking and scheduler, lazily, with the caller's dtype."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sketchla.sketch import sketch_operator
from sketchla.sketch.factory import DENSE_KINDS, SPARSE_KINDS

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

KINDS = DENSE_KINDS + SPARSE_KINDS
N, D, M = 600, 5, 40
CHUNKINGS = [(N, D), (200, D), (97, 2), (1, D)]


def tolerance(dtype, X):
    """Rounding of a sum of N products, in different orders: a few u per term's size."""
    eps = np.finfo(dtype).eps
    return 4 * eps * np.sqrt(N) * np.abs(X).max() * 3.0 * np.sqrt(N)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_dask_sketch_equals_the_in_memory_sketch(kind, chunks):
    X = np.random.default_rng(1).standard_normal((N, D))
    S = sketch_operator(kind, M, N, seed=3)
    lazy = S @ da.from_array(X, chunks=chunks)
    assert isinstance(lazy, da.Array)
    assert lazy.shape == (M, D)
    got = lazy.compute()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, S @ X, rtol=0, atol=tolerance(np.float64, X))


@pytest.mark.parametrize("kind", ["gaussian", "srht", "countsketch", "saso"])
def test_float32_vectors_integers_and_axis_1(kind):
    rng = np.random.default_rng(2)
    S = sketch_operator(kind, M, N, seed=4)
    X32 = rng.standard_normal((N, D)).astype(np.float32)
    got = (S @ da.from_array(X32, chunks=(150, D))).compute()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, S @ X32, rtol=0, atol=tolerance(np.float32, X32))
    x = rng.standard_normal(N)
    np.testing.assert_allclose(
        (S @ da.from_array(x, chunks=77)).compute(), S @ x, rtol=0, atol=tolerance(np.float64, x)
    )
    integers = rng.integers(-5, 5, size=(N, D))
    got = (S @ da.from_array(integers, chunks=(100, D))).compute()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, S @ integers.astype(float), rtol=0, atol=1e-11)
    wide = np.ascontiguousarray(X32.T)
    got = S.apply(da.from_array(wide, chunks=(2, 128)), axis=1).compute()
    np.testing.assert_allclose(got, S.apply(wide, axis=1), rtol=0, atol=tolerance(np.float32, X32))


@pytest.mark.parametrize("kind", ["rademacher", "very_sparse"])
def test_schedulers_give_identical_bits(kind):
    X = np.random.default_rng(5).standard_normal((N, D))
    lazy = sketch_operator(kind, M, N, seed=6) @ da.from_array(X, chunks=(64, D))
    threads = lazy.compute(scheduler="threads")
    serial = lazy.compute(scheduler="synchronous")
    np.testing.assert_array_equal(threads, serial)
    np.testing.assert_array_equal(lazy.compute(scheduler="threads"), threads)  # and reruns


@given(
    cuts=st.lists(st.integers(1, N - 1), max_size=6, unique=True),
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_row_chunking_gives_the_in_memory_sketch(cuts, kind, seed):
    bounds = [0, *sorted(cuts), N]
    chunks = (tuple(np.diff(bounds).tolist()), (D,))
    X = np.random.default_rng(seed % 1000).standard_normal((N, D))
    S = sketch_operator(kind, M, N, seed=seed)
    got = (S @ da.from_array(X, chunks=chunks)).compute()
    np.testing.assert_allclose(got, S @ X, rtol=0, atol=tolerance(np.float64, X))


def test_bad_dask_input_is_refused():
    S = sketch_operator("gaussian", M, N, seed=0)
    with pytest.raises(ValueError, match="A must have n=600 entries"):
        S @ da.zeros((N + 1, D), chunks=100)
    with pytest.raises(ValueError, match="offset= is not supported for dask"):
        S.apply(da.zeros((100, D), chunks=50), offset=0)
    with pytest.raises(ValueError, match="A must be 1-D"):
        S @ da.zeros((N, D, 2), chunks=100)
    with pytest.raises(TypeError, match="A must be real"):
        S @ da.zeros((N, D), chunks=100, dtype=complex)
    unknown = da.zeros((N, D), chunks=100)
    unknown = unknown[unknown[:, 0] == 0]  # unknown row chunks
    with pytest.raises(ValueError, match="known chunk sizes"):
        S @ unknown
    bad = np.ones((N, D))
    bad[123, 1] = np.nan
    lazy = S @ da.from_array(bad, chunks=(100, D))  # refused when the blocks are computed
    with pytest.raises(ValueError, match="finite"):
        lazy.compute()
