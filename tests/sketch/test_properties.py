"""What makes a sketch a sketch: unbiasedness, subspace embedding, distance preservation, and
the distribution of the entries each family promises."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sketchla import sketch_operator
from sketchla.sketch import FAMILIES

ALPHA = 1e-4  # fixed seeds: a failure is a defect, not bad luck


@pytest.mark.parametrize("kind", sorted(FAMILIES))
@pytest.mark.parametrize("n", [13, 16])  # 13: SRHT padding, odd-length SRFT
def test_unbiased_in_expectation(kind, n):
    """mean over seeds of S.T @ S approaches I at the 1/sqrt(trials) rate."""
    m, trials = 8, 400
    products = np.stack(
        [
            (lambda D: D.T @ D)(sketch_operator(kind, m, n, seed=seed).to_dense())
            for seed in range(trials)
        ]
    )
    mean = products.mean(axis=0)
    spread = products.std(axis=0) + 1e-12
    z = np.abs(mean - np.eye(n)) / (spread / math.sqrt(trials))
    assert z.max() < 5.5  # max of n**2 |N(0,1)| stays below 5.5 with probability > 0.99


def _theory_size(kind: str, d: int, distortion: float, failure: float = 1e-4) -> int:
    """Sketch sizes from the theory, with the tail term of the failure probability.

    Gaussian: sigma(S U) lies in 1 +- (sqrt(d) + t) / sqrt(m) with probability 1 - 2 exp(-t**2/2)
    (Davidson-Szarek), so m = (sqrt(d) + sqrt(2 log(2 / failure)))**2 / eps**2; a factor 1.5
    covers the sub-Gaussian families, and a further log(d + 1) the structured ones (SRHT, SRFT,
    SASO, row sampling of incoherent input)."""
    gaussian = (math.sqrt(d) + math.sqrt(2 * math.log(2 / failure))) ** 2 / distortion**2
    if kind in ("gaussian", "rademacher", "uniform", "very_sparse"):
        return math.ceil(1.5 * gaussian)
    if kind in ("saso", "srht", "srft", "uniform_rows"):
        return math.ceil(1.5 * gaussian * math.log(d + 1))
    # CountSketch: m = d**2 / (delta eps**2); failure is two leverage rows sharing a bucket
    return math.ceil(d**2 / (0.01 * distortion**2))


def _basis(n: int, d: int, coherent: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if coherent:  # all the leverage sits on d rows: scaled identity rows over small noise
        A = 1e-3 * rng.standard_normal((n, d))
        A[rng.choice(n, d, replace=False)] += 100 * np.eye(d)
    else:
        A = rng.standard_normal((n, d))
    return np.linalg.qr(A)[0]


EMBEDDING_KINDS = [
    "gaussian",
    "rademacher",
    "uniform",
    "srht",
    "srft",
    "countsketch",
    "saso",
    "very_sparse",
]


@pytest.mark.parametrize("kind", [*EMBEDDING_KINDS, "uniform_rows"])
@settings(max_examples=6)
@given(n=st.integers(1500, 4000), d=st.integers(2, 8), coherent=st.booleans())
def test_subspace_embedding_at_the_theory_size(kind, n, d, coherent):
    if kind in ("uniform_rows", "very_sparse") and coherent:
        # Row sampling, and very sparse projections (whose columns are often all zero), need
        # incoherent inputs: they provably fail on coherent ones (tested below).
        return
    distortion = 0.5
    m = _theory_size(kind, d, distortion)
    m = m if kind == "countsketch" else min(m, n)
    U = _basis(n, d, coherent, seed=n + d)
    for seed in range(3):
        sigma = np.linalg.svd(sketch_operator(kind, m, n, seed=seed) @ U, compute_uv=False)
        assert sigma.min() >= 1 - distortion, (m, sigma)
        assert sigma.max() <= 1 + distortion, (m, sigma)


def test_sampling_fails_on_coherent_input_and_mixing_does_not():
    n, d = 4096, 6
    U = _basis(n, d, coherent=True, seed=0)
    for kind, m in (("uniform_rows", 200), ("very_sparse", 40)):
        sigma = np.linalg.svd(sketch_operator(kind, m, n, seed=1) @ U, compute_uv=False)
        assert sigma.min() < 0.5  # misses some of the leverage rows
    for kind in ("srht", "srft", "saso", "gaussian"):
        sigma = np.linalg.svd(sketch_operator(kind, 200, n, seed=1) @ U, compute_uv=False)
        assert sigma.min() > 0.5
        assert sigma.max() < 1.5


@pytest.mark.parametrize("kind", EMBEDDING_KINDS)
def test_distances_are_preserved(kind):
    """Johnson-Lindenstrauss: 40 points in R^2000, m = 600: every pairwise distance kept within
    30%."""
    rng = np.random.default_rng(0)
    points = rng.standard_normal((2000, 40))
    sketched = sketch_operator(kind, 600, 2000, seed=3) @ points
    i, j = np.triu_indices(40, k=1)
    before = np.linalg.norm(points[:, i] - points[:, j], axis=0)
    after = np.linalg.norm(sketched[:, i] - sketched[:, j], axis=0)
    ratio = after / before
    assert ratio.min() > 0.7
    assert ratio.max() < 1.3


@pytest.mark.parametrize("kind", ["gaussian", "rademacher", "uniform"])
@pytest.mark.parametrize("n", [3, 5000, 9000])
def test_dense_entries_follow_the_documented_stream_layout(kind, n):
    """S[i, j] = value p * 2**40 + i * w_p + (j - p W) of stream 0, w_p = min(W, n - p W)."""
    m, width = 11, 4096
    S = sketch_operator(kind, m, n, seed=8)
    dense = S.to_dense() * math.sqrt(m)
    g = S.generator(0)
    draw = {
        "gaussian": g.normal,
        "rademacher": g.signs,
        "uniform": lambda k, start: g.uniform(k, low=-math.sqrt(3), high=math.sqrt(3), start=start),
    }[kind]
    for i, j in [(0, 0), (m - 1, n - 1), (5, n // 2), (3, min(n - 1, width))]:
        p = j // width
        w = min(width, n - p * width)
        value = draw(1, start=p * 2**40 + i * w + (j - p * width))[0]
        assert dense[i, j] == pytest.approx(value, rel=1e-15)


def test_gaussian_entries_are_normal_with_variance_one_over_m():
    m = 50
    entries = sketch_operator("gaussian", m, 20_000, seed=0).to_dense().ravel() * math.sqrt(m)
    assert stats.kstest(entries, "norm").pvalue > ALPHA


@pytest.mark.parametrize(("kind", "values"), [("rademacher", 2), ("uniform", None)])
def test_sign_and_uniform_entries(kind, values):
    m = 40
    entries = sketch_operator(kind, m, 25_000, seed=1).to_dense().ravel() * math.sqrt(m)
    if values == 2:
        assert set(np.unique(entries)) == {-1.0, 1.0}
        assert abs(entries.mean()) < 5 / math.sqrt(entries.size)
    else:
        assert (
            stats.kstest(entries, "uniform", args=(-math.sqrt(3), 2 * math.sqrt(3))).pvalue > ALPHA
        )


def test_countsketch_has_one_sign_per_column_in_a_uniform_row():
    m, n = 64, 200_000
    S = sketch_operator("countsketch", m, n, seed=2)
    columns = np.abs(S.T @ np.eye(m))  # row j: |S[:, j]|
    assert np.all((columns != 0).sum(axis=1) == 1)
    assert np.all(columns.max(axis=1) == 1.0)
    rows = np.argmax(columns, axis=1)
    assert stats.chisquare(np.bincount(rows, minlength=m)).pvalue > ALPHA
    signs = S.T @ np.ones(m)  # the sign of each column
    assert abs(signs.mean()) < 5 / math.sqrt(n)


@pytest.mark.parametrize("nnz", [1, 3, 8])
def test_saso_has_exactly_nnz_distinct_rows_per_column(nnz):
    D = sketch_operator("saso", 16, 3000, seed=4, nnz=nnz).to_dense()
    assert np.all((D != 0).sum(axis=0) == nnz)
    assert np.allclose(np.abs(D[D != 0]), 1 / math.sqrt(nnz))
    # every row equally likely to hold a nonzero
    assert stats.chisquare((D != 0).sum(axis=1)).pvalue > ALPHA


def test_saso_row_subsets_are_uniform():
    """Floyd's algorithm: each of the C(5, 2) row pairs equally likely."""
    D = sketch_operator("saso", 5, 30_000, seed=6, nnz=2).to_dense() != 0
    pair_ids = [tuple(np.flatnonzero(col)) for col in D.T]
    _, counts = np.unique(pair_ids, axis=0, return_counts=True)
    assert len(counts) == 10
    assert stats.chisquare(counts).pvalue > ALPHA


@pytest.mark.parametrize("s", [1.0, 3.0, 30.0])
def test_very_sparse_density_and_values(s):
    m, n = 60, 20_000
    D = sketch_operator("very_sparse", m, n, seed=5, s=s).to_dense()
    nonzero = D != 0
    expected = m * n / s
    assert abs(nonzero.sum() - expected) < 5 * math.sqrt(expected * (1 - 1 / s) + 1)
    assert np.allclose(np.abs(D[nonzero]), math.sqrt(s / m))
    assert abs(np.sign(D[nonzero]).mean()) < 5 / math.sqrt(nonzero.sum())
    # nonzeros spread evenly over rows (geometric skips leave no positional bias)
    assert stats.chisquare(nonzero.sum(axis=1)).pvalue > ALPHA
