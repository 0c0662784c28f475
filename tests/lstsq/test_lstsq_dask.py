"""``lstsq`` on dask arrays: the matrix stays in its row blocks, the answer is the in-memory one.

The refinement ends, on float64 data, with double-double gradients summed across blocks in
double-double, so that the distributed solution converges to the least-squares solution of the
float64 data (checked against mpmath) as the in-memory one does; different chunkings and
schedulers then agree to the last digits.
"""

from __future__ import annotations

import numpy as np
import pytest
from _lstsq_problems import (
    U64,
    agreement_bound,
    conditioned,
    exact_lstsq,
    gaussian,
    lapack,
    rank_deficient,
    relative,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchla.lstsq import lstsq
from sketchla.testing import eps

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

N, D = 3000, 12
CHUNKINGS = [(N, D), (500, D), (777, 5), (1200, 1)]


@pytest.mark.parametrize("kappa", [1.0, 1e4, 1e10])
@pytest.mark.parametrize("method", ["auto", "sketch_and_precondition"])
def test_solution_of_the_float64_data_for_every_chunking(kappa, method):
    A, b = conditioned(N, D, kappa, seed=3)
    exact = exact_lstsq(A, b)
    in_memory = lstsq(A, b, method=method, seed=0)
    level = 16 * U64 * (1 + kappa)  # exact gradients: no kappa**2 term
    assert relative(in_memory.x, exact) <= level
    for chunks in CHUNKINGS:
        result = lstsq(da.from_array(A, chunks=chunks), b, method=method, seed=0)
        assert isinstance(result.x, np.ndarray)
        assert result.converged
        assert relative(result.x, exact) <= level, chunks
        assert relative(result.x, in_memory.x) <= 2 * level, chunks


def test_gram_route_and_its_hand_over_to_the_sketch():
    well, b = conditioned(N, D, 10.0, seed=4)
    assert lstsq(da.from_array(well, chunks=400), b, seed=0).method == "gram_precondition"
    ill, b = conditioned(N, D, 1e12, seed=4)  # u kappa**2 >> 1: the Gram matrix is refused
    result = lstsq(da.from_array(ill, chunks=400), b, seed=0)
    assert result.method == "sketch_and_precondition"
    assert relative(result.x, exact_lstsq(ill, b)) <= 16 * U64 * 1e12


@pytest.mark.parametrize("kappa", [1.0, 1e8])
def test_passes_over_A_are_few(kappa, dask_reads):
    """The Gram route reads A about three times; the sketch route, thanks to the Gram matrix
    of ``A P``, about four: not the tens of passes of the plain heavy-ball iteration."""
    A, b = conditioned(N, D, kappa, seed=5)
    blocks = 6
    for method, most in (("gram_precondition", 4), ("sketch_and_precondition", 5)):
        if kappa > 1e7 and method == "gram_precondition":
            continue
        lazy, reads = dask_reads(A, (N // blocks, D))
        result = lstsq(lazy, b, method=method, seed=0)
        assert result.method == method
        total = sum(reads.values())
        assert total % blocks == 0
        assert total // blocks <= most, (method, total // blocks)
    in_memory = lstsq(A, b, method="sketch_and_precondition", seed=0)
    if kappa > 1e7:  # what the refined preconditioner saves over the in-memory iteration
        assert in_memory.iterations >= 10


def test_rank_deficient_gives_the_minimum_norm_solution():
    A, b = rank_deficient(N, D, 7, seed=6)
    result = lstsq(da.from_array(A, chunks=700), b, seed=0)
    assert result.rank == 7
    np.testing.assert_allclose(
        result.x, lapack(A, b), rtol=0, atol=1e-12 * np.abs(lapack(A, b)).max()
    )


def test_float32_several_right_hand_sides_damp_and_weights():
    A, B = gaussian(N, D, seed=7, k=3)
    w = np.random.default_rng(7).uniform(0.0, 3.0, N)
    reference = lstsq(A, B, damp=0.3, weights=w, seed=0)
    for method in ("auto", "sketch_and_precondition"):
        result = lstsq(
            da.from_array(A, chunks=640),
            da.from_array(B, chunks=(900, 3)),
            damp=0.3,
            weights=da.from_array(w, chunks=333),
            method=method,
            seed=0,
        )
        assert result.x.shape == (D, 3)
        assert relative(result.x, reference.x) <= agreement_bound(A, B, reference.x, np.float64)
        np.testing.assert_allclose(result.residual_norm, reference.residual_norm, rtol=1e-12)
    A32, b32 = A.astype(np.float32), B[:, 0].astype(np.float32)
    result = lstsq(da.from_array(A32, chunks=500), b32, seed=0)
    assert result.x.dtype == np.float32
    assert relative(result.x, lapack(A, B[:, 0])) <= agreement_bound(
        A, B[:, 0], lapack(A, B[:, 0]), np.float32
    )


def test_sketch_and_solve_equals_the_in_memory_sketch_and_solve():
    A, b = gaussian(N, D, seed=8)
    in_memory = lstsq(A, b, method="sketch_and_solve", seed=2)
    result = lstsq(da.from_array(A, chunks=(450, 7)), b, method="sketch_and_solve", seed=2)
    assert result.method == "sketch_and_solve"
    assert relative(result.x, in_memory.x) <= 1e3 * eps(np.float64)


def test_small_problems_and_direct_are_solved_in_memory():
    A, b = gaussian(40, 5, seed=9)
    for method in ("auto", "direct"):
        result = lstsq(da.from_array(A, chunks=10), b, method=method, seed=0)
        assert result.method == "direct"
        np.testing.assert_allclose(result.x, lapack(A, b), rtol=1e-12)


def test_same_bits_with_every_scheduler():
    A, b = conditioned(N, D, 1e6, seed=10)
    lazy = da.from_array(A, chunks=(350, D))
    threads = lstsq(lazy, b, seed=0).x
    with dask.config.set(scheduler="synchronous"):
        synchronous = lstsq(lazy, b, seed=0).x
    assert threads.tobytes() == synchronous.tobytes()


def test_same_bits_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    A, b = conditioned(N, D, 1e3, seed=11)
    lazy = da.from_array(A, chunks=(600, D))
    with dask.config.set(scheduler="threads"):
        expected = {
            m: lstsq(lazy, b, method=m, seed=0).x for m in ("auto", "sketch_and_precondition")
        }
    cluster = distributed.LocalCluster(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    )
    with cluster, distributed.Client(cluster):
        for method, x in expected.items():
            assert lstsq(lazy, b, method=method, seed=0).x.tobytes() == x.tobytes()


@settings(max_examples=12, deadline=None)
@given(cuts=st.lists(st.integers(1, N - 1), min_size=0, max_size=6, unique=True))
def test_any_row_chunking_gives_the_same_solution(cuts):
    A, b = conditioned(N, D, 1e5, seed=12)
    edges = [0, *sorted(cuts), N]
    chunks = (tuple(np.diff(edges).tolist()), (D,))
    result = lstsq(da.from_array(A, chunks=chunks), b, seed=0)
    assert relative(result.x, lstsq(A, b, seed=0).x) <= 32 * U64 * 1e5


def test_the_inputs_are_not_modified_and_nothing_is_gathered(dask_reads):
    A, b = gaussian(N, D, seed=13)
    A0, b0 = A.copy(), b.copy()
    lazy, reads = dask_reads(A, (500, D))
    lstsq(lazy, b, seed=0)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(b, b0)
    assert sum(reads.values()) > 0


def test_bad_input():
    A, b = gaussian(N, D, seed=14)
    lazy = da.from_array(A, chunks=500)
    with pytest.raises(ValueError, match="at least as many rows as columns"):
        lstsq(lazy.T, np.ones(D))
    with pytest.raises(ValueError, match="b must have as many rows as A"):
        lstsq(lazy, b[:-1])
    with pytest.raises(TypeError, match="A must be real"):
        lstsq(lazy.astype(np.complex128), b)
    with pytest.raises(ValueError, match="weights must be non-negative"):
        lstsq(lazy, b, weights=-np.ones(N))
    with pytest.raises(ValueError, match="known chunk sizes"):
        lstsq(lazy[lazy[:, 0] > -np.inf], b)
    bad = A.copy()
    bad[2000, 3] = np.nan
    for method in ("auto", "sketch_and_precondition"):
        with pytest.raises(ValueError, match="A must hold only finite values"):
            lstsq(da.from_array(bad, chunks=500), b, method=method)
