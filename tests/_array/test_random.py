"""The counter-based generator: known answers, cross-backend identity, block addressing,
statistical quality, sampling, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from sketchla.errors import BackendError
from sketchla.random import Generator
from sketchla.testing import assert_close, assert_equal

KINDS = ["uniform", "normal", "signs", "integers"]


def draw(g: Generator, kind: str, shape, **kw):
    if kind == "integers":
        return g.integers(0, 1000, shape, **kw)
    return getattr(g, kind)(shape, **kw)


# -- (a) the same seed gives the same numbers on every backend ---------------------------------


@pytest.mark.parametrize("kind", ["signs", "integers"])
@pytest.mark.parametrize("seed", [0, 1, 2**40 + 7])
def test_integers_and_signs_bit_identical_across_backends(backend, kind, seed):
    dtype = "int64" if kind == "integers" else "float64"
    got = draw(
        Generator(seed, stream=3),
        kind,
        (37, 11),
        dtype=backend.dtype(dtype),
        xp=backend.xp,
        device=backend.device,
    )
    want = draw(Generator(seed, stream=3), kind, (37, 11), dtype=dtype)
    assert_equal(got, want)


@pytest.mark.parametrize("seed", [0, 12345])
def test_uniforms_bit_identical_across_backends(backend, dtype, seed):
    got = Generator(seed).uniform(
        (100, 7), dtype=backend.dtype(dtype), xp=backend.xp, device=backend.device
    )
    assert_equal(got, Generator(seed).uniform((100, 7), dtype=dtype))


@pytest.mark.parametrize("seed", [0, 12345])
def test_normals_equal_to_rounding_across_backends(backend, dtype, seed):
    got = Generator(seed).normal(
        (500, 9), dtype=backend.dtype(dtype), xp=backend.xp, device=backend.device
    )
    want = Generator(seed).normal((500, 9), dtype=dtype)
    # float64: log/sqrt of different libms differ by a few ulps; float32 results are rounded
    # from float64 values, so at most one float32 ulp apart.
    assert_close(got, want, ulps=8 if dtype == "float64" else 1)


def test_result_lives_in_the_requested_namespace_and_device(backend, dtype):
    z = Generator(0).normal(
        (3, 2), dtype=backend.dtype(dtype), xp=backend.xp, device=backend.device
    )
    assert type(z) is type(backend.asarray(np.zeros(1)))
    assert z.dtype == backend.dtype(dtype)
    assert tuple(z.shape) == (3, 2)


def test_float32_stream_is_the_float64_stream_rounded_or_truncated():
    z64 = Generator(9).normal(10_000)
    np.testing.assert_array_equal(
        Generator(9).normal(10_000, dtype="float32"), z64.astype(np.float32)
    )
    u64 = Generator(9).uniform(10_000)
    np.testing.assert_array_equal(
        Generator(9).uniform(10_000, dtype="float32"),
        (np.floor(u64 * 2**24) / 2**24).astype(np.float32),
    )


def test_stream_format_is_stable():
    """The values a seed gives are part of the API: a change here breaks users' results."""
    assert Generator(2024).signs(8, dtype="int8").tolist() == [-1, -1, 1, 1, 1, -1, -1, -1]
    assert Generator(2024).integers(100, shape=6).tolist() == [36, 96, 80, 81, 13, 98]
    np.testing.assert_allclose(
        Generator(2024).normal(3),
        [-0.11227455521237653, 0.3757370298275793, 0.5218580643167661],
        rtol=1e-14,
    )


# -- (b) any block of a stream can be produced alone ------------------------------------------


@given(
    total=st.integers(0, 700),
    data=st.data(),
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 2**63),
)
def test_block_equals_slice_of_whole_stream(total, data, kind, seed):
    a = data.draw(st.integers(0, total))
    b = data.draw(st.integers(a, total))
    whole = draw(Generator(seed), kind, total, start=0)
    assert_equal(draw(Generator(seed), kind, b - a, start=a), whole[a:b])


