"""The RIP estimate: exact at full rank (where the projected power method is the plain power
method on A*A, whose extremes are the eigenvalues of D^T D), a lower bound below it, and
monotone in the number of measurements."""

from __future__ import annotations

import numpy as np
import pytest

from sketchla.sensing import GaussianMeasurements, RankOneMeasurements, rip_constant


@pytest.mark.parametrize("seed", [0, 1])
def test_full_rank_estimate_equals_the_extreme_eigenvalues(seed):
    """With rank = min(n1, n2), delta is max(lambda_max - 1, 1 - lambda_min) of D^T D (D the
    dense operator, m >= n1 n2 so that lambda_min > 0): the estimate converges to it."""
    A = GaussianMeasurements((4, 3), 60, seed=seed)
    D = A.to_dense()
    w = np.linalg.eigvalsh(D.T @ D)
    estimate = rip_constant(A, 3, iterations=400, seed=seed)
    np.testing.assert_allclose(estimate.upper, w[-1], rtol=1e-6)
    np.testing.assert_allclose(estimate.lower, w[0], rtol=1e-4)
    np.testing.assert_allclose(estimate.delta, max(w[-1] - 1, 1 - w[0]), rtol=1e-4)


@pytest.mark.parametrize("rank", [1, 2])
def test_lower_rank_estimate_is_attained_and_below_the_full_rank_constant(rank):
    A = GaussianMeasurements((6, 5), 80, seed=3)
    D = A.to_dense()
    w = np.linalg.eigvalsh(D.T @ D)
    estimate = rip_constant(A, rank, seed=0)
    assert estimate.rank == rank
    assert w[0] - 1e-12 <= estimate.lower <= 1 <= estimate.upper <= w[-1] + 1e-12
    assert estimate.delta <= max(w[-1] - 1, 1 - w[0]) + 1e-12


def test_more_measurements_smaller_constant():
    deltas = [
        rip_constant(GaussianMeasurements((15, 15), m, seed=0), 2, seed=1).delta
        for m in (100, 400, 1600)
    ]
    assert deltas[0] > deltas[1] > deltas[2]
    assert deltas[2] < 0.5


def test_rank_one_measurements_are_less_isometric_than_gaussian():
    """Rank-one measurements have heavy-tailed ||A(M)||^2 on rank-one M (no l2/l2 RIP at this
    m): their estimate is larger than the dense Gaussian one with the same m."""
    gaussian = rip_constant(GaussianMeasurements((15, 15), 600, seed=0), 1, seed=1)
    rank_one = rip_constant(RankOneMeasurements((15, 15), 600, seed=0), 1, seed=1)
    assert rank_one.delta > gaussian.delta


def test_bad_input():
    A = GaussianMeasurements((4, 3), 20, seed=0)
    with pytest.raises(TypeError, match="MeasurementOperator"):
        rip_constant(np.ones((20, 12)), 1)
    with pytest.raises(ValueError, match="rank"):
        rip_constant(A, 4)
    with pytest.raises(ValueError, match="starts"):
        rip_constant(A, 1, starts=0)
