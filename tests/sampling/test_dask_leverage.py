"""``leverage_scores`` on dask arrays: lazy scores equal to the in-memory ones for the same seed,
to rounding, for any row chunking (even, uneven, one chunk, split columns), exact and sketched
(with and without the Johnson-Lindenstrauss projection), ridge, zero rows, wide input, float32
and float64; the same bits on every scheduler; one pass over ``A`` for ``R`` and one when the
scores are computed (two for ``R`` when a second Cholesky QR or a TSQR is needed); the refusal of
bad input.

Bounds (from ``_sampling_problems``, derived from the dtype): exact scores within
``leverage_bound`` of the SVD reference (``2 sqrt(tau) delta + delta**2``,
``delta = 16 eps (n + d) (1 + kappa)``), so within twice that of the in-memory scores; their sum
within ``sum_bound`` of the rank. Sketched scores use the same sketch and projection as in memory
(the same seed), so they differ from the in-memory ones only by the rounding of the sketch and
of ``a_i^T P``: a relative ``16 eps (m + d) kappa`` each (``m`` the sketch's rows; see
``test_leverage``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _sampling_problems import (
    FAMILIES,
    FLOAT32_FAMILIES,
    as_dtype,
    backward_error,
    condition,
    f64,
    gaussian,
    heavy_tailed,
    leverage,
    leverage_bound,
    rank_deficient,
    ridge_leverage,
    sum_bound,
    with_zero_rows,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchla.sampling import leverage_scores

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

N, D = 1000, 6
CHUNKINGS = {
    "one-chunk": (N, D),
    "even": (250, D),
    "uneven": ((1, 299, 500, 200), (D,)),
    "split-columns": (333, 4),
}
CASES = [
    pytest.param(family, dtype, id=f"{family}-{dtype}")
    for family in FAMILIES
    for dtype in ("float64", "float32")
    if dtype == "float64" or family in FLOAT32_FAMILIES
]


def sketch_rounding(shape, eps: float, kappa: float, dtype) -> float:
    """``16 eps_dtype (m + d) kappa`` with the documented ``m = d / delta**2``,
    ``(1 - delta)**-2 = 1 + eps`` (no projection at the sizes used with it)."""
    d = shape[1]
    m = math.ceil(d / (1 - 1 / math.sqrt(1 + eps)) ** 2)
    return backward_error((m, d), dtype) * kappa


def assert_exact_equal(tau, reference_scores, A, rank, dtype, kappa=None):
    """Lazy, shaped, typed, within the bound of the SVD reference and twice it of the
    in-memory scores, summing to the rank."""
    assert isinstance(tau, da.Array)
    assert tau.shape == (A.shape[0],)
    assert tau.dtype == np.dtype(dtype)
    tau = tau.compute()
    A64 = f64(A)
    kappa = condition(A64, rank) if kappa is None else kappa
    reference = leverage(A64, rank)
    bound = leverage_bound(reference, A64.shape, kappa, dtype)
    assert np.all(np.abs(f64(tau) - reference) <= bound)
    assert np.all(np.abs(f64(tau) - f64(reference_scores)) <= 2 * bound)
    assert abs(float(np.sum(tau, dtype=np.float64)) - rank) <= sum_bound(rank, A64.shape, dtype)


def assert_sketch_equal(tau, reference, A, rank, eps, dtype):
    tau = tau.compute()
    assert tau.dtype == np.dtype(dtype)
    allowed = 2 * sketch_rounding(A.shape, eps, condition(A, rank), dtype)
    assert np.max(np.abs(f64(tau) / f64(reference) - 1)) <= allowed


# -- equal to the in-memory scores ----------------------------------------------------------


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize(("family", "dtype"), CASES)
def test_exact_equals_in_memory(chunks, family, dtype):
    A64, rank = FAMILIES[family](N, D, 1)
    A = as_dtype(A64, dtype)
    tau = leverage_scores(da.from_array(A, chunks=chunks))
    assert tau.chunks[0] == da.from_array(A, chunks=chunks).chunks[0]
    assert_exact_equal(tau, leverage_scores(A), A, rank, dtype)


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize(("family", "dtype"), CASES)
def test_sketch_equals_in_memory(chunks, family, dtype):
    """``n = 1000 > 32 d``: the sketch route, with the in-memory sketch of the same seed."""
    A64, rank = FAMILIES[family](N, D, 2)
    A = as_dtype(A64, dtype)
    reference = leverage_scores(A, method="sketch", seed=3)
    tau = leverage_scores(da.from_array(A, chunks=chunks), method="sketch", seed=3)
    assert isinstance(tau, da.Array)
    assert_sketch_equal(tau, reference, A, rank, 0.5, dtype)


def test_sketch_with_projection_equals_in_memory(monkeypatch):
    """The Johnson-Lindenstrauss projection (``k < d`` columns, drawn from the generator after
    the sketch, as in memory). The documented ``k = ceil(8 log(n) / e**2)`` is below ``d`` only
    for ``d`` in the hundreds and ``n`` in the tens of thousands, so ``k = 4`` is imposed here,
    on both paths; the sketch keeps its documented size for a projection."""
    import sketchla.sampling.leverage as module

    monkeypatch.setattr(module, "projection_columns", lambda n, eps: 4)
    A, rank = heavy_tailed(N, D, seed=4)
    reference = leverage_scores(A, method="sketch", seed=5)
    tau = leverage_scores(da.from_array(A, chunks=(300, D)), method="sketch", seed=5).compute()
    share = math.sqrt(1.5) - 1
    m = math.ceil(D / (1 - 1 / math.sqrt(1 + share)) ** 2)
    allowed = 2 * backward_error((m, D), "float64") * condition(A, rank)
    assert np.max(np.abs(tau / reference - 1)) <= allowed


@pytest.mark.parametrize("method", ["exact", "sketch"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ridge_equals_in_memory(method, dtype):
    A64, rank = heavy_tailed(N, D, seed=6)
    A = as_dtype(A64, dtype)
    lam = 0.3 * float(np.linalg.norm(A64, 2)) ** 2
    reference = leverage_scores(A, method=method, ridge=lam, seed=7)
    tau = leverage_scores(da.from_array(A, chunks=(300, D)), method=method, ridge=lam, seed=7)
    if method == "sketch":
        assert_sketch_equal(tau, reference, A, rank, 0.5, dtype)
        return
    tau = tau.compute()
    exact = ridge_leverage(A64, lam)
    bound = leverage_bound(exact, A.shape, condition(A64, rank), dtype)
    assert np.all(np.abs(f64(tau) - exact) <= bound)
    assert np.all(np.abs(f64(tau) - f64(reference)) <= 2 * bound)


@pytest.mark.parametrize("method", ["exact", "sketch"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_zero_rows_score_zero(method, dtype):
    A0, rank = gaussian(N, D, seed=8)
    A = as_dtype(with_zero_rows(A0, [0, 0, 500, N]), dtype)
    zero = np.all(A == 0, axis=1)
    tau = leverage_scores(da.from_array(A, chunks=(201, D)), method=method, seed=9).compute()
    assert np.array_equal(tau[zero], np.zeros(4, dtype=dtype))
    reference = leverage_scores(A, method=method, seed=9)
    if method == "exact":
        bound = leverage_bound(leverage(A, rank), A.shape, condition(A, rank), dtype)
        assert np.all(np.abs(f64(tau) - f64(reference)) <= 2 * bound)
    else:
        allowed = 2 * sketch_rounding(A.shape, 0.5, condition(A, rank), dtype)
        assert np.max(np.abs(f64(tau[~zero]) / f64(reference[~zero]) - 1)) <= allowed


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rank", [1, 3])
def test_rank_deficient_sums_to_rank(dtype, rank):
    A64, r = rank_deficient(N, D, seed=rank, rank=rank)
    A = as_dtype(A64, dtype)
    tau = leverage_scores(da.from_array(A, chunks=(130, D)))
    assert_exact_equal(tau, leverage_scores(A), A, r, dtype)
    assert round(float(np.sum(tau.compute(), dtype=np.float64))) == r


@pytest.mark.parametrize(("n", "d"), [(1, 5), (7, 30), (20, 21)])
def test_wide_input(n, d):
    """Fewer rows than columns: ``R`` from the TSQR is ``n x d``; every score 1."""
    A, rank = gaussian(n, d, seed=n + d)
    tau = leverage_scores(da.from_array(A, chunks=(3, d)))
    assert_exact_equal(tau, leverage_scores(A), A, rank, "float64")


def test_integers_are_promoted():
    A = np.random.default_rng(10).integers(-4, 5, size=(N, D))
    tau = leverage_scores(da.from_array(A, chunks=(250, D)))
    assert tau.dtype == np.float64
    assert_exact_equal(tau, leverage_scores(A), A.astype(float), D, "float64")


@settings(max_examples=10, deadline=None)
@given(
    cuts=st.lists(st.integers(1, N - 1), max_size=6, unique=True),
    method=st.sampled_from(["exact", "sketch"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_row_chunking_gives_the_in_memory_scores(cuts, method, seed):
    A, rank = heavy_tailed(N, D, seed=seed % 11)
    bounds = [0, *sorted(cuts), N]
    chunks = (tuple(np.diff(bounds).tolist()), (D,))
    reference = leverage_scores(A, method=method, seed=seed)
    tau = leverage_scores(da.from_array(A, chunks=chunks), method=method, seed=seed)
    if method == "exact":
        assert_exact_equal(tau, reference, A, rank, "float64")
    else:
        assert_sketch_equal(tau, reference, A, rank, 0.5, "float64")


# -- schedulers, laziness and passes --------------------------------------------------------


def both_scores(A):
    exact = leverage_scores(A).compute()
    return exact, leverage_scores(A, method="sketch", seed=11).compute()


def test_threads_and_synchronous_give_identical_bits():
    A = da.from_array(heavy_tailed(N, D, seed=12)[0], chunks=(97, D))
    with dask.config.set(scheduler="threads"):
        threads = both_scores(A)
    with dask.config.set(scheduler="synchronous"):
        serial = both_scores(A)
    for x, y in zip(serial, threads, strict=True):
        np.testing.assert_array_equal(x, y)


def test_distributed_gives_the_bits_of_the_threads_scheduler():
    distributed = pytest.importorskip("distributed")
    A = da.from_array(heavy_tailed(N, D, seed=12)[0], chunks=(97, D))
    with dask.config.set(scheduler="threads"):
        threads = both_scores(A)
    cluster = distributed.LocalCluster(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    )
    with cluster, distributed.Client(cluster):
        got = both_scores(A)
    for x, y in zip(got, threads, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    ("method", "family", "passes"),
    [
        ("sketch", "heavy-tailed", 1),  # S A
        ("exact", "orthonormal", 1),  # A^T A, Cholesky QR once (scaled condition <= 2)
        ("exact", "heavy-tailed", 2),  # and the Gram matrix of A R_1^-1
        ("exact", "rank-deficient", 2),  # A^T A has no Cholesky factor: then a TSQR
    ],
)
def test_passes_for_R_and_one_for_the_scores(method, family, passes, dask_reads):
    if family == "orthonormal":
        A = np.linalg.qr(np.random.default_rng(13).standard_normal((N, D)))[0]
    else:
        A = FAMILIES[family](N, D, 13)[0]
    lazy, reads = dask_reads(A, (200, D))
    tau = leverage_scores(lazy, method=method, seed=14)
    assert set(reads.values()) == {passes}
    assert len(reads) == 5
    assert isinstance(tau, da.Array)
    tau.compute()
    assert set(reads.values()) == {passes + 1}


# -- bad input ----------------------------------------------------------------------------------


def test_bad_dask_input_is_refused_before_any_pass(dask_reads):
    A, reads = dask_reads(np.ones((N, D)), (100, D))
    with pytest.raises(ValueError, match="method must be one of"):
        leverage_scores(A, method="qr")
    with pytest.raises(ValueError, match="ridge must be"):
        leverage_scores(A, ridge=-1.0)
    with pytest.raises(ValueError, match="A must be 2-D"):
        leverage_scores(da.zeros(N, chunks=100))
    with pytest.raises(ValueError, match="A must be 2-D"):
        leverage_scores(da.zeros((N, D, 2), chunks=100))
    with pytest.raises(TypeError, match="A must be real"):
        leverage_scores(da.zeros((N, D), chunks=100, dtype=complex))
    with pytest.raises(ValueError, match="at least one row and one column"):
        leverage_scores(da.zeros((0, D), chunks=100))
    with pytest.raises(TypeError, match="A must have NumPy chunks"):
        leverage_scores(da.ma.masked_equal(da.zeros((N, D), chunks=100), 1.0))
    unknown = da.from_array(np.ones((N, D)), chunks=(100, D))
    unknown = unknown[unknown[:, 0] > 0]  # unknown row chunks
    with pytest.raises(ValueError, match="A must have known chunk sizes"):
        leverage_scores(unknown)
    assert not reads


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("method", ["exact", "sketch"])
def test_non_finite_entries_are_refused(bad, method):
    A = gaussian(N, D, seed=15)[0]
    A[321, 2] = bad
    with pytest.raises(ValueError, match="A must hold only finite values"):
        leverage_scores(da.from_array(A, chunks=(100, D)), method=method, seed=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_overflow_is_told_apart_from_non_finite_input():
    """Finite float32 entries near the top of the range: ``R``'s entries (``~ sqrt(n)`` times
    theirs) overflow; a pass over ``A``, on this error path only, tells it from NaN."""
    A = gaussian(N, D, seed=16)[0].astype(np.float32) * np.float32(3e37)
    with pytest.raises(ValueError, match="A is too large for float32"):
        leverage_scores(da.from_array(A, chunks=(100, D)))
