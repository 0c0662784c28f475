"""``sketchla._array.gram``: ``A^T A`` and ``A^T b`` split over row blocks, and the BLAS-thread
helpers around it.

The products are compared entrywise with an extended-precision reference. A split only changes
the order of the summation, so the tolerance is a rounding bound on an inner product of length
``n`` in the dtype: ``|fl(x^T y) - x^T y| <= lambda sqrt(n) u |x|^T |y|`` (Higham & Mary,
"A new approach to probabilistic rounding error analysis", 2019), which holds for any summation
order with probability at least ``1 - 2 n exp(-lambda**2 / 2)``; ``lambda = 6`` makes a spurious
failure improbable (< 1e-3 over every entry here). Measured: at most ``4.2 u`` (float32 and
float64, n <= 12 500), against ``6 sqrt(n) u >= 424 u``. A missing, repeated or misplaced block
moves an entry by a fraction ``>= 1 / blocks`` of ``|A|^T |A|``, far above the bound.
"""

from __future__ import annotations

import functools
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from sketchla._array import gram as gram_module
from sketchla._array.gram import blas_threads, gram, one_blas_thread
from sketchla.testing import eps

D = 20
LAMBDA = 6.0  # probabilistic rounding bound: failure probability 2 n exp(-LAMBDA**2 / 2)


def _problem(dtype: str, n: int, k: int, d: int = D, order: str = "C"):
    rng = np.random.default_rng(n + 10 * k + d)
    A = np.asarray(rng.standard_normal((n, d)), dtype=dtype, order=order)
    b = np.asarray(rng.standard_normal((n, k)), dtype=dtype, order=order)
    return A, b


@functools.cache
def _reference(dtype: str, n: int, k: int, d: int = D):
    """``(A^T A, A^T b, |A|^T |A|, |A|^T |b|)`` in extended precision (float64 for float32
    data: every product is exact and the sums' rounding is 2**-29 below float32's)."""
    A, b = _problem(dtype, n, k, d)
    wide = np.float64 if dtype == "float32" else np.longdouble
    A, b = A.astype(wide), b.astype(wide)
    return A.T @ A, A.T @ b, np.abs(A).T @ np.abs(A), np.abs(A).T @ np.abs(b)


def _needs_extended(dtype: str) -> None:
    if dtype == "float64" and np.finfo(np.longdouble).eps > 1e-18:
        pytest.skip("needs an extended-precision long double for a float64 reference")


def _assert_rounding_close(actual, exact, magnitude, n: int, dtype: str) -> None:
    unit = eps(dtype) / 2
    bound = LAMBDA * np.sqrt(n) * unit * magnitude
    error = np.abs(actual.astype(exact.dtype) - exact)
    worst = float(np.max(error / magnitude) / unit)
    assert np.all(error <= bound), f"max error {worst:.1f} u |A|^T|A|, allowed {bound.max():.2e}"


