"""Every native kernel against the portable Array-API one, and the registry itself."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from sketchla._array import kernel, namespace_for
from sketchla._array.kernels import _philox_numba as numba_kernels
from sketchla._array.kernels import implementations, philox
from sketchla._array.kernels._sparse_sketch_numba import sparse_sketch_apply_fixed
from sketchla.testing import assert_close, assert_equal, eps

# Random123's published known answers for Philox4x32-10: (counter, key, output).
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KNOWN_ANSWERS)
def test_portable_philox_matches_known_answers(backend, counter, key, expected):
    xp = backend.xp
    words = tuple(xp.asarray([c], dtype=xp.int64, device=backend.device) for c in counter)
    out = philox.philox4x32_10(words, key)
    assert [int(backend.to_numpy(w)[0]) for w in out] == list(expected)


@pytest.mark.parametrize(("counter", "key", "expected"), KNOWN_ANSWERS)
def test_numba_philox_matches_known_answers(counter, key, expected):
    block = np.uint64(counter[0] | counter[1] << 32)
    out = numba_kernels._philox_lanes(
        block, np.uint64(counter[2]), np.uint64(counter[3]), np.uint64(key[0]), np.uint64(key[1])
    )
    assert [int(w) for w in out] == list(expected)


RANDOM_KERNELS = ["uniform", "normal", "signs", "integers", "sort_keys"]


@given(
    n=st.integers(0, 300),
    start=st.one_of(st.integers(0, 1000), st.integers(2**40, 2**41)),
    key=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    stream=st.integers(0, 2**32 - 1),
    name=st.sampled_from(RANDOM_KERNELS),
    dtype=st.sampled_from(["float32", "float64"]),
    span=st.sampled_from([1, 3, 1000, 2**31 + 1, 2**32]),
)
def test_numba_random_kernels_equal_portable(n, start, key, stream, name, dtype, span):
    xp = namespace_for("numpy")
    params = {"key": key, "stream": stream, "start": start, "xp": xp, "device": "cpu"}
    if name in ("integers", "sort_keys"):
        dtype = "int64"
    if name == "integers":
        params["span"] = span
    fast = getattr(numba_kernels, f"random_{name}")(n, dtype=np.dtype(dtype), **params)
    slow = getattr(philox, f"random_{name}")(n, dtype=np.dtype(dtype), **params)
    assert_equal(fast, slow)  # normals too: both take ``log`` from NumPy


@pytest.mark.parametrize(("n", "start"), [(65_536, 0), (200_003, 12_345), (300_000, 2**40 + 1)])
@pytest.mark.parametrize("name", RANDOM_KERNELS)
def test_numba_random_kernels_across_tasks_and_threads_equal_portable(n, start, name):
    # long enough for several parallel tasks (chunks of blocks, one piece per thread), cut at
    # odd offsets
    xp = namespace_for("numpy")
    params = {"key": (3, 2**32 - 1), "stream": 5, "start": start, "xp": xp, "device": "cpu"}
    if name == "integers":
        params["span"] = 1000
    for dtype in ["int64"] if name in ("integers", "sort_keys") else ["float32", "float64"]:
        fast = getattr(numba_kernels, f"random_{name}")(n, dtype=np.dtype(dtype), **params)
        assert_equal(fast, getattr(philox, f"random_{name}")(n, dtype=np.dtype(dtype), **params))


@pytest.mark.parametrize("name", RANDOM_KERNELS)
def test_registered_random_kernels_equal_portable(backend, name):
    xp, dev = backend.xp, backend.device
    dtype_name = "int64" if name in ("integers", "sort_keys") else "float64"
    params = {
        "key": (7, 9),
        "stream": 2,
        "start": 5,
        "dtype": backend.dtype(dtype_name),
        "xp": xp,
        "device": dev,
    }
    if name == "integers":
        params["span"] = 77
    portable = implementations(f"random_{name}")["portable"]
    native = kernel(f"random_{name}", xp)(513, **params)
    np_xp = namespace_for("numpy")
    reference = portable(
        513, **{**params, "xp": np_xp, "device": "cpu", "dtype": np.dtype(dtype_name)}
    )
    candidates = [native]
    if backend.name != "jax":  # JAX arrays are immutable: JAX always takes the host path
        candidates.append(portable(513, **params))
    for result in candidates:
        if name == "normal":
            assert_close(result, reference, ulps=8)
        else:
            assert_equal(result, reference)


@pytest.mark.parametrize("shape", [(0,), (1,), (257,), (300, 3), (50, 1)])
def test_scatter_add_native_equals_portable_and_dense(backend, dtype, shape):
    rng = np.random.default_rng(0)
    n_rows = 17
    indices = rng.integers(0, n_rows, shape[0])
    values = rng.standard_normal(shape).astype(dtype)
    expected = np.zeros((n_rows, *shape[1:]), dtype=dtype)
    np.add.at(expected, indices, values)
    xp = backend.xp
    idx = backend.asarray(indices, dtype=np.int64)
    vals = backend.asarray(values)
    native = kernel("scatter_add", xp)(idx, vals, n_rows, xp=xp)
    portable = implementations("scatter_add")["portable"](idx, vals, n_rows, xp=xp)
    assert_close(native, expected, ulps=8 * max(1, shape[0] // n_rows), atol=0)
    assert_close(portable, expected, ulps=8 * max(1, shape[0] // n_rows), atol=0)
    np.testing.assert_array_equal(backend.to_numpy(vals), values)  # inputs untouched


def test_numpy_gets_the_numba_kernel_and_unknown_backends_the_portable_one():
    np_xp = namespace_for("numpy")
    assert kernel("random_normal", np_xp) is numba_kernels.random_normal
    strict = pytest.importorskip("array_api_strict")
    assert kernel("random_normal", strict) is philox.random_normal


def test_unknown_kernel_names_are_key_errors():
    with pytest.raises(KeyError, match="no kernel named 'nope'"):
        kernel("nope", namespace_for("numpy"))
    with pytest.raises(KeyError, match="no kernel named 'nope'"):
        implementations("nope")


TRITON_PARITY = """
import numpy as np, torch
from sketchla._array.kernels import _philox_numba as N, _philox_triton as T
key, stream = (123, 4567), 9
for start in (0, 5, 2**40 + 3):
    for n in (1, 2, 777):
        for name, dtype in [("uniform", "float64"), ("uniform", "float32"), ("normal", "float64"),
                            ("normal", "float32"), ("signs", "float64"), ("signs", "int8"),
                            ("sort_keys", "int64")]:
            got = getattr(T, "random_" + name)(n, key=key, stream=stream, start=start,
                                               dtype=getattr(torch, dtype), device="cpu")
            want = getattr(N, "random_" + name)(n, key=key, stream=stream, start=start,
                                                dtype=np.dtype(dtype))
            if name == "normal":
                np.testing.assert_allclose(got.numpy(), want, rtol=4 * np.finfo(dtype).eps)
            else:
                np.testing.assert_array_equal(got.numpy(), want, strict=True)
        for span in (1, 7, 2**31 + 5, 2**32):
            got = T.random_integers(n, span=span, key=key, stream=stream, start=start,
                                    dtype=torch.int64, device="cpu")
            want = N.random_integers(n, span=span, key=key, stream=stream, start=start,
                                     dtype=np.dtype("int64"))
            np.testing.assert_array_equal(got.numpy(), want, strict=True)
