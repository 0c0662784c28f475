"""``range_finder`` and ``rsvd`` on dask arrays: the in-memory result for the same seed, to
rounding, for any row chunking (even, uneven, one chunk, split columns), on float32 and float64,
well-conditioned, rapidly decaying and rank-deficient spectra; the same bits on every scheduler
(threads, synchronous, an in-process distributed cluster); lazy results; the documented number
of passes over ``A``; and the refusal of bad input before any pass.

Tolerances (from ``_lowrank_problems``, derived from the dtype): both results are backward
stable, each within ``recovery_tolerance = 16 eps (m + n)`` (relative to ``||A||_2``) of the
approximation it computes, so

* singular values agree to ``2 recovery_tolerance ||A||`` (they are perfectly conditioned);
* singular vectors to that over the gap ``min_j |sigma_j - sigma_i|`` (Wedin);
* the range finder's basis, column by column, to ``2 recovery_tolerance kappa(K)`` with
  ``K = (A A^T)^q A Omega``: column ``j`` of a QR factor moves by the relative perturbation of
  the first ``j`` columns times their condition number (the in-memory iteration's normalisations
  keep the columns' nested spans, which are those of ``K``). Where ``kappa(K)`` is too large for
  that to say anything (rapidly decaying and rank-deficient spectra), what the basis captures,
  ``||A - Q Q^T A||``, and the approximation errors are compared instead;
* orthonormality to ``orthonormality_tolerance``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _lowrank_problems import (
    f64,
    low_rank,
    orthonormality,
    orthonormality_tolerance,
    reconstruct,
    recovery_tolerance,
    spectral,
    spectrum,
    with_spectrum,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchla.lowrank import range_finder, rsvd
from sketchla.random import Generator
from sketchla.sketch import sketch_operator

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

M, N = 300, 40
CHUNKINGS = {
    "one-chunk": (M, N),
    "even": (75, N),
    "uneven": ((1, 36, 150, 113), (N,)),
    "split-columns": (97, 15),
}


def well_conditioned(dtype="float64", seed=0):
    """``sigma = exp(-(j - 1) / 3)``, 40 values: distinct (gaps ``0.28 sigma_j``), and ``Y``
    well conditioned for the blockwise Cholesky QR after a power iteration."""
    sigma = spectrum("fast", N)
    return with_spectrum(M, N, sigma, seed)[0].astype(dtype), sigma


def singular_gap(sigma, k):
    """``min_{j <= k, i != j} |sigma_j - sigma_i|``."""
    sigma = np.asarray(sigma, dtype=np.float64)
    gaps = np.abs(sigma[:k, None] - sigma[None, :])
    gaps[np.arange(k), np.arange(k)] = np.inf
    return float(gaps.min())


def krylov_condition(A, width, power_iters, seed, sketch="gaussian"):
    """``kappa(K)``, ``K = (A A^T)^q A Omega`` in float64, ``Omega`` the test matrix of the
    seed (the same draw as the range finder's)."""
    A = f64(A)
    S = sketch_operator(sketch, width, A.shape[1], seed=Generator(seed))
    K = A @ S.to_dense().T
    for _ in range(power_iters):
        K = A @ (A.T @ K)
    return float(np.linalg.cond(K))


def assert_svd_matches(result, reference, A, sigma, k):
    """``s``, ``U``, ``Vh`` of the dask ``result`` against the in-memory ``reference``."""
    U = result.U.compute()
    dtype = reference.s.dtype
    rounding = 2 * recovery_tolerance(A.shape, dtype) * spectral(A)
    assert np.max(np.abs(f64(result.s) - f64(reference.s))) <= rounding
    vectors = rounding / singular_gap(sigma, k)
    assert np.max(np.abs(f64(U) - f64(reference.U))) <= vectors
    assert np.max(np.abs(f64(result.Vh) - f64(reference.Vh))) <= vectors
    error = spectral(f64(A) - reconstruct(U, result.s, result.Vh))
    reference_error = spectral(f64(A) - reconstruct(reference.U, reference.s, reference.Vh))
    assert abs(error - reference_error) <= rounding


# -- equal to the in-memory result ----------------------------------------------------------


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("power_iters", [0, 1, 2])
def test_rsvd_equals_in_memory(chunks, dtype, power_iters):
    A, sigma = well_conditioned(dtype)
    reference = rsvd(A, 8, power_iters=power_iters, seed=3)
    result = rsvd(da.from_array(A, chunks=chunks), 8, power_iters=power_iters, seed=3)
    assert isinstance(result.U, da.Array)
    assert isinstance(result.s, np.ndarray)
    assert isinstance(result.Vh, np.ndarray)
    assert result.U.shape == (M, 8)
    assert result.s.shape == (8,)
    assert result.Vh.shape == (8, N)
    assert result.U.dtype == result.s.dtype == result.Vh.dtype == np.dtype(dtype)
    assert_svd_matches(result, reference, A, sigma, 8)


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rsvd_of_exactly_low_rank_equals_in_memory(chunks, dtype):
    """Rank 12 (``kappa = 10``), ``k = 12``: ``l = 22`` columns sample a 12-dimensional range,
    so ``Y`` is numerically rank deficient and the blockwise orthonormalisation is a TSQR."""
    A, _, sigma, _ = low_rank(M, N, 12, seed=4, kappa=10.0)
    A = A.astype(dtype)
    reference = rsvd(A, 12, seed=5)
    result = rsvd(da.from_array(A, chunks=chunks), 12, seed=5)
    assert_svd_matches(result, reference, A, np.append(sigma, 0.0), 12)
    error = spectral(f64(A) - reconstruct(result.U.compute(), result.s, result.Vh))
    assert error <= recovery_tolerance(A.shape, dtype) * spectral(A)


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("power_iters", [0, 1, 2])
def test_range_finder_equals_in_memory_column_by_column(chunks, power_iters):
    """A slowly decaying spectrum (``1 / j``) in float64, a flat one in float32 (where
    ``kappa(K)`` stays small enough for the comparison): the same columns, not just the same
    span (the power iteration's rotation is tracked)."""
    slow = with_spectrum(M, N, spectrum("slow", N), seed=6)[0]
    check_range_columns(slow, chunks, 8, power_iters)
    flat = with_spectrum(M, N, np.logspace(0, -0.3, N), seed=6)[0].astype("float32")
    check_range_columns(flat, chunks, 8, power_iters)


def check_range_columns(A, chunks, k, power_iters):
    reference = range_finder(A, k, power_iters=power_iters, seed=7)
    Q = range_finder(da.from_array(A, chunks=chunks), k, power_iters=power_iters, seed=7)
    assert isinstance(Q, da.Array)
    assert Q.shape == reference.shape
    assert Q.dtype == A.dtype
    Q = Q.compute()
    width = reference.shape[1]
    assert orthonormality(Q) <= orthonormality_tolerance(width, A.dtype)
    # the in-memory result's signs are LAPACK's where it falls back to a Householder QR
    Q = Q * np.sign(np.sum(f64(Q) * f64(reference), axis=0))
    kappa = krylov_condition(A, width, power_iters, seed=7)
    tolerance = 2 * recovery_tolerance(A.shape, A.dtype) * kappa
    assert tolerance < 0.1  # (the comparison says something)
    assert np.max(np.abs(f64(Q) - f64(reference))) <= tolerance


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("power_iters", [0, 1, 2])
def test_rapidly_decaying_spectrum_keeps_the_in_memory_accuracy(dtype, power_iters):
    """``sigma_j = 10^-(j - 1) / 2``, far below ``sqrt(u)`` within the sample: forming
    ``A^T A X`` would lose the directions below ``sqrt(u) sigma_1``. The approximation error
    and the captured range are those of the in-memory algorithm, to rounding."""
    sigma = 10.0 ** (-np.arange(N) / 2)
    A = with_spectrum(M, N, sigma, seed=8)[0].astype(dtype)
    rounding = 2 * recovery_tolerance(A.shape, dtype) * spectral(A)
    reference = rsvd(A, 10, power_iters=power_iters, seed=9)
    result = rsvd(da.from_array(A, chunks=(70, N)), 10, power_iters=power_iters, seed=9)
    U = result.U.compute()
    error = spectral(f64(A) - reconstruct(U, result.s, result.Vh))
    reference_error = spectral(f64(A) - reconstruct(reference.U, reference.s, reference.Vh))
    assert error <= reference_error + rounding
    assert np.max(np.abs(f64(result.s) - f64(reference.s))) <= rounding
    assert orthonormality(U) <= orthonormality_tolerance(10, dtype)
    Q = range_finder(da.from_array(A, chunks=(70, N)), 10, power_iters=power_iters, seed=9)
    Q = f64(Q.compute())
    Q0 = f64(range_finder(A, 10, power_iters=power_iters, seed=9))
    captured = spectral(f64(A) - Q @ (Q.T @ f64(A)))
    assert captured <= spectral(f64(A) - Q0 @ (Q0.T @ f64(A))) + rounding


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("power_iters", [0, 2])
def test_rank_deficient(dtype, power_iters):
    """Rank 5, ``k = 8``: the top 5 singular triplets as in memory, the other singular values
    at rounding level, ``A`` recovered, and a range basis that captures ``A`` (its trailing
    columns, in the noise, are arbitrary in memory too)."""
    A, _, sigma, _ = low_rank(M, N, 5, seed=10, kappa=100.0)
    A = A.astype(dtype)
    rounding = 2 * recovery_tolerance(A.shape, dtype) * spectral(A)
    reference = rsvd(A, 8, power_iters=power_iters, seed=11)
    result = rsvd(da.from_array(A, chunks=(64, N)), 8, power_iters=power_iters, seed=11)
    U = result.U.compute()
    assert np.max(np.abs(f64(result.s[:5]) - sigma)) <= rounding
    assert np.max(f64(result.s[5:])) <= rounding
    vectors = rounding / singular_gap(np.append(sigma, 0.0), 5)
    assert np.max(np.abs(f64(U[:, :5]) - f64(reference.U[:, :5]))) <= vectors
    assert np.max(np.abs(f64(result.Vh[:5]) - f64(reference.Vh[:5]))) <= vectors
    assert spectral(f64(A) - reconstruct(U, result.s, result.Vh)) <= rounding
    assert orthonormality(U) <= orthonormality_tolerance(8, dtype)
    Q = f64(range_finder(da.from_array(A, chunks=(64, N)), 8, power_iters=power_iters, seed=11))
    assert orthonormality(Q) <= orthonormality_tolerance(18, dtype)
    assert spectral(f64(A) - Q @ (Q.T @ f64(A))) <= rounding


@pytest.mark.parametrize("sketch", ["rademacher", "srht", "saso"])
def test_other_sketch_families(sketch):
    """The dask path forms every test matrix densely (``n x l``, small): sparse families then
    equal the in-memory result to rounding (their sums run in another order). Not CountSketch
    here: 40 columns hashed into 16 buckets leave some empty, ``Omega`` has zero columns, and
    both paths complete the basis with arbitrary directions."""
    A, sigma = well_conditioned()
    reference = rsvd(A, 6, sketch=sketch, seed=12)
    result = rsvd(da.from_array(A, chunks=(50, N)), 6, sketch=sketch, seed=12)
    assert_svd_matches(result, reference, A, sigma, 6)


def test_normalizer_is_not_used_and_integers_are_promoted():
    A, sigma = well_conditioned()
    reference = rsvd(A, 6, seed=13)
    for normalizer in ["qr", "lu", "none"]:
        result = rsvd(da.from_array(A, chunks=(50, N)), 6, normalizer=normalizer, seed=13)
        assert_svd_matches(result, reference, A, sigma, 6)
    integers = np.random.default_rng(14).integers(-3, 4, size=(M, N))
    result = rsvd(da.from_array(integers, chunks=(50, N)), 4, seed=15)
    assert result.U.dtype == result.s.dtype == np.float64
    reference = rsvd(integers, 4, seed=15)
    rounding = 2 * recovery_tolerance(integers.shape, np.float64) * spectral(integers)
    assert np.max(np.abs(result.s - reference.s)) <= rounding


def test_one_row_blocks_and_a_single_column():
    A = np.random.default_rng(16).standard_normal((30, 4))
    for chunks, k in [((1, 4), 3), ((7, 1), 4)]:
        reference = rsvd(A, k, seed=17)
        result = rsvd(da.from_array(A, chunks=chunks), k, seed=17)
        rounding = 2 * recovery_tolerance(A.shape, np.float64) * spectral(A)
        assert np.max(np.abs(result.s - reference.s)) <= rounding
    column = A[:, :1]
    result = rsvd(da.from_array(column, chunks=(7, 1)), 1, seed=18)
    np.testing.assert_allclose(result.s, [np.linalg.norm(column)], rtol=1e-14)
    np.testing.assert_allclose(result.U.compute() * result.s * result.Vh, column, atol=1e-14)


@settings(max_examples=8, deadline=None)
@given(
    cuts=st.lists(st.integers(1, M - 1), max_size=5, unique=True),
    power_iters=st.integers(0, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_row_chunking_gives_the_in_memory_result(cuts, power_iters, seed):
    A, sigma = well_conditioned(seed=seed % 7)
    bounds = [0, *sorted(cuts), M]
    chunks = (tuple(np.diff(bounds).tolist()), (N,))
    reference = rsvd(A, 5, power_iters=power_iters, seed=seed)
    result = rsvd(da.from_array(A, chunks=chunks), 5, power_iters=power_iters, seed=seed)
    assert_svd_matches(result, reference, A, sigma, 5)
    slow = with_spectrum(M, N, spectrum("slow", N), seed=seed % 7)[0]
    check_range_columns(slow, chunks, 5, power_iters)


# -- schedulers, laziness and passes ------------------------------------------------------------


def outputs(A, scheduler=None):
    """rsvd's and range_finder's results (computed) under ``scheduler`` (None: the current)."""
    with dask.config.set(scheduler=scheduler) if scheduler else _nothing():
        U, s, Vh = rsvd(A, 6, seed=19)
        Q = range_finder(A, 6, power_iters=1, seed=19)
        return U.compute(), s, Vh, Q.compute()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_threads_and_synchronous_give_identical_bits():
    A = da.from_array(well_conditioned()[0], chunks=(37, 20))
    threads = outputs(A, "threads")
    for got in [outputs(A, "synchronous"), outputs(A, "threads")]:
        for x, y in zip(got, threads, strict=True):
            np.testing.assert_array_equal(x, y)


def test_distributed_gives_the_bits_of_the_threads_scheduler():
    distributed = pytest.importorskip("distributed")
    A = da.from_array(well_conditioned()[0], chunks=(37, 20))
    threads = outputs(A, "threads")
    cluster = distributed.LocalCluster(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    )
    with cluster, distributed.Client(cluster):
        got = outputs(A)
    for x, y in zip(got, threads, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("power_iters", [0, 1, 2])
def test_passes_over_A_and_lazy_results(power_iters, dask_reads):
    """``range_finder`` reads every block of ``A`` ``power_iters + 2`` times (once without power
    iterations): the first iteration takes two passes, each later one and the last sample one.
    So does ``rsvd`` (``B`` needs no pass of its own; without power iterations, on this
    ill-conditioned sample, ``B = Q^T A`` takes one). Computing ``Q`` or ``U`` reads only the
    kept block, not ``A``."""
    A, _ = well_conditioned()
    lazy, reads = dask_reads(A, (60, N))
    expected = power_iters + 2 if power_iters else 1
    Q = range_finder(lazy, 5, power_iters=power_iters, seed=20)
    assert set(reads.values()) == {expected}
    assert len(reads) == 5
    Q.compute()
    assert set(reads.values()) == {expected}
    reads.clear()
    result = rsvd(lazy, 5, power_iters=power_iters, seed=20)
    expected = power_iters + 2
    assert set(reads.values()) == {expected}
    assert isinstance(result.U, da.Array)
    assert result.U.chunks == ((60,) * 5, (5,))
    result.U.compute()
    assert set(reads.values()) == {expected}


# -- bad input ----------------------------------------------------------------------------------


def test_bad_dask_input_is_refused_before_any_pass(dask_reads):
    A, reads = dask_reads(np.ones((M, N)), (50, N))
    with pytest.raises(ValueError, match="tol is not supported for a dask A"):
        rsvd(A, 5, tol=1e-3)
    with pytest.raises(ValueError, match="tol is not supported for a dask A"):
        rsvd(A, tol=1e-3)
    with pytest.raises(ValueError, match="k must be at most min"):
        rsvd(A, N + 1)
    with pytest.raises(ValueError, match="a dask A must have at least as many rows as columns"):
        rsvd(da.zeros((N, M), chunks=10), 3)
    with pytest.raises(ValueError, match="a dask A must have at least as many rows as columns"):
        range_finder(da.zeros((N, M), chunks=10), 3)
    with pytest.raises(ValueError, match="A must be 2-D"):
        range_finder(da.zeros((M, N, 2), chunks=50), 3)
    with pytest.raises(ValueError, match="A must be 2-D"):
        rsvd(da.zeros(M, chunks=50), 1)
    with pytest.raises(TypeError, match="A must be real"):
        rsvd(da.zeros((M, N), chunks=50, dtype=complex), 3)
    with pytest.raises(TypeError, match="A must be real"):
        range_finder(da.from_array(np.array([["a"] * N] * M)), 3)
    with pytest.raises(ValueError, match="at least one row and one column"):
        rsvd(da.zeros((0, 0), chunks=1), 1)
    with pytest.raises(TypeError, match="A must have NumPy chunks, got chunks of type Masked"):
        rsvd(da.ma.masked_equal(da.zeros((M, N), chunks=50), 1.0), 3)
    unknown = da.from_array(np.ones((M, N)), chunks=(50, N))
    unknown = unknown[unknown[:, 0] > 0]  # unknown row chunks
    with pytest.raises(ValueError, match="A must have known chunk sizes"):
        rsvd(unknown, 3)
    with pytest.raises(ValueError, match="A must have known chunk sizes"):
        range_finder(unknown, 3)
    assert not reads  # nothing was read


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("power_iters", [0, 2])
def test_non_finite_entries_are_refused(bad, power_iters):
    A = well_conditioned()[0]
    A[123, 7] = bad
    lazy = da.from_array(A, chunks=(50, N))
    with pytest.raises(ValueError, match="A must hold only finite values"):
        rsvd(lazy, 5, power_iters=power_iters, seed=0)
    with pytest.raises(ValueError, match="A must hold only finite values"):
        range_finder(lazy, 5, power_iters=power_iters, seed=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_overflow_is_told_apart_from_non_finite_input():
    """float32 entries near ``1e19``: their Gram sums overflow (a limit of the blockwise path; in
    memory a Householder QR takes over). Refused with its own message."""
    A = (well_conditioned("float32")[0] * np.float32(1e21)).astype(np.float32)
    with pytest.raises(ValueError, match="A is too large for float32"):
        rsvd(da.from_array(A, chunks=(50, N)), 5, seed=0)