def _expected_blocks(n: int, d: int, threads: int, min_rows: int) -> int:
    return max(1, min(threads, n // max(min_rows, d)))


# n = 5000: one block whatever the threads; 9000: two blocks from two threads; 12 500: three
# blocks from three threads (each block at least 4096 rows).
@pytest.mark.parametrize("n", [5000, 9000, 12_500])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gram_equals_the_products_to_rounding(dtype, k, threads, n):
    _needs_extended(dtype)
    A, b = _problem(dtype, n, k)
    G, c = gram(A, b, threads)
    assert G.dtype == A.dtype
    assert c.dtype == A.dtype
    assert G.shape == (D, D)
    assert c.shape == (D, k)
    exact_G, exact_c, abs_G, abs_c = _reference(dtype, n, k)
    _assert_rounding_close(G, exact_G, abs_G, n, dtype)
    _assert_rounding_close(c, exact_c, abs_c, n, dtype)


@pytest.mark.parametrize("order", ["C", "F"])
def test_gram_on_fortran_ordered_and_read_only_inputs_leaves_them_untouched(order):
    """Row-block slices of a Fortran-ordered ``A`` are strided views: the products must not
    depend on the layout, and nothing may be written into ``A`` or ``b``."""
    _needs_extended("float64")
    n, k = 12_500, 3
    A, b = _problem("float64", n, k, order=order)
    A_copy, b_copy = A.copy(order="K"), b.copy(order="K")
    A.flags.writeable = b.flags.writeable = False  # a write would raise
    G, c = gram(A, b, 3)
    np.testing.assert_array_equal(A, A_copy, strict=True)
    np.testing.assert_array_equal(b, b_copy, strict=True)
    assert A.flags.f_contiguous == (order == "F")
    exact_G, exact_c, abs_G, abs_c = _reference("float64", n, k)
    _assert_rounding_close(G, exact_G, abs_G, n, "float64")
    _assert_rounding_close(c, exact_c, abs_c, n, "float64")


@pytest.fixture
def recording_pool(monkeypatch):
    """``gram``'s ``ThreadPoolExecutor`` replaced by one that records, per pool, the workers,
    the row blocks mapped and the BLAS threads at the time (the ``calls`` list)."""
    calls = []

    class RecordingPool(ThreadPoolExecutor):
        def __init__(self, workers):
            super().__init__(workers)
            self.workers = workers

        def map(self, function, rows):
            rows = list(rows)
            calls.append((self.workers, rows, blas_threads()))
            return super().map(function, rows)

    monkeypatch.setattr(gram_module, "ThreadPoolExecutor", RecordingPool)
    return calls


@pytest.mark.parametrize(
    ("n", "d", "threads"),
    [
        (100, 5, 3),  # three blocks of 33-34 rows (at least 8)
        (100, 30, 3),  # d > 8 rows: blocks of at least 30 rows, three of them
        (100, 40, 3),  # 100 // 40 = 2 blocks
        (70, 40, 3),  # 70 // 40 = 1: one call, no threads
        (100, 5, 1),  # one thread: one call
        (17, 5, 2),  # two blocks of 8 and 9 rows
        (15, 5, 2),  # 15 // 8 = 1: no split
    ],
    ids=str,
)
def test_blocks_have_at_least_max_of_min_rows_and_d_rows(
    recording_pool, monkeypatch, n, d, threads
):
    """The splitting rule at small sizes (``_MIN_BLOCK_ROWS`` lowered to 8; the rule with a
    ``d`` above 4096 would need a matrix of hundreds of megabytes): ``min(threads, n // max(8,
    d))`` contiguous blocks covering the rows once, each of at least ``max(8, d)`` rows, summed
    to the products; BLAS single-threaded while the blocks run."""
    monkeypatch.setattr(gram_module, "_MIN_BLOCK_ROWS", 8)
    _needs_extended("float64")
    rng = np.random.default_rng(n * d)
    A, b = rng.standard_normal((n, d)), rng.standard_normal((n, 2))
    G, c = gram(A, b, threads)
    blocks = _expected_blocks(n, d, threads, 8)
    if blocks == 1:
        assert recording_pool == []
    else:
        [(workers, rows, blas_inside)] = recording_pool
        assert workers == blocks
        assert len(rows) == blocks
        assert blas_inside == 1
        assert rows[0].start == 0
        assert rows[-1].stop == n
        assert all(left.stop == right.start for left, right in itertools.pairwise(rows))
        assert min(s.stop - s.start for s in rows) >= max(8, d)
    Al, bl = A.astype(np.longdouble), b.astype(np.longdouble)
    _assert_rounding_close(G, Al.T @ Al, np.abs(Al).T @ np.abs(Al), n, "float64")
    _assert_rounding_close(c, Al.T @ bl, np.abs(Al).T @ np.abs(bl), n, "float64")


def test_the_default_split_threshold_is_4096_rows(recording_pool):
    """``n = 2 * 4096 - 1`` rows: one block; ``2 * 4096``: two."""
    assert gram_module._MIN_BLOCK_ROWS == 4096
    for n, expected in [(2 * 4096 - 1, 0), (2 * 4096, 1)]:
        A, b = _problem("float64", n, 1, d=4)
        gram(A, b, 4)
        assert len(recording_pool) == expected
    [(workers, rows, _)] = recording_pool
    assert workers == 2
    assert [(s.start, s.stop) for s in rows] == [(0, 4096), (4096, 8192)]


def _blas_counts() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    """BLAS at two threads (where it can run two), so that one thread is a change."""
    if not _blas_counts():
        pytest.skip("threadpoolctl finds no BLAS library")
    with threadpool_limits(limits=2, user_api="blas"):
        if max(_blas_counts()) < 2:
            pytest.skip("BLAS runs a single thread here: nothing to restore")
        yield _blas_counts()


def test_one_blas_thread_limits_blas_and_restores_it(two_blas_threads):
    before = two_blas_threads
    assert blas_threads() == max(before)
    with one_blas_thread():
        assert _blas_counts() == [1] * len(before)
        assert blas_threads() == 1
    assert _blas_counts() == before
    assert blas_threads() == max(before)
    with one_blas_thread(), one_blas_thread():  # re-entered, nested
        assert blas_threads() == 1
    assert _blas_counts() == before


def test_one_blas_thread_restores_after_an_exception(two_blas_threads):
    before, inside = two_blas_threads, []

    def fail_inside():
        with one_blas_thread():
            inside.append(blas_threads())
            raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        fail_inside()
    assert inside == [1]
    assert _blas_counts() == before


def test_a_split_gram_leaves_the_blas_threads_as_they_were(two_blas_threads):
    before = two_blas_threads
    A, b = _problem("float64", 9000, 1)
    gram(A, b, 2)  # two blocks, under one_blas_thread
    assert _blas_counts() == before
