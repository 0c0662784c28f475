"""``rank="auto"``: the rank schedule finds the rank of exactly low-rank matrices from held-out
error (doubling, then bisection), and refits on all observations."""

from __future__ import annotations

import numpy as np
import pytest

from sketchla.completion import complete


@pytest.mark.parametrize(("true_rank", "seed"), [(1, 0), (3, 1), (5, 2), (7, 3)])
def test_auto_rank_finds_the_rank_and_recovers(true_rank, seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((240, true_rank)) @ rng.standard_normal((true_rank, 160))
    seen = rng.random(M.shape) < 0.4
    result = complete(M, rank="auto", mask=seen, seed=seed)
    assert result.rank == true_rank
    assert np.linalg.norm(result.to_dense() - M) <= 1e-6 * np.linalg.norm(M)


def test_auto_rank_respects_max_rank():
    rng = np.random.default_rng(4)
    M = rng.standard_normal((120, 6)) @ rng.standard_normal((6, 90))
    result = complete(M, rank="auto", max_rank=3, mask=rng.random(M.shape) < 0.5, seed=0)
    assert 1 <= result.rank <= 3


@pytest.mark.parametrize(
    ("rank", "options", "match"),
    [("best", {}, "rank must be an int or 'auto'"), ("auto", {"max_rank": 0}, "max_rank")],
)
def test_auto_rank_bad_input(rank, options, match):
    M = np.ones((20, 10))
    with pytest.raises((ValueError, TypeError), match=match):
        complete(M, rank=rank, mask=np.ones(M.shape, dtype=bool), **options)
