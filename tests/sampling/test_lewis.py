"""``lewis_weights``: the fixed point ``w_i^{2/p} = a_i^T (A^T W^{1-2/p} A)^{-1} a_i`` checked
independently (an SVD of ``W^{1/2-1/p} A`` in float64) on every family and ``p`` from 1 to 12,
against a 50-digit mpmath fixed point, the sketched weights against the exact ones, invariances
(Hypothesis), zero rows, sparse input, every backend, the ConvergenceWarning and bad input.

Bounds (see ``_sampling_problems``). A result reported converged has, by its own scores,
``max_i |w_i^{2/p} / g_i - 1| <= tol``; its scores carry a relative error ``rho``
(:func:`relative_score_error`) and the float64 reference one of ``16 eps_64 (n + d)
kappa``, so the residual computed here may reach ``(1 + tol)(1 + rho)(1 + ref) - 1``. Since
``w_i = tau_i(W^{1/2-1/p} A) (w_i^{2/p} / g_i)`` and the ``tau_i`` sum to the rank,
``|sum w - rank| <= rank`` times that residual, and ``w_i <= 1 +`` it. The distance to the
true weights follows from the residual by :func:`lewis_log_distance`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _sampling_problems import (
    FAMILIES,
    FLOAT32_FAMILIES,
    as_dtype,
    backward_error,
    condition,
    f64,
    gaussian,
    haar,
    heavy_tailed,
    ill_conditioned,
    leverage,
    lewis_log_distance,
    lewis_mpmath,
    lewis_reference,
    lewis_residual,
    log_residual,
    rank_deficient,
    relative_score_error,
    scaled,
    with_zero_rows,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchla import ConvergenceWarning
from sketchla._array import device
from sketchla.sampling import LewisWeights, lewis_weights
from sketchla.testing import eps as machine_eps

P_VALUES = [1, 1.5, 3, 4, 6, 12]


def default_tol(dtype) -> float:
    return math.sqrt(machine_eps(dtype) / 2)  # sqrt(u), the documented default


def allowed_residual(A, w, p: float, rank: int, dtype, tol: float) -> float:
    """``(1 + tol)(1 + rho)(1 + ref) - 1`` (see the module docstring)."""
    B = scaled(A, w, p)
    rho = relative_score_error(B, rank, dtype)
    reference = backward_error(B.shape, "float64") * condition(B, rank)
    return (1 + tol) * (1 + rho) * (1 + reference) - 1


def check_fixed_point(result, A, p: float, rank: int, dtype, tol=None) -> float:
    """A converged result: its fields, zero weights exactly on the zero rows, the residual
    computed independently within :func:`allowed_residual`, the sum and the range of the
    weights. Returns the allowed residual."""
    tol = default_tol(dtype) if tol is None else tol
    assert isinstance(result, LewisWeights)
    assert result.converged is True
    assert isinstance(result.iterations, int)
    assert result.iterations >= 1
    assert isinstance(result.residual, float)
    assert 0 <= result.residual <= tol
    A64 = f64(A)
    w = np.asarray(result.weights)
    assert w.shape == (A64.shape[0],)
    assert w.dtype == np.dtype(dtype)
    w = f64(w)
    zero = np.all(A64 == 0, axis=1)
    assert np.all(w[zero] == 0)
    assert np.all(w[~zero] > 0)
    allowed = allowed_residual(A64, w, p, rank, dtype, tol)
    assert lewis_residual(A64, w, p, rank) <= allowed
    assert abs(float(np.sum(w)) - rank) <= rank * allowed
    assert np.all(w <= 1 + allowed)
    return allowed


def distance_bound(p: float, allowed: float, rank: int) -> float:
    return lewis_log_distance(p, log_residual(allowed), rank)


def log_distance(w, v) -> float:
    """``max_i |log w_i - log v_i|`` over the rows where both are positive (and the zeros
    must agree)."""
    w, v = f64(w), f64(v)
    assert np.array_equal(w == 0, v == 0)
    keep = w > 0
    return float(np.max(np.abs(np.log(w[keep]) - np.log(v[keep]))))


CASES = [
    pytest.param(family, dtype, id=f"{family}-{dtype}")
    for family in FAMILIES
    for dtype in ("float64", "float32")
    if dtype == "float64" or family in FLOAT32_FAMILIES
]


# -- the fixed point -------------------------------------------------------------------------------


def family_cases():
    """Every family, dtype, ``p`` and seed; float32 heavy-tailed rows at ``p = 12`` are left out:
    their Lewis weights reach ``1e-44``, below float32's normal range (see
    test_float32_weights_below_normal_range)."""
    for family, dtype in ((c.values[0], c.values[1]) for c in CASES):
        for p in P_VALUES:
            if (family, dtype, p) == ("heavy-tailed", "float32", 12):
                continue
            for seed in (0, 1):
                yield pytest.param(family, dtype, p, seed, id=f"{family}-{dtype}-{p}-{seed}")


@pytest.mark.parametrize(("family", "dtype", "p", "seed"), list(family_cases()))
def test_fixed_point_on_families(family, dtype, p, seed):
    A64, rank = FAMILIES[family](200, 5, seed)
    A = as_dtype(A64, dtype)
    check_fixed_point(lewis_weights(A, p), A, p, rank, dtype)


@pytest.mark.parametrize("p", P_VALUES)
def test_fixed_point_larger_problem(p):
    A, rank = heavy_tailed(3000, 20, seed=4)
    check_fixed_point(lewis_weights(A, p), A, p, rank, "float64")


@pytest.mark.parametrize("p", [1, 3, 12])
@pytest.mark.parametrize("tol", [1e-4, 1e-12])
def test_custom_tol(p, tol):
    A, rank = gaussian(150, 4, seed=2)
    result = lewis_weights(A, p, tol=tol)
    check_fixed_point(result, A, p, rank, "float64", tol=tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("family", ["gaussian", "heavy-tailed", "rank-deficient", "coherent"])
def test_p2_is_leverage(family, dtype):
    """At ``p = 2`` the map is the identity after the leverage scores: the weights are the
    scores, to their relative rounding ``rho``."""
    A64, rank = FAMILIES[family](200, 6, seed=3)
    A = as_dtype(A64, dtype)
    result = lewis_weights(A, 2)
    check_fixed_point(result, A, 2, rank, dtype)
    tau = leverage(A, rank)
    rho = relative_score_error(A, rank, dtype)
    reference = backward_error(A.shape, "float64") * condition(A, rank)
    assert np.all(np.abs(f64(result.weights) - tau) <= (rho + reference) * tau)


@pytest.mark.parametrize("family", ["gaussian", "heavy-tailed"])
@pytest.mark.parametrize("p", P_VALUES)
def test_matches_mpmath_fixed_point(family, p):
    """40 x 3: the 50-digit fixed point ``w*``; ``|log w - log w*|`` within the distance
    implied by the allowed residual (plus the rounding of ``w*`` to float64)."""
    A, rank = FAMILIES[family](40, 3, 0)
    expected = lewis_mpmath(A, p)
    result = lewis_weights(A, p)
    allowed = check_fixed_point(result, A, p, rank, "float64")
    bound = distance_bound(p, allowed, rank) + 2 * machine_eps("float64")
    assert log_distance(result.weights, expected) <= bound


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rank", [1, 2, 4])
@pytest.mark.parametrize("p", [1, 3, 12])
def test_rank_deficient_sums_to_rank(rank, p, dtype):
    A64, r = rank_deficient(120, 7, seed=rank, rank=rank)
    A = as_dtype(A64, dtype)
    result = lewis_weights(A, p)
    check_fixed_point(result, A, p, r, dtype)
    assert round(float(np.sum(f64(result.weights)))) == r


@pytest.mark.parametrize(
    ("c", "v", "p"),
    [
        ([1.0, 2.0], [1.0, 1.0], 3),
        ([1.0, 2.0], [1.0, 1.0], 8),
        pytest.param([1.0, 2.0], [1.0, 1.0], 12),
        ([1.0, 2.0, 3.0], [1.0, 1.0], 12),
        ([0.5, -1.0, 3.0, 0.0, 2.0], [0.3, -0.4, 1.2], 1),
        ([0.5, -1.0, 3.0, 0.0, 2.0], [0.3, -0.4, 1.2], 6),
    ],
)
def test_rank_one_closed_form(c, v, p):
    """Rows ``c_i v``: ``w_i^{2/p} = c_i**2 / sum_j w_j^{1-2/p} c_j**2`` is solved by
    ``w = |c|**p / sum |c|**p`` (then the sum is ``S^{2/p}`` with ``S = sum |c|**p``). The
    weights are compared within the distance implied by the allowed residual."""
    c, v = np.asarray(c), np.asarray(v)
    A = np.outer(c, v)
    expected = np.abs(c) ** p / np.sum(np.abs(c) ** p)
    result = lewis_weights(A, p)
    allowed = check_fixed_point(result, A, p, 1, "float64")
    assert log_distance(result.weights, expected) <= distance_bound(p, allowed, 1) + 4 * (
        machine_eps("float64") * p
    )


@pytest.mark.parametrize("p", [1, 4, 12])
def test_ill_conditioned_equals_well_conditioned(p):
    """``A0 G`` (``kappa(G) = 1e6``) has the weights of ``A0``: both results within the
    distance implied by their allowed residuals."""
    A0, rank = gaussian(200, 6, seed=7)
    A = A0 @ ill_conditioned(6, 6, seed=8)[0]
    well, ill = lewis_weights(A0, p), lewis_weights(A, p)
    allowed0 = check_fixed_point(well, A0, p, rank, "float64")
    allowed1 = check_fixed_point(ill, A, p, rank, "float64")
    bound = distance_bound(p, allowed0, rank) + distance_bound(p, allowed1, rank)
    assert log_distance(well.weights, ill.weights) <= bound


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("n", "d"), [(1, 1), (1, 4), (3, 3), (4, 9), (10, 25)])
@pytest.mark.parametrize("p", [1, 3, 12])
def test_wide_full_row_rank_weights_are_one(n, d, p, dtype):
    """Independent rows (``n <= d``): every ``tau_i = 1`` whatever the weights, so ``w = 1``."""
    A64, rank = gaussian(n, d, seed=n * d)
    A = as_dtype(A64, dtype)
    result = lewis_weights(A, p)
    allowed = check_fixed_point(result, A, p, rank, dtype)
    assert np.all(np.abs(f64(result.weights) - 1) <= allowed)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("p", [1, 3, 12])
def test_zero_rows_weigh_zero(kind, p, dtype):
    """Zero rows (first, middle, last) weigh exactly 0; the others as without them."""
    A0, rank = heavy_tailed(100, 4, seed=5)
    A0 = as_dtype(A0, dtype)
    A = with_zero_rows(A0, [0, 0, 50, 100])
    result = lewis_weights(sp.csr_array(A) if kind == "sparse" else A, p)
    assert isinstance(result.weights, np.ndarray)
    allowed = check_fixed_point(result, A, p, rank, dtype)
    alone = lewis_weights(A0, p)
    allowed0 = check_fixed_point(alone, A0, p, rank, dtype)
    nonzero = np.any(A != 0, axis=1)
    bound = distance_bound(p, allowed, rank) + distance_bound(p, allowed0, rank)
    assert log_distance(f64(result.weights)[nonzero], alone.weights) <= bound


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("family", ["gaussian", "heavy-tailed", "rank-deficient"])
@pytest.mark.parametrize("p", [1.5, 6])
def test_sparse_equals_dense(family, p, dtype):
    A64, rank = FAMILIES[family](150, 5, seed=12)
    A64[np.random.default_rng(12).random(150) < 0.2] = 0.0  # zero rows keep the rank
    A = as_dtype(A64, dtype)
    dense = lewis_weights(A, p)
    allowed = check_fixed_point(dense, A, p, rank, dtype)
    for sparse in (sp.csr_array(A), sp.coo_matrix(A)):
        result = lewis_weights(sparse, p)
        assert isinstance(result.weights, np.ndarray)
        allowed_sparse = check_fixed_point(result, A, p, rank, dtype)
        bound = distance_bound(p, allowed, rank) + distance_bound(p, allowed_sparse, rank)
        assert log_distance(result.weights, dense.weights) <= bound


@pytest.mark.parametrize("scale", [2.0**-40, 1e-30, 1e30, 1e150])
def test_scaling_leaves_weights_unchanged(scale):
    A, rank = gaussian(60, 3, seed=1)
    base = lewis_weights(A, 3)
    allowed = check_fixed_point(base, A, 3, rank, "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # B^T B may overflow at 1e150
        result = lewis_weights(scale * A, 3)
    allowed_scaled = check_fixed_point(result, scale * A, 3, rank, "float64")
    bound = distance_bound(3, allowed, rank) + distance_bound(3, allowed_scaled, rank)
    assert log_distance(result.weights, base.weights) <= bound


def test_input_left_untouched():
    A = with_zero_rows(heavy_tailed(50, 3, seed=1)[0], [5])
    copy = A.copy()
    lewis_weights(A, 1)
    lewis_weights(np.vstack([A] * 40), 1, method="sketch", tol=0.5, seed=0)
    assert np.array_equal(A, copy)


# -- convergence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 3, 12])
def test_maxiter_one_warns(p):
    A = gaussian(200, 5, seed=0)[0]
    with pytest.warns(ConvergenceWarning, match="maxiter=1"):
        result = lewis_weights(A, p, maxiter=1)
    assert result.converged is False
    assert result.iterations == 1
    assert result.residual > default_tol("float64")
    w = f64(result.weights)
    assert np.all(np.isfinite(w))
    assert np.all(w > 0)


def test_p2_converges_in_one_round_without_warning():
    A, rank = gaussian(200, 5, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = lewis_weights(A, 2, maxiter=1)
    check_fixed_point(result, A, 2, rank, "float64")
    assert result.iterations == 1


def test_reported_residual_is_that_of_the_weights():
    A, rank = gaussian(200, 5, seed=0)
    with pytest.warns(ConvergenceWarning):
        result = lewis_weights(A, 1, maxiter=1)
    true = lewis_residual(A, result.weights, 1, rank)
    allowed = allowed_residual(A, result.weights, 1, rank, "float64", 0.0)
    assert abs(true - result.residual) <= allowed * (1 + true)


def test_heavy_tailed_ill_conditioned_converges():
    for seed in range(3):
        rng = np.random.default_rng(seed)
        A = ill_conditioned(300, 6, seed, kappa=1e4)[0] * rng.standard_t(2, size=(300, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = lewis_weights(A, 12)
        check_fixed_point(result, A, 12, 6, "float64")


def test_float32_weights_below_normal_range():
    """Weights of about 1e-44 lie below float32's normal range: the iteration runs in float64
    (converging, with no warning), and only the result is rounded to float32."""
    for seed in (2, 5):
        A = heavy_tailed(200, 5, seed)[0].astype(np.float32)
        result = lewis_weights(A, 12)
        assert result.converged
        assert result.weights.dtype == np.float32
        assert np.all(np.isfinite(result.weights))
        # the sum is the rank, to the residual tol (sqrt(u) of float64) per unit of weight,
        # plus float32's rounding of each weight (u w_i)
        allowed = 5 * (default_tol("float64") + machine_eps("float32") / 2)
        assert abs(float(np.sum(result.weights, dtype=np.float64)) - 5) <= allowed


# -- sketched weights ------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["gaussian", "heavy-tailed", "coherent"])
@pytest.mark.parametrize("p", [1, 1.5, 3])
@pytest.mark.parametrize("eps", [0.5, 0.25])
def test_sketch_within_derived_factor(family, p, eps):
    """8000 x 8 with ``tol = eps``. The reported residual is measured with sketched scores
    ``g~ = g (1 + e)``, ``|e| <= eps``, so the true ratio ``w^{2/p} / g`` lies in
    ``[(1 - tol)(1 - eps), (1 + tol)(1 + eps)]``: ``e' = -log((1 - tol)(1 - eps))`` and, for
    ``p < 4``, ``|log w - log w*| <= c_p e'`` (a factor 4 at ``eps = 0.5`` and ``p <= 2``,
    1.78 at ``eps = 0.25``; no global bound exists beyond ``p = 4``)."""
    A, rank = FAMILIES[family](8000, 8, 1)
    expected = lewis_reference(A, p, rank)
    e = -math.log((1 - eps) * (1 - eps))
    for seed in (0, 1):
        result = lewis_weights(A, p, method="sketch", eps=eps, tol=eps, seed=seed)
        assert result.converged is True
        assert result.residual <= eps
        assert log_distance(result.weights, expected) <= lewis_log_distance(p, e, rank)


def test_sketch_default_tol_converges():
    A = gaussian(8000, 8, seed=1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for seed in (0, 1, 2):
            assert lewis_weights(A, 1, method="sketch", seed=seed).converged


def test_sketch_small_problem_is_exact_scores():
    """Below the sketch size (``n <= 30 d``) the scores are exact: the fixed point is checked to
    the tolerance asked for."""
    A, rank = heavy_tailed(100, 5, seed=2)
    result = lewis_weights(A, 3, method="sketch", tol=1e-8, seed=0)
    check_fixed_point(result, A, 3, rank, "float64", tol=1e-8)


def test_sketch_reproducible():
    A = with_zero_rows(heavy_tailed(6000, 6, seed=3)[0], [0, 3000])
    first = lewis_weights(A, 1, method="sketch", tol=0.5, seed=5)
    again = lewis_weights(A, 1, method="sketch", tol=0.5, seed=5)
    assert np.array_equal(first.weights, again.weights)
    assert first.iterations == again.iterations
    assert first.residual == again.residual
    assert np.all(first.weights[[0, 3001]] == 0)
    other = lewis_weights(A, 1, method="sketch", tol=0.5, seed=6)
    assert not np.array_equal(first.weights, other.weights)


# -- properties (Hypothesis) ---------------------------------------------------------------------


@st.composite
def lewis_problems(draw):
    """``(A, rank, rng)``: ``U diag(s) V^T`` of a drawn shape and condition (up to 1e3), full
    column rank (rank-deficient input: test_rank_one_closed_form and the families)."""
    d = draw(st.integers(1, 4))
    n = draw(st.integers(d, 30))
    rank = d
    log_kappa = draw(st.floats(0, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sigma = np.logspace(0, -log_kappa, rank)
    A = (haar(n, rank, rng) * sigma) @ haar(d, rank, rng).T
    return A, rank, rng


@given(lewis_problems(), st.sampled_from([1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 12]))
@settings(max_examples=40, deadline=None)
def test_property_fixed_point(problem, p):
    A, rank, _ = problem
    check_fixed_point(lewis_weights(A, p), A, p, rank, "float64")


@given(
    lewis_problems(),
    st.sampled_from([1, 1.5, 3, 4, 6, 12]),
    st.sampled_from(["permute", "mix", "scale"]),
    st.floats(0, 1),
)
@settings(max_examples=40, deadline=None)
def test_property_invariances(problem, p, kind, u):
    """Row permutations permute the weights; ``A G`` (``kappa(G) <= 10``) and ``c A`` (``c`` in
    ``[2**-40, 2**40]``) leave them unchanged: both results within the distance implied by
    their allowed residuals."""
    A, rank, rng = problem
    n, d = A.shape
    base = lewis_weights(A, p)
    allowed = check_fixed_point(base, A, p, rank, "float64")
    expected = f64(base.weights)
    if kind == "permute":
        order = rng.permutation(n)
        B, expected = A[order], expected[order]
    elif kind == "mix":
        G = (haar(d, d, rng) * np.logspace(0, -1, d)) @ haar(d, d, rng).T
        B = A @ G
    else:
        B = (2.0 ** (80 * u - 40) * (1 + u)) * A
    result = lewis_weights(B, p)
    allowed_b = check_fixed_point(result, B, p, rank, "float64")
    bound = distance_bound(p, allowed, rank) + distance_bound(p, allowed_b, rank)
    assert log_distance(result.weights, expected) <= bound


# -- backends --------------------------------------------------------------------------------------


def check_own_array(x, like, dtype, backend) -> None:
    assert type(x) is type(like), (type(x), type(like))
    assert x.dtype == backend.dtype(dtype)
    assert device(x) == device(like)


@pytest.mark.parametrize("p", [1, 3, 12])
def test_backends(backend, dtype, p):
    """Zero rows included (the scatter of the kept rows' weights): the backend's own arrays,
    the fixed point, and agreement with NumPy within both results' distance bounds."""
    A0, rank = heavy_tailed(60, 4, seed=9)
    A64 = with_zero_rows(A0, [0, 30]).astype(dtype)
    A = backend.asarray(A64, dtype=dtype)
    result = lewis_weights(A, p)
    check_own_array(result.weights, A, dtype, backend)
    host = LewisWeights(
        backend.to_numpy(result.weights), result.iterations, result.converged, result.residual
    )
    allowed = check_fixed_point(host, A64, p, rank, dtype)
    numpy_result = lewis_weights(A64, p)
    allowed_np = check_fixed_point(numpy_result, A64, p, rank, dtype)
    bound = distance_bound(p, allowed, rank) + distance_bound(p, allowed_np, rank)
    assert log_distance(host.weights, numpy_result.weights) <= bound


def test_backends_sketch(backend, dtype):
    A64, rank = gaussian(4000, 4, seed=2)
    A64 = A64.astype(dtype)
    A = backend.asarray(A64, dtype=dtype)
    result = lewis_weights(A, 1, method="sketch", tol=0.5, seed=1)
    check_own_array(result.weights, A, dtype, backend)
    assert result.converged is True
    expected = lewis_reference(A64, 1, rank)
    e = -math.log(0.5 * 0.5)  # tol = eps = 0.5 (see test_sketch_within_derived_factor)
    assert log_distance(backend.to_numpy(result.weights), expected) <= lewis_log_distance(1, e, 4)


# -- bad input -------------------------------------------------------------------------------------

A_GOOD = gaussian(30, 3, seed=0)[0]


@pytest.mark.parametrize(
    ("p", "error", "match"),
    [
        (0.5, ValueError, "p must be >= 1"),
        (0, ValueError, "p must be >= 1"),
        (-2, ValueError, "p must be >= 1"),
        (0.999999, ValueError, "p must be >= 1"),
        (math.inf, ValueError, "p = inf"),
        (-math.inf, ValueError, "p must be >= 1"),
        (math.nan, ValueError, "p must be >= 1"),
        (np.float64(math.nan), ValueError, "p must be >= 1"),
        (True, TypeError, "p must be a real number"),
        (False, TypeError, "p must be a real number"),
        (np.bool_(True), TypeError, "p must be a real number"),
        ("2", TypeError, "p must be a real number"),
        (None, TypeError, "p must be a real number"),
        (2 + 0j, TypeError, "p must be a real number"),
    ],
)
def test_bad_p(p, error, match):
    with pytest.raises(error, match=match):
        lewis_weights(A_GOOD, p)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "qr"}, ValueError, "method"),
        ({"method": None}, ValueError, "method"),
        ({"maxiter": 0}, ValueError, "maxiter"),
        ({"maxiter": -1}, ValueError, "maxiter"),
        ({"maxiter": 1.5}, TypeError, "maxiter"),
        ({"maxiter": True}, TypeError, "maxiter"),
        ({"tol": 0}, ValueError, "tol"),
        ({"tol": 1}, ValueError, "tol"),
        ({"tol": 2.0}, ValueError, "tol"),
        ({"tol": -1e-3}, ValueError, "tol"),
        ({"tol": 1e-15}, ValueError, "tol"),  # below 100 u
        ({"tol": math.nan}, ValueError, "tol"),
        ({"tol": math.inf}, ValueError, "tol"),
        ({"tol": True}, TypeError, "tol"),
        ({"tol": "1e-6"}, TypeError, "tol"),
        ({"method": "sketch", "eps": 0}, ValueError, "eps"),
        ({"method": "sketch", "eps": 1}, ValueError, "eps"),
        ({"method": "sketch", "eps": 1.5}, ValueError, "eps"),
        ({"method": "sketch", "eps": math.nan}, ValueError, "eps"),
        ({"method": "sketch", "eps": True}, TypeError, "eps"),
        ({"method": "sketch", "seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_options(kwargs, error, match):
    A = np.vstack([A_GOOD] * 100) if kwargs.get("method") == "sketch" else A_GOOD
    with pytest.raises(error, match=match):
        lewis_weights(A, 3, **kwargs)


def test_tol_limit_is_that_of_float64():
    """The iteration runs in float64 for every input dtype, so ``tol >= 100 u`` of float64
    (1.1e-14) whatever the dtype: float32 input reaches ``tol = 1e-6`` (below its own
    ``100 u = 6e-6``), and 1e-15 is refused for both."""
    A, _ = gaussian(40, 3, seed=1)
    A32 = A.astype(np.float32)
    result = lewis_weights(A32, 3, tol=1e-6)
    assert result.weights.dtype == np.float32
    assert result.converged
    assert result.residual <= 1e-6
    for matrix in (A, A32):
        with pytest.raises(ValueError, match="tol"):
            lewis_weights(matrix, 3, tol=1e-15)


def test_bad_eps_type_names_eps():
    with pytest.raises(TypeError, match="eps"):
        lewis_weights(np.vstack([A_GOOD] * 100), 3, method="sketch", eps="0.5")


@pytest.mark.parametrize("eps", [0, 1.5, -1])
def test_bad_eps_refused_for_exact_too(eps):
    with pytest.raises(ValueError, match="eps"):
        lewis_weights(A_GOOD, 3, eps=eps)


@pytest.mark.parametrize(
    ("A", "error", "match"),
    [
        (np.ones(3), ValueError, "A must be 2-D"),
        (np.ones((0, 3)), ValueError, "A must have at least one row"),
        (np.ones((3, 0)), ValueError, "A must have at least one row"),
        (np.ones((3, 2)) + 1j, TypeError, "A must be real"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "A must hold only finite"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), ValueError, "A must hold only finite"),
        (sp.csr_array(np.array([[1.0, np.nan], [0.0, 1.0]])), ValueError, "A must hold only"),
        (sp.csr_array(np.array([[-np.inf, 0.0], [0.0, 1.0]])), ValueError, "A must hold only"),
        (None, TypeError, "A must be an array"),
    ],
)
def test_bad_matrix(A, error, match):
    with pytest.raises(error, match=match):
        lewis_weights(A, 3)


# -- edge cases that fail --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_zero_matrix_has_zero_weights(kind):
    A = np.zeros((5, 3))
    result = lewis_weights(sp.csr_array(A) if kind == "sparse" else A, 1)
    assert np.array_equal(f64(result.weights), np.zeros(5))


@pytest.mark.parametrize(
    ("scale", "dtype"), [(1e-200, "float64"), (1e-160, "float64"), (1e-25, "float32")]
)
def test_tiny_scale_leaves_weights_unchanged(scale, dtype):
    A64, rank = gaussian(30, 3, seed=0)
    base = lewis_weights(A64.astype(dtype), 3)
    allowed = check_fixed_point(base, A64.astype(dtype), 3, rank, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = lewis_weights((scale * A64).astype(dtype), 3)
    # checked on the unscaled matrix: the weights are scale-free
    allowed_scaled = check_fixed_point(result, A64.astype(dtype), 3, rank, dtype)
    bound = distance_bound(3, allowed, rank) + distance_bound(3, allowed_scaled, rank)
    assert log_distance(result.weights, base.weights) <= bound
