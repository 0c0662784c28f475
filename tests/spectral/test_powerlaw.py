"""Power-law fits: the compiled KS scan against a straightforward reference scan (Hypothesis),
recovery of known exponents, the candidate grid, the other ``xmin`` rules, the Hill estimator,
bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sketchla.spectral import fit_powerlaw, hill_estimator


def reference_scan(evals):
    """The scan as WeightWatcher 0.7 writes it: every data point but the last a candidate,
    alpha by the MLE, the KS distance over the tail, the first of least distance."""
    data = np.sort(np.asarray(evals, dtype=np.float64))
    data = data[data > 1e-5]
    N = data.size
    log_data = np.log(data)
    alphas, distances = np.zeros(N - 1), np.ones(N - 1)
    for i, xmin in enumerate(data[:-1]):
        n = float(N - i)
        with np.errstate(divide="ignore"):  # a tail of equal values: alpha = inf
            alphas[i] = 1 + n / (np.sum(log_data[i:]) - n * log_data[i])
        if alphas[i] > 1:
            fitted = 1 - (data[i:] / xmin) ** (1 - alphas[i])
            distances[i] = np.max(np.abs(fitted - np.arange(n) / n))
    best = int(np.argmin(distances))
    return alphas[best], data[best], distances[best], N - best


def pareto(rng, alpha, size, xmin=1.0):
    """Samples of density ``~ x^-alpha`` above ``xmin``."""
    return xmin * (1 - rng.random(size)) ** (-1 / (alpha - 1))


@st.composite
def spectra(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    size = draw(st.integers(2, 400))
    kind = draw(st.sampled_from(["pareto", "marchenko-pastur", "lognormal", "ties"]))
    rng = np.random.default_rng(seed)
    if kind == "pareto":
        x = pareto(rng, draw(st.floats(1.5, 6.0)), size)
    elif kind == "marchenko-pastur":
        M = max(size, 2)
        W = rng.standard_normal((M * draw(st.integers(1, 4)), M))
        W[:, : draw(st.integers(0, 3))] *= 10  # a few spikes
        x = np.linalg.svd(W, compute_uv=False) ** 2
    elif kind == "lognormal":
        x = rng.lognormal(0.0, 2.0, size)
    else:
        x = rng.integers(1, 6, size).astype(float) ** 2  # repeated values
    return x


@given(spectra())
def test_equals_the_reference_scan(x):
    try:
        expected = reference_scan(x)
    except ValueError:
        return  # fewer than 2 values above the threshold: checked below
    fit = fit_powerlaw(x)
    alpha, xmin, distance, n_tail = expected
    if not (alpha > 1):
        return
    assert fit.xmin == xmin
    assert fit.n_tail == n_tail
    assert fit.alpha == pytest.approx(alpha, rel=1e-10)
    assert fit.ks_distance == pytest.approx(distance, rel=1e-9, abs=1e-12)
    assert fit.sigma == pytest.approx((alpha - 1) / math.sqrt(n_tail), rel=1e-10)


@pytest.mark.parametrize("alpha", [2.0, 2.5, 3.0, 4.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_a_known_exponent_within_5_percent(alpha, seed):
    rng = np.random.default_rng(seed)
    # a power-law tail above a uniform bulk: the scan must find where the tail starts
    x = np.concatenate([rng.uniform(0.1, 1.0, 5000), pareto(rng, alpha, 5000)])
    fit = fit_powerlaw(x)
    assert fit.alpha == pytest.approx(alpha, rel=0.05)
    assert 0.5 <= fit.xmin <= 3.0


@pytest.mark.parametrize("seed", [0, 1])
def test_a_candidate_grid_stays_within_1_percent_of_the_exact_scan(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(0.1, 1.0, 50_000), pareto(rng, 2.5, 50_000)])
    exact = fit_powerlaw(x)
    grid = fit_powerlaw(x, candidates=1000)
    assert grid.alpha == pytest.approx(exact.alpha, rel=0.01)
    assert grid.ks_distance >= exact.ks_distance


def test_a_fixed_xmin_is_the_plain_mle():
    rng = np.random.default_rng(3)
    x = pareto(rng, 3.0, 2000)
    fit = fit_powerlaw(x, xmin=2.0)
    tail = np.sort(x[x >= 2.0])
    assert fit.xmin == tail[0]
    assert fit.n_tail == tail.size
    assert fit.alpha == pytest.approx(1 + tail.size / np.sum(np.log(tail / tail[0])), rel=1e-12)


def test_peak_and_median_rules():
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.lognormal(0.0, 0.3, 3000), pareto(rng, 2.5, 1000, xmin=3.0)])
    median = fit_powerlaw(x, xmin="median")
    assert median.xmin == pytest.approx(np.median(x), rel=1e-3)
    counts, edges = np.histogram(np.log10(x), bins=100)
    peak = 10 ** edges[np.argmax(counts)]
    fit = fit_powerlaw(x, xmin="peak")
    assert 0.95 * peak <= fit.xmin <= 1.5 * peak
    # it is the best candidate of that range
    inside = np.sort(x)[:-1]
    inside = inside[(inside >= 0.95 * peak) & (inside <= 1.5 * peak)]
    best = min(fit_powerlaw(x, xmin=float(c)).ks_distance for c in inside[::25])
    assert fit.ks_distance <= best


def test_small_values_and_xmax_are_left_out():
    rng = np.random.default_rng(5)
    x = pareto(rng, 3.0, 1000)
    with_zeros = np.concatenate([x, np.zeros(50), np.full(10, 1e-9)])
    assert fit_powerlaw(with_zeros) == fit_powerlaw(x)
    clipped = fit_powerlaw(x, xmax=10.0)
    assert clipped == fit_powerlaw(x[x <= 10.0])


@pytest.mark.parametrize("alpha", [2.0, 3.0])
def test_hill_estimator(alpha):
    rng = np.random.default_rng(6)
    x = pareto(rng, alpha, 50_000)
    order = np.sort(x)[::-1]
    k = 500
    expected = 1 + k / np.sum(np.log(order[:k] / order[k]))
    assert hill_estimator(x, k) == pytest.approx(expected, rel=1e-12)
    assert hill_estimator(x, 5000) == pytest.approx(alpha, rel=0.05)


def test_hill_estimator_edge_cases():
    assert hill_estimator([1.0, 2.0]) == pytest.approx(1 + 1 / np.log(2.0))
    with pytest.raises(ValueError, match="no tail"):
        hill_estimator([1.0, 3.0, 3.0, 3.0], 2)


@pytest.mark.parametrize(
    ("evals", "options", "error", "match"),
    [
        (np.ones((3, 3)), {}, ValueError, "1-D"),
        (np.array([1.0, np.nan, 2.0]), {}, ValueError, "evals"),
        (np.array([1.0]), {}, ValueError, "at least 2"),
        (np.zeros(10), {}, ValueError, "at least 2"),
        (np.array([-1.0, 2.0, 3.0]), {}, ValueError, "non-negative"),
        (np.arange(1.0, 10.0), {"xmin": "best"}, ValueError, "xmin"),
        (np.arange(1.0, 10.0), {"xmin": -1.0}, ValueError, "xmin"),
        (np.arange(1.0, 10.0), {"xmin": 9.5}, ValueError, "fewer than 2"),
        (np.arange(1.0, 10.0), {"xmax": 0.0}, ValueError, "xmax"),
        (np.arange(1.0, 10.0), {"candidates": 1}, ValueError, "candidates"),
        (np.arange(1.0, 10.0), {"xmin": True}, TypeError, "xmin"),
        (np.arange(1.0, 10.0), {"xmax": "5"}, TypeError, "xmax"),
    ],
)
def test_bad_input(evals, options, error, match):
    with pytest.raises(error, match=match):
        fit_powerlaw(evals, **options)
