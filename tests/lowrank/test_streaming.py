"""``sketchla.lowrank.StreamingSVD``: one-pass sketches of a matrix seen as updates or row
blocks (Tropp, Yurtsever, Udell & Cevher 2019).

Checks: exact recovery of a matrix of rank at most ``r`` whatever the order and split of its
updates (the sketches are linear); linearity itself (``theta``, ``eta``); the error on a matrix
with a decaying spectrum against the best rank-``r`` error (the paper's bound is a small multiple
of the tail); seeds; bad input.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sketchla.lowrank import StreamingSVD, rsvd
from sketchla.testing import eps


def low_rank(m, n, r, seed, dtype="float64"):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, r)) @ rng.standard_normal((r, n))).astype(dtype)


def reconstruction(result):
    U, s, Vh = result
    return (U * s) @ Vh


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("m", "n", "r"), [(300, 200, 5), (120, 400, 3), (50, 50, 10)])
@pytest.mark.parametrize("blocks", [1, 3, 7])
def test_row_blocks_recover_a_low_rank_matrix(m, n, r, blocks, dtype):
    A = low_rank(m, n, r, seed=m + r, dtype=dtype)
    stream = StreamingSVD((m, n), r, dtype=dtype, seed=1)
    bounds = np.linspace(0, m, blocks + 1).astype(int)
    for lo, hi in itertools.pairwise(bounds):
        stream.update_rows(int(lo), A[lo:hi])
    U, s, Vh = stream.svd()
    assert U.dtype == s.dtype == Vh.dtype == np.dtype(dtype)
    assert U.shape == (m, r)
    assert s.shape == (r,)
    assert Vh.shape == (r, n)
    # rounding: the reconstruction solves two small least-squares problems with Gaussian test
    # matrices (condition ~ 10 at these sizes): allow 1e3 eps of ||A||
    scale = np.linalg.norm(A, 2)
    assert np.linalg.norm(reconstruction((U, s, Vh)) - A, 2) <= 1e3 * eps(dtype) * scale
    np.testing.assert_allclose(U.T @ U, np.eye(r), atol=100 * eps(dtype))
    assert np.all(np.diff(s) <= 0)
    assert np.all(s >= 0)


def test_updates_are_linear():
    A, B = low_rank(200, 150, 3, 0), low_rank(200, 150, 2, 1)
    stream = StreamingSVD((200, 150), 5, seed=2)
    stream.update(A)
    stream.update(B, theta=0.5, eta=2.0)  # A <- 0.5 A + 2 B
    expected = 0.5 * A + 2.0 * B
    assert np.linalg.norm(reconstruction(stream.svd()) - expected) <= 1e-10 * np.linalg.norm(
        expected
    )


def test_decaying_spectrum_error_is_near_the_best_rank_r_error():
    """TYUC 2019, Theorem 5.1: the expected Frobenius error is at most ``sqrt(1 + f)`` times the
    best rank-``k'`` tail plus a multiple of it, ``f = ... ~ 2`` at the default sizes; the
    rank-``r`` truncation then adds at most the rank-``r`` tail. Checked: below 3x the best
    rank-``r`` Frobenius error, over 10 seeds (measured: at most 1.1x)."""
    rng = np.random.default_rng(5)
    m, n, r = 400, 300, 8
    U0 = np.linalg.qr(rng.standard_normal((m, n)))[0]
    V0 = np.linalg.qr(rng.standard_normal((n, n)))[0]
    sigma = 0.7 ** np.arange(n)
    A = (U0 * sigma) @ V0.T
    best = np.sqrt(np.sum(sigma[r:] ** 2))
    for seed in range(10):
        stream = StreamingSVD((m, n), r, seed=seed)
        stream.update(A)
        error = np.linalg.norm(reconstruction(stream.svd()) - A)
        assert error <= 3 * best, (seed, error / best)


def test_same_seed_same_sketches_and_agreement_with_rsvd():
    A = low_rank(150, 120, 4, 3)
    one, two = StreamingSVD(A.shape, 4, seed=9), StreamingSVD(A.shape, 4, seed=9)
    one.update(A)
    two.update_rows(0, A[:70])
    two.update_rows(70, A[70:])
    np.testing.assert_allclose(one.Y, two.Y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(one.svd().s, rsvd(A, 4, seed=0).s, rtol=1e-10)


def test_bad_input_is_refused():
    stream = StreamingSVD((100, 80), 4, seed=0)
    with pytest.raises(ValueError, match="H must have shape"):
        stream.update(np.ones((100, 81)))
    with pytest.raises(ValueError, match="exceed the 100 rows"):
        stream.update_rows(90, np.ones((20, 80)))
    with pytest.raises(ValueError, match="H must hold only finite"):
        stream.update(np.full((100, 80), np.nan))
    with pytest.raises(ValueError, match="rank"):
        StreamingSVD((100, 80), 0)
    with pytest.raises(ValueError, match="rank"):
        StreamingSVD((100, 80), 81)
    with pytest.raises(ValueError, match="core_size"):
        StreamingSVD((100, 80), 4, range_size=20, core_size=10)
    H = np.ones((100, 80))
    stream.update(H)
    assert np.all(H == 1.0)  # the caller's block is left alone