def test_block_equals_slice_on_every_backend(backend):
    for kind in KINDS:
        kw = {"xp": backend.xp, "device": backend.device}
        whole = draw(Generator(5), kind, 1000, **kw)
        part = draw(Generator(5), kind, 255, start=301, **kw)
        assert_equal(part, whole[301:556])


def test_far_blocks_are_addressable_without_generating_what_precedes():
    far = Generator(1).normal(4, start=2**60)
    assert np.all(np.isfinite(far))
    assert_equal(Generator(1).normal(2, start=2**60 + 2), far[2:])


def test_successive_calls_continue_the_stream():
    g = Generator(11)
    first, second = g.normal(6), g.normal(5)
    assert_equal(np.concatenate([first, second]), Generator(11).normal(11))
    assert g.position == 3 + 3


def test_start_does_not_advance_the_generator():
    g = Generator(11)
    g.normal(4, start=100)
    assert g.position == 0
    assert_equal(g.normal(4), Generator(11).normal(4))


# -- (c) independence: statistical tests over >= 10^6 draws ------------------------------------

N_STAT = 1_000_000
ALPHA = 1e-4  # deterministic seeds: a failure means a defect, not bad luck


@pytest.mark.parametrize("seed", [0, 99])
def test_uniforms_pass_chi_square(seed):
    u = Generator(seed).uniform(N_STAT)
    counts = np.bincount((u * 1000).astype(np.int64), minlength=1000)
    assert stats.chisquare(counts).pvalue > ALPHA
    assert stats.kstest(u, "uniform").pvalue > ALPHA


@pytest.mark.parametrize("span", [2, 37, 1000, 2**31 + 11])
def test_integers_pass_chi_square(span):
    k = Generator(span).integers(0, span, N_STAT)
    assert k.min() >= 0
    assert k.max() < span
    bins = min(span, 1000)
    counts = np.bincount((k * bins) // span, minlength=bins)
    expected = (
        np.bincount((np.arange(span) * bins) // span, minlength=bins)
        if span <= 10**6
        else np.full(bins, span / bins)
    )
    assert stats.chisquare(counts, expected / expected.sum() * N_STAT).pvalue > ALPHA


@pytest.mark.parametrize("seed", [0, 99])
def test_normals_pass_kolmogorov_smirnov_and_moments(seed):
    z = Generator(seed).normal(N_STAT)
    assert stats.kstest(z, "norm").pvalue > ALPHA
    assert abs(z.mean()) < 5 / math.sqrt(N_STAT)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / N_STAT)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / N_STAT)
    tail = np.mean(np.abs(z) > 3)
    assert abs(tail - 2 * stats.norm.sf(3)) < 5 * math.sqrt(2 * stats.norm.sf(3) / N_STAT)


def test_signs_are_balanced_and_uncorrelated():
    s = Generator(4).signs(N_STAT)
    assert abs(s.mean()) < 5 / math.sqrt(N_STAT)
    for lag in (1, 31, 32, 128):
        assert abs(np.mean(s[lag:] * s[:-lag])) < 5 / math.sqrt(N_STAT)


def _independent_pairs():
    base = Generator(7)
    child_a, child_b = base.spawn(2)
    return {
        "seeds": (Generator(7), Generator(8)),
        "streams": (Generator(7, stream=0), Generator(7, stream=1)),
        "spawned": (child_a, child_b),
        "parent-child": (Generator(7), Generator(7).spawn(1)[0]),
    }


@pytest.mark.parametrize("pair", ["seeds", "streams", "spawned", "parent-child"])
def test_streams_are_uncorrelated(pair):
    g1, g2 = _independent_pairs()[pair]
    z1, z2 = g1.normal(N_STAT), g2.normal(N_STAT)
    assert abs(np.corrcoef(z1, z2)[0, 1]) < 5 / math.sqrt(N_STAT)
    u1, u2 = g1.uniform(N_STAT), g2.uniform(N_STAT)
    assert stats.spearmanr(u1, u2).statistic < 5 / math.sqrt(N_STAT)
    assert not np.array_equal(z1[:10], z2[:10])