from sketchla import Generator
from sketchla._array.kernels import _countsketch_numba, _countsketch_triton
rows_gen, signs_gen = Generator(31, stream=0), Generator(31, stream=1)  # as operators do
rng = np.random.default_rng(0)
for (n, d, m, start) in [(1, 1, 1, 0), (100, 3, 7, 5), (257, 70, 40, 2**33 + 1)]:
    for dtype in ("float32", "float64"):
        A = rng.standard_normal((n, d)).astype(dtype)
        params = {"rows_generator": rows_gen, "signs_generator": signs_gen}
        got = _countsketch_triton.countsketch_apply_torch(torch.from_numpy(A), m, start, **params)
        want = _countsketch_numba.countsketch_apply(A, m, start, **params)
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=32 * np.finfo(dtype).eps * n)
print("triton kernels agree")
"""


def test_triton_kernels_equal_numba_in_the_interpreter():
    """The CUDA kernels' logic, checked on the CPU through TRITON_INTERPRET=1 (fresh process:
    the variable must be set before Triton is imported)."""
    pytest.importorskip("triton")
    pytest.importorskip("torch")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run(
        [sys.executable, "-c", TRITON_PARITY], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "triton kernels agree" in result.stdout


@given(
    rows=st.integers(1, 50),
    k=st.integers(1, 8),
    extra=st.integers(0, 20),
    seed=st.integers(0, 2**32),
)
def test_floyd_numba_equals_portable(rows, k, extra, seed):
    u = np.random.default_rng(seed).random((rows, k))
    portable = implementations("floyd_sample")["portable"](u, k + extra, xp=namespace_for("numpy"))
    fast = implementations("floyd_sample")["numpy"](u, k + extra)
    assert_equal(fast, portable)
    assert all(len(set(row)) == k for row in fast.tolist())
    assert fast.min() >= 0
    assert fast.max() < k + extra


@given(log_size=st.integers(0, 11), data=st.data(), d=st.integers(1, 5), seed=st.integers(0, 2**32))
def test_sampled_hadamard_numba_equals_portable(log_size, data, d, seed):
    size = 2**log_size
    k = data.draw(st.integers(1, size))
    offset = data.draw(st.integers(0, size - k))
    m = data.draw(st.integers(1, size))
    rng = np.random.default_rng(seed)
    A, signs = rng.standard_normal((k, d)), rng.choice([-1.0, 1.0], k)
    rows = rng.choice(size, m, replace=False)
    xp = namespace_for("numpy")
    portable = implementations("sampled_hadamard")["portable"](A, signs, offset, size, rows, xp=xp)
    fast = implementations("sampled_hadamard")["numpy"](A, signs, offset, size, rows)
    assert_close(fast, portable, rtol=0, atol=64 * np.finfo(float).eps * k * np.abs(A).max())


@pytest.mark.parametrize(("log_size", "m", "d"), [(14, 9000, 1), (14, 3000, 3), (16, 20000, 1)])
def test_sampled_hadamard_many_rows_equals_portable(log_size, m, d):
    """Many requested rows take the full-transform branch of the NumPy kernel."""
    size = 2**log_size
    rng = np.random.default_rng(log_size + m)
    A, signs = rng.standard_normal((size - 5, d)), rng.choice([-1.0, 1.0], size - 5)
    rows = rng.choice(size, m, replace=False)
    xp = namespace_for("numpy")
    portable = implementations("sampled_hadamard")["portable"](A, signs, 3, size, rows, xp=xp)
    fast = implementations("sampled_hadamard")["numpy"](A, signs, 3, size, rows)
    assert_close(fast, portable, rtol=0, atol=64 * np.finfo(float).eps * size * np.abs(A).max())


@given(
    start=st.integers(0, 10**9),
    k=st.integers(1, 3000),
    d=st.integers(1, 6),
    m=st.integers(1, 300),
    seed=st.integers(0, 2**32),
)
def test_countsketch_numba_equals_portable(start, k, d, m, seed):
    from sketchla.random import Generator

    A = np.random.default_rng(seed).standard_normal((k, d))
    kw = {"rows_generator": Generator(seed, stream=0), "signs_generator": Generator(seed, stream=1)}
    portable = implementations("countsketch_apply")["portable"](
        A, m, start, xp=namespace_for("numpy"), **kw
    )
    fast = implementations("countsketch_apply")["numpy"](A, m, start, **kw)
    assert_close(fast, portable, rtol=0, atol=16 * np.finfo(float).eps * k * np.abs(A).max())


@pytest.mark.parametrize(
    ("n_rows", "n_cols", "density", "m", "k"),
    [
        (3000, 40, 0.02, 50, 8),  # int16 codes
        (500, 7, 0.3, 2**15 + 3, 3),  # rows beyond 2**15: int32 codes
        (1, 5, 1.0, 9, 1),  # fewer rows than threads
        (200, 30, 0.0, 16, 4),  # no nonzeros at all
        (400, 1, 0.5, 12, 12),  # one column, every row of S used
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_sketch_apply_fixed_equals_dense(n_rows, n_cols, density, m, k, dtype):
    rng = np.random.default_rng(n_rows + m)
    A = sp.random_array((n_rows, n_cols), density=density, format="csr", rng=rng, dtype=dtype)
    row = min(3, n_rows - 1)
    A.data[A.indptr[row] : A.indptr[row + 1]] = 0  # a row of explicitly stored zeros
    rows = np.stack([rng.choice(m, k, replace=False) for _ in range(n_rows)])
    signs = rng.choice(np.array([-1, 1], dtype=np.int8), (n_rows, k))
    S = np.zeros((m, n_rows))
    for j in range(n_rows):
        S[rows[j], j] = signs[j] * 0.5
    got = sparse_sketch_apply_fixed(rows, signs, 0.5, A, m)
    assert got.dtype == np.dtype(dtype)
    dense = A.toarray().astype(np.float64)
    bound = (np.abs(S) @ np.abs(dense)).max(initial=0.0)  # rounding: a few eps of sum |terms|
    assert_close(got, (S @ dense).astype(dtype), rtol=0, atol=4 * eps(dtype) * max(bound, 1.0))


@pytest.mark.parametrize(("n", "d"), [(5000, 300), (4099, 257), (300, 7)])  # fused; fused; BLAS
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numba_residual_gradient_equals_portable(n, d, dtype):
    from sketchla._array.kernels import _residual_gradient_numba, residual_gradient

    rng = np.random.default_rng(n)
    A = rng.standard_normal((n, d)).astype(dtype)
    x, b = rng.standard_normal(d).astype(dtype), rng.standard_normal(n).astype(dtype)
    r, g = _residual_gradient_numba.residual_gradient(A, x, b)
    r_ref, g_ref = residual_gradient.residual_gradient(A, x, b, xp=namespace_for("numpy"))
    assert r.dtype == g.dtype == np.dtype(dtype)
    # summation orders differ: a few roundoffs of the sums of |terms|
    bound_r = np.abs(A) @ np.abs(x) + np.abs(b)
    assert np.all(np.abs(r - r_ref) <= 4 * d * eps(dtype) * bound_r)
    bound_g = np.abs(A.T) @ (np.abs(r_ref) + (d + 1) * eps(dtype) * bound_r)
    assert np.all(np.abs(g - g_ref) <= 4 * n * eps(dtype) * bound_g)


@pytest.mark.parametrize(("n", "d"), [(200, 5), (1500, 3)])
def test_exact_residual_gradient_is_the_rounded_exact_value(n, d):
    """Double-double r and g against exact rational arithmetic, on a nearly consistent system
    where float64 loses most digits of the gradient."""
    from fractions import Fraction

    from sketchla._array.kernels._residual_gradient_exact_numba import residual_gradient_exact

    rng = np.random.default_rng(d)
    A, x = rng.standard_normal((n, d)), rng.standard_normal(d)
    b = A @ x + 1e-9 * rng.standard_normal(n)
    r, g = residual_gradient_exact(A, x, b)
    exact_r = [
        Fraction(b[i]) - sum(Fraction(A[i, j]) * Fraction(x[j]) for j in range(d)) for i in range(n)
    ]
    exact_g = [sum(Fraction(A[i, j]) * exact_r[i] for i in range(n)) for j in range(d)]
    assert_equal(r, np.array([float(v) for v in exact_r]))  # correctly rounded
    want = np.array([float(v) for v in exact_g])
    assert np.all(np.abs(g - want) <= 2 * eps("float64") * np.abs(want))


@given(
    m=st.integers(1, 3000),
    n=st.integers(1, 60),
    b=st.integers(1, 9),
    density=st.sampled_from([0.0, 0.01, 0.2, 1.0]),
    dtype=st.sampled_from(["float32", "float64"]),
    index_dtype=st.sampled_from(["int32", "int64"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_numba_normal_product_equals_dense(m, n, b, density, dtype, index_dtype, seed):
    from sketchla._array.kernels import _normal_product_numba, normal_product

    rng = np.random.default_rng(seed)
    A = sp.random_array((m, n), density=density, format="csr", rng=rng, dtype=dtype)
    indices, indptr = A.indices.astype(index_dtype), A.indptr.astype(index_dtype)
    X = rng.standard_normal((n, b)).astype(dtype)
    got = _normal_product_numba.normal_product(indptr, indices, A.data, n, X)
    portable = normal_product.normal_product(
        indptr, indices, A.data, n, X, xp=namespace_for("numpy")
    )
    dense = A.toarray().astype(np.float64)
    exact = dense.T @ (dense @ X.astype(np.float64))
    # rounding: a few roundoffs (per term of the longer sum) of the sums of |terms|
    bound = np.abs(dense.T) @ (np.abs(dense) @ np.abs(X.astype(np.float64)))
    for result in (got, portable):
        assert result.dtype == np.dtype(dtype)
        assert result.shape == (n, b)
        assert np.all(np.abs(result - exact) <= 2 * (m + n) * eps(dtype) * bound)


@given(
    grid=st.one_of(
        st.tuples(st.integers(1, 12), st.integers(1, 12)),
        st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7)),
    ),
    fraction=st.sampled_from([0.0, 0.3]),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_numba_poisson_apply_equals_portable(grid, fraction, dtype, seed):
    from sketchla._array.kernels import _poisson_numba, poisson

    rng = np.random.default_rng(seed)
    X = rng.standard_normal(grid).astype(dtype)
    fluid = (rng.random(grid) >= fraction).astype(dtype)
    diagonal = rng.integers(0, 7, size=grid).astype(dtype)
    got = _poisson_numba.poisson_apply(X, diagonal, fluid)
    expected = poisson.poisson_apply(X, diagonal, fluid, xp=namespace_for("numpy"))
    assert got.dtype == np.dtype(dtype)
    # at most 2 ndim + 1 terms, each exact (0/1 and small-integer factors): one rounding per add
    bound = 8 * eps(dtype) * (np.abs(diagonal * X) + 2 * len(grid) * np.abs(X).max())
    assert np.all(np.abs(got - expected) <= bound)
