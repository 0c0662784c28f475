"""ESDs against the SVD, on every backend and batched; FARMS's windows against an explicit loop;
the aspect-ratio bias that FARMS removes; per-layer metrics; the TempBalance and AlphaPruning
allocations; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sketchla.spectral import (
    alpha_pruning_sparsities,
    esd,
    farms,
    farms_esd,
    fit_powerlaw,
    spectral_metrics,
    tempbalance_learning_rates,
    top_singular_value,
    weight_matrices,
)
from sketchla.spectral.farms import window_starts


def squared_singular_values(W):
    return np.sort(np.linalg.svd(np.asarray(W, dtype=np.float64), compute_uv=False) ** 2)


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30), (1, 7)])
@pytest.mark.parametrize("seed", [0, 1])
def test_esd_is_the_squared_singular_values(backend, dtype, shape, seed):
    host = np.random.default_rng(seed).standard_normal(shape)
    W = backend.asarray(host, dtype=dtype)
    expected = squared_singular_values(backend.to_numpy(W))
    evals = esd(W)
    assert evals.dtype == np.float64
    assert evals.shape == (min(shape),)
    # absolute error of a float64 Gram eigenvalue: a few u_64 lambda_max
    np.testing.assert_allclose(evals, expected, rtol=0, atol=64 * 1.1e-16 * expected[-1])
    np.testing.assert_allclose(
        esd(W, normalize=True), expected / max(shape), rtol=1e-12, atol=1e-14
    )


def test_esd_of_a_rank_deficient_matrix_is_non_negative():
    rng = np.random.default_rng(2)
    W = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    evals = esd(W)
    assert np.all(evals >= 0)
    np.testing.assert_allclose(evals[-3:], squared_singular_values(W)[-3:], rtol=1e-12)
    assert np.all(evals[:-3] <= 1e-10 * evals[-1])


def test_float32_precision_is_close():
    W = np.random.default_rng(3).standard_normal((300, 120))
    np.testing.assert_allclose(esd(W, dtype="float32")[-20:], esd(W)[-20:], rtol=1e-5)


def test_float32_zero_eigenvalues_stay_zero():
    rng = np.random.default_rng(9)
    W = 30 * rng.standard_normal((768, 64)) @ rng.standard_normal((64, 768))
    assert np.sum(esd(W, dtype="float32") > 1e-5) == 64


def test_bfloat16_and_float16_weights_are_read_exactly():
    torch = pytest.importorskip("torch")
    for dtype in (torch.bfloat16, torch.float16):
        W = torch.randn(40, 20).to(dtype)
        np.testing.assert_allclose(esd(W), esd(W.float().numpy()), rtol=1e-13)


def test_batched_esd_equals_each_matrix():
    rng = np.random.default_rng(4)
    batch = rng.standard_normal((5, 30, 12))
    evals = esd(batch)
    assert evals.shape == (5, 12)
    for k in range(5):
        np.testing.assert_allclose(evals[k], esd(batch[k]), rtol=1e-12, atol=1e-12)


def test_convolution_weights_are_sliced_per_kernel_position():
    weight = np.random.default_rng(5).standard_normal((8, 4, 3, 3))
    slices = weight_matrices(weight)
    assert len(slices) == 9
    np.testing.assert_array_equal(slices[4], weight[:, :, 1, 1])


@pytest.mark.parametrize(
    ("W", "match"),
    [(np.ones(5), "matrix"), (np.ones((0, 4)), "empty"), (np.full((3, 3), np.nan), "W")],
)
def test_esd_bad_input(W, match):
    with pytest.raises(ValueError, match=match):
        esd(W)


# -- FARMS ---------------------------------------------------------------------------------------


def reference_windows(length, size, count):
    """The reference code's ``fixed_sampling`` starts."""
    step = max(1, (length - size) // (count - 1)) if count > 1 else 1
    number = min(count, max(1, (length - size) // step + 1))
    return [min(i * step, length - size) for i in range(number)]


@pytest.mark.parametrize(("length", "size", "count"), [(100, 30, 15), (64, 64, 5), (50, 10, 4)])
def test_window_starts_follow_the_reference(length, size, count):
    assert window_starts(length, size, count) == sorted(set(reference_windows(length, size, count)))


@pytest.mark.parametrize(("rows", "ratio", "windows"), [(20, 1.0, 4), (10, 2.0, 3), (25, 0.5, 2)])
def test_farms_pools_the_windows_eigenvalues(rows, ratio, windows):
    W = np.random.default_rng(6).standard_normal((70, 45))
    cols = int(rows * ratio)
    expected = np.sort(
        np.concatenate(
            [
                squared_singular_values(W[i : i + rows, j : j + cols])
                for i in window_starts(70, rows, windows)
                for j in window_starts(45, cols, windows)
            ]
        )
    )
    np.testing.assert_allclose(
        farms_esd(W, rows=rows, aspect_ratio=ratio, windows=windows),
        expected,
        rtol=0,
        atol=1e-12 * expected[-1],
    )


def test_farms_of_a_torch_convolution_weight():
    torch = pytest.importorskip("torch")
    weight = torch.randn(40, 30, 3, 3, dtype=torch.float64)
    evals = farms_esd(weight, rows=20, windows=2)
    per_slice = [
        farms_esd(weight[:, :, i, j].numpy(), rows=20, windows=2)
        for i in range(3)
        for j in range(3)
    ]
    expected = np.sort(np.concatenate(per_slice))
    np.testing.assert_allclose(evals, expected, rtol=0, atol=64 * 1.1e-16 * expected[-1])


def test_farms_removes_the_aspect_ratio_bias_of_heavy_tailed_matrices():
    """Matrices with i.i.d. Student-t(3) entries (heavy-tailed like trained weights, with no
    preferred shape), 256 columns and 256 Q rows, four seeds: the plain ESD's alpha grows with
    Q; FARMS's square windows give one alpha. (Measured: plain 5.2, 5.5, 5.7, 8.6 for
    Q = 1, 2, 4, 8; FARMS 4.2, 3.9, 4.2, 4.3.)"""
    plain, pooled = [], []
    for Q in (1, 2, 4, 8):
        a, b = [], []
        for seed in range(4):
            W = np.random.default_rng(seed).standard_t(3, size=(256 * Q, 256))
            a.append(fit_powerlaw(esd(W)).alpha)
            b.append(farms(W, rows=128, windows=8).alpha)
        plain.append(np.mean(a))
        pooled.append(np.mean(b))
    assert plain[-1] - plain[0] > 2.0  # the bias: alpha grows with the aspect ratio
    assert max(pooled) - min(pooled) < 0.6
    assert max(plain) - min(plain) > 4 * (max(pooled) - min(pooled))


def test_farms_bad_input():
    W = np.ones((10, 10))
    with pytest.raises(ValueError, match="aspect_ratio"):
        farms_esd(W, aspect_ratio=float("inf"))
    with pytest.raises(ValueError, match="rows"):
        farms_esd(W, rows=0)
    with pytest.raises(ValueError, match="aspect_ratio"):
        farms_esd(W, aspect_ratio=0)
    with pytest.raises(ValueError, match="windows"):
        farms_esd(W, windows=0)
    with pytest.raises(ValueError, match="2-D"):
        farms_esd(np.ones(5))


# -- metrics ---------------------------------------------------------------------------------------


def test_metrics_from_their_definitions():
    rng = np.random.default_rng(7)
    W = rng.standard_t(4, size=(300, 100))
    evals = squared_singular_values(W)
    metrics = spectral_metrics(esd(W), W.shape)
    fit = fit_powerlaw(evals)
    assert metrics["alpha"] == pytest.approx(fit.alpha, rel=1e-9)
    assert metrics["lambda_max"] == pytest.approx(np.linalg.norm(W, 2) ** 2, rel=1e-12)
    assert metrics["sv_max"] == pytest.approx(np.linalg.norm(W, 2), rel=1e-12)
    assert metrics["log_norm"] == pytest.approx(math.log10(np.sum(W**2)), rel=1e-12)
    assert metrics["log_spectral_norm"] == pytest.approx(2 * math.log10(np.linalg.norm(W, 2)))
    assert metrics["alpha_weighted"] == pytest.approx(fit.alpha * math.log10(evals[-1]), rel=1e-9)
    assert metrics["log_alpha_norm"] == pytest.approx(
        math.log10(np.sum(evals**fit.alpha)), rel=1e-9
    )
    assert metrics["stable_rank"] == pytest.approx(np.sum(W**2) / evals[-1], rel=1e-12)
    assert 0 < metrics["mp_softrank"] < 1.5
    with pytest.raises(ValueError, match="evals"):
        spectral_metrics(np.array([]), (3, 3))
    assert top_singular_value(W, seed=0) == pytest.approx(np.linalg.norm(W, 2), rel=1e-3)


def test_spikes_of_a_planted_low_rank_signal_are_counted():
    rng = np.random.default_rng(8)
    W = rng.standard_normal((400, 200)) + 8 * rng.standard_normal((400, 3)) @ rng.standard_normal(
        (3, 200)
    ) / np.sqrt(200)
    assert spectral_metrics(esd(W), W.shape)["num_spikes"] == 3
    assert spectral_metrics(esd(rng.standard_normal((400, 200))), (400, 200))["num_spikes"] <= 1


def test_tempbalance_maps_alpha_linearly_onto_the_ratio_range():
    alphas = np.array([2.0, 5.0, 3.5, 2.75])
    lrs = tempbalance_learning_rates(alphas, 0.1, min_ratio=0.5, max_ratio=1.5)
    np.testing.assert_allclose(lrs, 0.1 * (0.5 + (alphas - 2.0) / 3.0))
    np.testing.assert_allclose(tempbalance_learning_rates([3.0, 3.0], 0.1), [0.1, 0.1])
    with pytest.raises(ValueError, match="min_ratio"):
        tempbalance_learning_rates(alphas, 0.1, min_ratio=2.0, max_ratio=1.0)


def test_alpha_pruning_keeps_the_target_and_orders_by_alpha():
    alphas = np.array([2.0, 4.0, 3.0, 5.0])
    sizes = np.array([100, 400, 200, 300])
    s = alpha_pruning_sparsities(alphas, sizes, 0.6, epsilon=0.2)
    assert np.average(s, weights=sizes) == pytest.approx(0.6)
    assert np.all(np.diff(s[np.argsort(alphas)]) > 0)  # heavier tails are pruned less
    # the reference's ww_sparsity: factors 1 - eps .. 1 + eps, linear in alpha, scaled
    factors = 0.8 + (alphas - 2.0) / 3.0 * 0.4
    np.testing.assert_allclose(s, factors * 0.6 / np.average(factors, weights=sizes))
    with pytest.raises(ValueError, match="sizes"):
        alpha_pruning_sparsities(alphas, sizes[:2], 0.5)
    with pytest.raises(ValueError, match="sizes"):
        alpha_pruning_sparsities(alphas, [1, 2, np.nan, 4], 0.5)
    with pytest.raises(ValueError, match="target_sparsity"):
        alpha_pruning_sparsities(alphas, sizes, 1.0)
    with pytest.raises(ValueError, match="> 1"):  # never clipped behind the caller's back
        alpha_pruning_sparsities([2.0, 3.0, 4.0], [1, 1, 1], 0.9, epsilon=0.3)