def test_serial_correlation_within_a_stream():
    z = Generator(3).normal(N_STAT)
    for lag in (1, 2, 3):
        assert abs(np.corrcoef(z[lag:], z[:-lag])[0, 1]) < 5 / math.sqrt(N_STAT)


# -- sampling ---------------------------------------------------------------------------------


def test_choice_without_replacement_is_a_uniform_subset():
    n, k, trials = 10, 3, 20_000
    g = Generator(21)
    counts = np.zeros((k, n))
    for _ in range(trials):
        sample = g.choice(n, k, replace=False)
        assert len(set(sample.tolist())) == k
        counts[np.arange(k), sample] += 1
    for row in counts:  # every position of the sample is uniform over the population
        assert stats.chisquare(row).pvalue > ALPHA


def test_choice_with_probabilities_matches_them():
    p = np.array([0.5, 0.0, 0.2, 0.3])
    k = Generator(2).choice(4, N_STAT, p=p)
    counts = np.bincount(k, minlength=4)
    assert counts[1] == 0
    assert stats.chisquare(counts[p > 0], p[p > 0] * N_STAT).pvalue > ALPHA


def test_weighted_choice_without_replacement_draws_successively():
    p = np.array([0.1, 0.6, 0.3, 0.0])
    g = Generator(6)
    draws = np.array([g.choice(4, 2, replace=False, p=p) for _ in range(20_000)])
    first = np.bincount(draws[:, 0], minlength=4)
    assert first[3] == 0
    assert not np.any(draws == 3)
    assert stats.chisquare(first[:3], p[:3] * len(draws)).pvalue > ALPHA
    # second draw given the first is 1: proportional to the remaining weights (0.1, 0.3)
    second = np.bincount(draws[draws[:, 0] == 1, 1], minlength=4)[[0, 2]]
    assert stats.chisquare(second, np.array([0.25, 0.75]) * second.sum()).pvalue > ALPHA


def test_choice_and_permutation_on_every_backend(backend):
    population = backend.asarray(np.arange(50.0) * 2)
    p = backend.asarray(np.full(50, 1 / 50))
    sample = Generator(1).choice(population, 20, replace=False, p=p)
    values = backend.to_numpy(sample)
    assert len(set(values.tolist())) == 20
    assert set(values.tolist()) <= set(range(0, 100, 2))
    perm = backend.to_numpy(Generator(1).permutation(population))
    assert sorted(perm.tolist()) == list(range(0, 100, 2))
    idx = Generator(1).choice(50, 10, xp=backend.xp, device=backend.device)
    assert_equal(idx, Generator(1).choice(50, 10))
    if backend.readonly:  # the caller's arrays were only read
        assert not population.flags.writeable
        assert np.all(population == np.arange(50.0) * 2)


def test_choice_identical_across_backends(backend):
    p = np.linspace(1, 2, 30)
    p /= p.sum()
    got = Generator(8).choice(30, 15, replace=False, p=backend.asarray(p))
    assert_equal(got, Generator(8).choice(30, 15, replace=False, p=p))
    assert_equal(
        Generator(8).permutation(30, xp=backend.xp, device=backend.device),
        Generator(8).permutation(30),
    )


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1.5, "42", True, [1, 2], np.random.default_rng(0), object()])
def test_seed_of_wrong_type_is_a_type_error(seed):
    with pytest.raises(TypeError, match="seed must be None, a non-negative int"):
        Generator(seed)


