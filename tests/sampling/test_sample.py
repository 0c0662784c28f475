"""``sample_rows``: inclusion probabilities against an independent root-finder, unbiasedness of
``||S A x||_p^p`` (exactly, and over many draws within a CLT bound), the subspace-embedding
distortion of the importance-sampling schemes against uniform sampling, ``apply`` on every kind of
array, and bad input.

Statistics. Keeping row ``i`` with probability ``q_i`` and scaling it by ``q_i^{-1/p}`` makes
``||S A x||_p^p = sum_i Z_i |a_i^T x|^p / q_i`` (``Z_i`` Bernoulli(``q_i``)) an unbiased estimate
of ``||A x||_p^p`` with variance ``sum_i (1 - q_i) / q_i |a_i^T x|^{2p}``. With replacement, ``m``
draws from ``pi`` each contribute ``|a_i^T x|^p / (m pi_i)``: unbiased, with variance
``(sum_i |a_i^T x|^{2p} / pi_i - ||A x||_p^{2p}) / m``. The mean of ``K`` independent draws is
within ``5`` standard errors of the expectation except with probability about ``6e-7`` (the
draws are bounded and ``K`` in the thousands, so the normal approximation holds); the seeds are
fixed, so the test is deterministic.

If ``q_i >= m s_i / S`` for importances ``s_i >= |a_i^T x|^p / ||A x||_p^p`` summing to ``S``, the
relative variance for a fixed ``x`` is at most ``S / m`` (each term ``|a_i^T x|^p / q_i <=
S ||A x||_p^p / m``). Lewis weights (``p <= 2``) are such bounds with ``S = d`` (Cohen & Peng
2015), so ``m`` in the hundreds per dimension gives a few percent per direction; the supremum over
``x`` costs a ``d log``-type factor (a net argument), hence ``m ~ d log(d) / eps**2``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize

from sketchla.random import Generator
from sketchla.sampling import lewis_weights, sample_rows, sensitivities
from sketchla.sampling.sample import SCHEME_TOL, importances, inclusion_probabilities

U64 = float(np.finfo(np.float64).eps) / 2  # unit roundoff of float64
Z = 5.0  # standard errors allowed for a mean of many draws (two-sided tail ~6e-7)


def family(kind: str, n: int, d: int, seed: int) -> np.ndarray:
    """Seeded test matrices with very non-uniform sensitivities.

    ``"gaussian"``: standard normal. ``"heavy"``: Gaussian rows times Student-t(2) draws.
    ``"coherent"``: a ``d x d`` identity block on top of Gaussian noise of scale ``1e-3 / n`` (l_p
    mass about ``1e-3`` of an identity row's, for every ``p >= 1``): each identity row carries a
    whole direction.
    """
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, d))
    if kind == "heavy":
        return rng.standard_normal((n, d)) * rng.standard_t(2, size=(n, 1))
    if kind == "coherent":
        return np.vstack([np.eye(d), (1e-3 / n) * rng.standard_normal((n - d, d))])
    raise ValueError(kind)


def reference_probabilities(scores: np.ndarray, m: int) -> np.ndarray:
    """``q = min(1, c s)`` with ``sum q = m``, ``c`` found by Brent's method on the monotone
    piecewise-linear ``g(c) = sum min(1, c s) - m``, bracketed by ``g(m / sum s) <= 0`` (as
    ``min(1, c s) <= c s``) and ``g(2 / min s) = nnz - m >= 0`` (every positive score capped, with
    a factor 2 of room for rounding)."""
    positive = scores[scores > 0]

    def g(c):
        return float(np.minimum(1.0, c * scores).sum()) - m

    lo, hi = m / float(positive.sum()), 2.0 / float(positive.min())
    if g(hi) == 0:  # m = nnz: everything positive is capped
        c = hi
    elif g(lo) >= 0:  # nothing capped: c = m / sum s
        c = lo
    else:
        c = brentq(g, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=1000)
    return np.minimum(1.0, c * scores)


def power_sums(M: np.ndarray, X: np.ndarray, p: float) -> np.ndarray:
    """``||M x||_p^p`` for every column ``x`` of ``X``."""
    return np.sum(np.abs(M @ X) ** p, axis=0)


def distortion(A: np.ndarray, SA: np.ndarray, p: float, seed: int) -> float:
    """``max_x |‖S A x‖_p^p / ‖A x‖_p^p - 1|`` over 1000 random ``x``, the coordinate axes, and
    Nelder-Mead maximisation from the three worst of those (a lower bound on the supremum)."""
    d = A.shape[1]
    X = np.hstack([np.random.default_rng(seed).standard_normal((d, 1000)), np.eye(d)])
    values = np.abs(power_sums(SA, X, p) / power_sums(A, X, p) - 1)
    worst = float(values.max())

    def negative(x):
        return -abs(float(np.sum(np.abs(SA @ x) ** p) / np.sum(np.abs(A @ x) ** p)) - 1)

    for j in np.argsort(values)[-3:]:
        result = minimize(negative, X[:, j], method="Nelder-Mead", options={"xatol": 1e-6})
        worst = max(worst, -float(result.fun))
    return worst


# -- inclusion probabilities -----------------------------------------------------------------


@given(
    scores=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=60).filter(
        lambda s: any(v > 0 for v in s)
    ),
    data=st.data(),
)
def test_inclusion_probabilities(scores, data):
    scores = np.array(scores)
    n, nnz = scores.size, int(np.count_nonzero(scores))
    m = data.draw(st.integers(1, nnz))
    q = inclusion_probabilities(scores, m)
    # a sum of n terms and one division: relative rounding <= (n + 2) u, doubled for the
    # reference's own and for Brent's rtol (4 eps)
    rtol = 2 * (n + 2) * U64 + 8 * np.finfo(float).eps
    assert q.shape == scores.shape
    assert np.all((q >= 0) & (q <= 1))
    assert np.all(q[scores == 0] == 0)
    assert abs(q.sum() - m) <= rtol * m
    np.testing.assert_allclose(q, reference_probabilities(scores, m), rtol=rtol, atol=0)
    # proportional to the scores below the cap: one constant c for every uncapped row
    free = (q < 1) & (scores > 0)
    if free.any():
        c = q[free] / scores[free]
        np.testing.assert_allclose(c, c[0], rtol=rtol)
        # and every capped row's score is at least as large as every uncapped one's
        assert np.all(scores[q == 1][:, None] >= scores[free][None, :] * (1 - rtol))


def test_inclusion_probabilities_examples():
    assert np.array_equal(inclusion_probabilities(np.array([10.0, 1, 1, 0]), 3), [1, 1, 1, 0])
    np.testing.assert_allclose(
        inclusion_probabilities(np.array([10.0, 1, 1, 2]), 2), [1, 0.25, 0.25, 0.5], rtol=4 * U64
    )
    assert np.array_equal(inclusion_probabilities(np.ones(5), 5), np.ones(5))


# -- the weights and unbiasedness ------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 1.5, 2, 3])
@pytest.mark.parametrize("kind", ["heavy", "coherent"])
def test_weights_and_exact_expectation(p, kind):
    A = family(kind, 300, 3, 0)
    scores = importances(A, "lewis", p)
    m = 40
    q = reference_probabilities(scores, m)
    rows = sample_rows(A, scores, p=p, m=m, seed=1)
    assert rows.indices.dtype == np.int64
    assert rows.weights.dtype == np.float64
    assert np.all(np.diff(rows.indices) > 0)  # Bernoulli: distinct rows, in order
    # weights = q^{-1/p}, with q to the reference's rounding (see test_inclusion_probabilities)
    rtol = 2 * (300 + 2) * U64 + 8 * np.finfo(float).eps
    np.testing.assert_allclose(rows.weights, q[rows.indices] ** (-1 / p), rtol=rtol)
    # E ||S A x||_p^p = sum_i q_i (q_i^{-1/p})^p |a_i^T x|^p = ||A x||_p^p: every row with
    # a_i != 0 has q_i > 0
    assert np.all(q[np.any(A != 0, axis=1)] > 0)
    X = np.random.default_rng(2).standard_normal((3, 20))
    expectation = np.sum(q[:, None] * (q[:, None] ** (-1 / p)) ** p * np.abs(A @ X) ** p, axis=0)
    np.testing.assert_allclose(expectation, power_sums(A, X, p), rtol=4 * 300 * U64)
    # with replacement: weights (m pi_i)^{-1/p}, and m sum_i pi_i (m pi_i)^{-1} |a_i x|^p
    pi = scores / scores.sum()
    drawn = sample_rows(A, scores, p=p, m=m, replace=True, seed=1)
    assert len(drawn) == m
    np.testing.assert_allclose(drawn.weights, (m * pi[drawn.indices]) ** (-1 / p), rtol=4 * U64)


@pytest.mark.parametrize("p", [1, 1.5, 3])
@pytest.mark.parametrize("replace", [False, True])
def test_unbiased_over_many_draws(p, replace):
    n, m, draws = 400, 40, 4000
    A = family("heavy", n, 3, 3)
    scores = importances(A, "lewis", p)
    X = np.hstack([np.eye(3)[:, :1], np.random.default_rng(4).standard_normal((3, 3))])
    F = power_sums(A, X, p)
    terms = np.abs(A @ X) ** p  # (n, 4)
    generator = Generator(5)
    estimates = np.empty((draws, X.shape[1]))
    sizes = np.empty(draws)
    for k in range(draws):
        rows = sample_rows(A, scores, p=p, m=m, replace=replace, seed=generator)
        estimates[k] = power_sums(rows.apply(A), X, p)
        sizes[k] = len(rows)
    if replace:
        pi = scores / scores.sum()
        variance = (np.sum(terms**2 / pi[:, None], axis=0) - F**2) / m
        assert np.all(sizes == m)
    else:
        q = inclusion_probabilities(scores, m)
        variance = np.sum((1 - q[:, None]) / q[:, None] * terms**2, axis=0)
        # the sample size is a sum of Bernoulli(q_i): mean m, variance sum q (1 - q)
        assert abs(sizes.mean() - m) <= Z * math.sqrt(np.sum(q * (1 - q)) / draws)
    assert np.all(np.abs(estimates.mean(axis=0) - F) <= Z * np.sqrt(variance / draws))


# -- reproducibility -------------------------------------------------------------------------


@pytest.mark.parametrize("replace", [False, True])
def test_reproducible_by_seed(replace):
    A = family("heavy", 500, 3, 6)
    first = sample_rows(A, "lewis", p=1, m=50, replace=replace, seed=7)
    second = sample_rows(A, "lewis", p=1, m=50, replace=replace, seed=7)
    assert np.array_equal(first.indices, second.indices)
    assert np.array_equal(first.weights, second.weights)
    other = sample_rows(A, "lewis", p=1, m=50, replace=replace, seed=8)
    assert not np.array_equal(first.indices, other.indices)
    # a Generator is advanced by each call: two calls differ, and replaying it reproduces them
    generator = Generator(9)
    a = sample_rows(A, "lewis", p=1, m=50, replace=replace, seed=generator)
    b = sample_rows(A, "lewis", p=1, m=50, replace=replace, seed=generator)
    assert not np.array_equal(a.indices, b.indices)
    replay = Generator(9)
    assert np.array_equal(
        sample_rows(A, "lewis", p=1, m=50, replace=replace, seed=replay).indices, a.indices
    )


def test_default_size_and_full_sample():
    A = family("gaussian", 500, 4, 10)
    m = math.ceil(10 * 4 * math.log(5))  # the documented default
    assert len(sample_rows(A, "uniform", replace=True, seed=0)) == m
    # m = n without replacement keeps every row, unscaled
    everything = sample_rows(A, "lewis", p=1.5, m=500, seed=0)
    assert np.array_equal(everything.indices, np.arange(500))
    np.testing.assert_allclose(everything.weights, 1.0, rtol=0, atol=2 * 500 * U64)


def test_zero_importance_rows_are_never_drawn():
    A = family("gaussian", 200, 3, 11)
    scores = np.ones(200)
    scores[::2] = 0.0
    for replace in (False, True):
        for seed in range(5):
            rows = sample_rows(A, scores, m=60, replace=replace, seed=seed)
            assert np.all(rows.indices % 2 == 1)


def test_named_schemes_use_their_importances():
    A = family("heavy", 60, 3, 12)
    p = 1.5
    np.testing.assert_array_equal(
        importances(A, "sensitivity", p), sensitivities(A, p, method="exact")
    )
    # the scheme's Lewis weights are computed to the residual SCHEME_TOL (a constant factor is
    # all a sample needs)
    np.testing.assert_array_equal(
        importances(A, "lewis", p), lewis_weights(A, p, tol=SCHEME_TOL).weights
    )
    np.testing.assert_array_equal(
        importances(A, "augmented", p), sensitivities(A, p, method="augmented")
    )
    np.testing.assert_array_equal(importances(A, "uniform", p), np.ones(60))
    for scheme in ("sensitivity", "lewis", "root_leverage", "augmented", "uniform"):
        by_name = sample_rows(A, scheme, p=p, m=20, seed=13)
        by_array = sample_rows(A, importances(A, scheme, p), p=p, m=20, seed=13)
        assert np.array_equal(by_name.indices, by_array.indices)
        assert np.array_equal(by_name.weights, by_array.weights)


# -- subspace embedding ----------------------------------------------------------------------

EMBED_N, EMBED_D, EMBED_EPS = 4000, 4, 0.3
# Cohen & Peng (2015): O(d log(d) / eps^2) Lewis samples embed l_p, p <= 2. We take the constant
# of sample_rows's default size (10 d log(d + 1), the eps = 1 size) over eps^2: m = 716, where the
# per-direction relative standard deviation is at most sqrt(d / m) = 0.075 for the Lewis scheme
# (module docstring), a quarter of eps, leaving room for the supremum over directions.
EMBED_M = math.ceil(10 * EMBED_D * math.log(EMBED_D + 1) / EMBED_EPS**2)


@pytest.mark.parametrize("p", [1, 1.5, 2])
@pytest.mark.parametrize("kind", ["heavy", "coherent"])
@pytest.mark.parametrize("scheme", ["lewis", "augmented", "root_leverage"])
def test_importance_sampling_embeds(p, kind, scheme):
    """A w.h.p. statement, checked on three fixed seeds."""
    for seed in range(3):
        A = family(kind, EMBED_N, EMBED_D, seed)
        rows = sample_rows(A, scheme, p=p, m=EMBED_M, seed=seed)
        assert distortion(A, rows.apply(A), p, seed) <= EMBED_EPS, seed


# p > 2 (Cohen & Peng 2015, Theorem 7.1): O(d^{p/2} log(d) / eps^2) Lewis samples embed l_p.
# With the constant above, m = 10 d^{p/2} log(d + 1) / eps^2 on n = 20000 rows (d = 3, so
# m = 1420 at p = 3 and 2460 at p = 4). The augmented scheme adds the leverage scores to a
# larger sensitivity bound, so its sample of the same size is at least as well spread.
HIGH_N, HIGH_D = 20000, 3


@pytest.mark.parametrize("p", [3, 4])
@pytest.mark.parametrize("kind", ["heavy", "coherent"])
@pytest.mark.parametrize("scheme", ["lewis", "augmented"])
def test_importance_sampling_embeds_above_two(p, kind, scheme):
    """A w.h.p. statement, checked on three fixed seeds."""
    m = math.ceil(10 * HIGH_D ** (p / 2) * math.log(HIGH_D + 1) / EMBED_EPS**2)
    for seed in range(3):
        A = family(kind, HIGH_N, HIGH_D, seed)
        rows = sample_rows(A, scheme, p=p, m=m, seed=seed)
        assert len(rows) < HIGH_N / 4  # a real sample, not the whole matrix
        assert distortion(A, rows.apply(A), p, seed) <= EMBED_EPS, seed


@pytest.mark.parametrize("p", [1, 1.5, 2])
def test_uniform_sampling_fails_on_coherent_rows(p):
    """Why importance matters. On the coherent family, ``x = e_j`` has ``||A x||_p^p <= 1 +
    1e-3`` (identity row plus noise). Uniform sampling either drops row ``j`` (ratio at most
    ``(n / m) 1e-3 < 0.01``) or keeps it with weight ``(n / m)^{1/p}`` (ratio at least
    ``(n / m) / (1 + 1e-3) > 5``): a distortion above 0.9 either way, whatever the seed, while
    the Lewis sample stays within eps."""
    for seed in range(3):
        A = family("coherent", EMBED_N, EMBED_D, seed)
        uniform = sample_rows(A, "uniform", p=p, m=EMBED_M, seed=seed)
        lewis = sample_rows(A, "lewis", p=p, m=EMBED_M, seed=seed)
        bad = distortion(A, uniform.apply(A), p, seed)
        good = distortion(A, lewis.apply(A), p, seed)
        assert bad > 0.9
        assert good <= EMBED_EPS < bad
        # the Lewis sample keeps every identity row, unscaled (q = 1)
        assert set(range(EMBED_D)) <= set(lewis.indices.tolist())


# -- apply -----------------------------------------------------------------------------------


def reference_apply(rows, A: np.ndarray) -> np.ndarray:
    return rows.weights[:, None] * A[rows.indices]


@pytest.mark.parametrize("replace", [False, True])
def test_apply_dense_and_sparse(replace):
    A = family("heavy", 300, 4, 14)
    A[::7] = 0.0  # some zero rows (and sparsity)
    rows = sample_rows(A, "lewis", p=1, m=60, replace=replace, seed=15)
    expected = reference_apply(rows, A)
    np.testing.assert_array_equal(rows.apply(A), expected)
    single = rows.apply(A.astype(np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, expected, rtol=2 * np.finfo(np.float32).eps)
    for matrix in (sp.csr_array(A), sp.csc_array(A), sp.coo_array(A), sp.csr_matrix(A)):
        out = rows.apply(matrix)
        assert sp.issparse(out)
        assert out.shape == expected.shape
        np.testing.assert_allclose(out.toarray(), expected, rtol=U64, atol=0)


def test_apply_backends(backend):
    A = family("heavy", 200, 3, 16)
    rows = sample_rows(A, "lewis", p=1.5, m=40, seed=17)
    out = rows.apply(backend.asarray(A))
    assert type(out) is type(backend.asarray(A))
    np.testing.assert_allclose(backend.to_numpy(out), reference_apply(rows, A), rtol=U64, atol=0)
    # the scheme computed on the backend's array draws the same rows for the same seed: its
    # importances agree with NumPy's to rounding, and a uniform draw falls within rounding of a
    # q_i with probability ~ n u
    same = sample_rows(backend.asarray(A), "lewis", p=1.5, m=40, seed=17)
    assert np.array_equal(same.indices, rows.indices)
    np.testing.assert_allclose(same.weights, rows.weights, rtol=1e-6)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probs", "options", "error", "match"),
    [
        (-np.ones(50), {}, ValueError, "probs must be non-negative"),
        (np.r_[-1.0, np.ones(49)], {}, ValueError, "probs must be non-negative"),
        (np.zeros(50), {}, ValueError, "probs must have a positive entry"),
        (np.ones(49), {}, ValueError, "probs must have length 50"),
        (np.r_[np.nan, np.ones(49)], {}, ValueError, "probs must hold only finite"),
        (np.ones((50, 1)), {}, ValueError, "probs must be 1-D"),
        (np.ones(50), {"m": 0}, ValueError, "m must be an integer >= 1"),
        (np.ones(50), {"m": -3}, ValueError, "m must be an integer >= 1"),
        (np.ones(50), {"m": 2.0}, TypeError, "m must be an integer"),
        (np.ones(50), {"m": True}, TypeError, "m must be an integer"),
        (np.ones(50), {"m": 51}, ValueError, "m must be at most"),
        (np.r_[np.zeros(45), np.ones(5)], {"m": 6}, ValueError, "m must be at most.*5"),
        (np.ones(50), {"replace": 1}, TypeError, "replace must be True or False"),
        (np.ones(50), {"replace": "yes"}, TypeError, "replace must be True or False"),
        (np.ones(50), {"p": 0.5}, ValueError, "p must be >= 1"),
        (np.ones(50), {"p": math.inf}, ValueError, "p = inf"),
        (np.ones(50), {"p": True}, TypeError, "p must be a real number"),
        ("bogus", {}, ValueError, "must be one of.*'bogus'"),
    ],
)
def test_bad_input(probs, options, error, match):
    A = family("gaussian", 50, 3, 0)
    with pytest.raises(error, match=match):
        sample_rows(A, probs, **options)


def test_unknown_scheme_names_probs():
    with pytest.raises(ValueError, match="probs"):
        sample_rows(family("gaussian", 50, 3, 0), "bogus")


def test_m_beyond_n_with_replacement_is_allowed():
    A = family("gaussian", 50, 3, 0)
    assert len(sample_rows(A, "uniform", m=80, replace=True, seed=0)) == 80


def test_non_finite_matrix():
    A = family("gaussian", 50, 3, 0)
    A[2, 2] = np.nan
    with pytest.raises(ValueError, match="A must hold only finite"):
        sample_rows(A, np.ones(50))