def test_negative_seed_is_a_value_error():
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        Generator(-1)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda g: g.normal(-1), ValueError, r"shape must be an integer >= 0, got -1"),
        (lambda g: g.normal((2, 1.5)), TypeError, r"shape\[1\] must be an integer"),
        (lambda g: g.normal(2.0), TypeError, r"shape must be an integer"),
        (lambda g: g.normal(3, dtype="int32"), TypeError, "dtype must be a real floating"),
        (lambda g: g.normal(3, scale=-1), ValueError, "scale must be >= 0"),
        (lambda g: g.normal(3, loc=float("nan")), ValueError, "loc must be finite"),
        (lambda g: g.uniform(3, low=2, high=1), ValueError, "low must be <= high"),
        (lambda g: g.integers(5, 5), ValueError, r"high - low must be in \[1, 2\*\*32\]"),
        (lambda g: g.integers(0, 2**33), ValueError, r"high - low must be in \[1, 2\*\*32\]"),
        (lambda g: g.integers(0, 300, dtype="int8"), ValueError, "does not fit in dtype"),
        (lambda g: g.integers(0, 3.5), TypeError, "high must be an integer"),
        (lambda g: g.normal(3, start=-2), ValueError, "start must be an integer"),
        (lambda g: g.choice(5, 6, replace=False), ValueError, "cannot take 6 samples"),
        (
            lambda g: g.choice(3, 3, replace=False, p=[0.5, 0.5, 0.0]),
            ValueError,
            "with non-zero probability",
        ),
        (lambda g: g.choice(3, 2, p=[0.5, 0.6, 0.0]), ValueError, "p must sum to 1"),
        (lambda g: g.choice(3, 2, p=[1.5, -0.5, 0.0]), ValueError, "p must be non-negative"),
        (lambda g: g.choice(3, 2, p=[0.5, 0.5]), ValueError, "p must have length 3"),
        (lambda g: g.choice(0, 2), ValueError, "a must be an integer >= 1"),
        (lambda g: g.choice(np.ones((2, 2)), 2), ValueError, "a must be an int or a non-empty"),
        (lambda g: g.spawn(-1), ValueError, "n_children must be an integer >= 0"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(Generator(0))


def test_stream_out_of_range():
    with pytest.raises(ValueError, match=r"stream must be an integer in \[0, 4294967295\]"):
        Generator(0, stream=2**32)


def test_p_with_nonfinite_values_is_refused():
    with pytest.raises(ValueError, match="p must hold only finite values"):
        Generator(0).choice(2, 1, p=[np.nan, 1.0])


def test_mixed_namespaces_are_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(BackendError, match="different libraries"):
        Generator(0).choice(np.arange(3), 2, p=torch.tensor([0.2, 0.3, 0.5]))
    with pytest.raises(BackendError, match="xp=torch but a/p are numpy"):
        Generator(0).choice(np.arange(3), 2, xp=torch)


@pytest.mark.parametrize("kind", ["uniform", "normal", "signs"])
def test_out_receives_the_same_values(kind):
    out = np.empty((30, 7))
    got = getattr(Generator(4), kind)((30, 7), out=out, start=11)
    assert got is out
    assert_equal(out, getattr(Generator(4), kind)((30, 7), start=11))
    scaled = np.empty(5)
    Generator(4).normal(5, loc=2.0, scale=3.0, out=scaled)
    assert_close(scaled, 2.0 + 3.0 * Generator(4).normal(5))


def test_out_must_fit():
    with pytest.raises(ValueError, match=r"out must have shape \(3,\) and dtype float64"):
        Generator(0).normal(3, out=np.empty(4))
    with pytest.raises(ValueError, match="out must be C-contiguous and writeable"):
        Generator(0).normal(3, out=np.empty((3, 2))[:, 0])
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="out must be a NumPy array"):
        Generator(0).normal(3, xp=torch, dtype=torch.float64, out=torch.empty(3))


@pytest.mark.parametrize("kind", ["signs", "uniform", "integers"])
def test_serial_and_parallel_kernels_give_the_same_stream(kind):
    # short requests take a one-thread kernel, long ones the parallel one: same stream
    def draw(n, start):
        if kind == "integers":
            return Generator(5).integers(0, 1000, n, start=start)
        return getattr(Generator(5), kind)(n, start=start)

    big = draw((1 << 19) + 300, 77)
    assert_equal(big[:1000], draw(1000, 77))
    assert_equal(big[(1 << 18) : (1 << 18) + 555], draw(555, 77 + (1 << 18)))
    assert_equal(big[-301:], draw(301, 77 + (1 << 19) - 1))
