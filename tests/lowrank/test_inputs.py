"""Inputs of the low-rank routines: every array backend (results of its own namespace, dtype
and device, equal to NumPy's up to rounding: the same seed draws the same sketch), sparse
matrices and LinearOperators (equal to dense), dtypes, bad input refused before any product
with ``A``, and the caller's arrays left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from _lowrank_problems import (
    align_columns,
    f64,
    projector_distance,
    recovery_tolerance,
    symmetric,
    with_spectrum,
)

from sketchla._array import device, to_numpy
from sketchla.lowrank import estimate_error, estimate_norm, nystrom, range_finder, reigh, rsvd

# -- one problem for every backend -------------------------------------------------------------
#
# Singular values 0.8**(i-1): the rank-4 result with l = 6 columns and no power iteration
# depends on the sketch (another seed moves U, s and the range by more than 100 times the
# float32 bounds below: test_another_seed_moves_the_result), so
# agreement with NumPy to rounding means the same sketch. Each backend computes the exact
# result for an input perturbed by its backward error delta = 16 eps (m + n) ||A|| (see
# _lowrank_problems); the range then moves by delta / sigma_l, the singular values by
# delta sigma_1 / sigma_l and the singular vectors by that over the gap sigma_4 - sigma_5
# (Wedin). Measured: at most 1e-3 of these bounds (Torch, JAX float32; JAX float64 and
# array-api-strict are bit-identical to NumPy).

SHAPE, K, P, Q = (60, 40), 4, 2, 0
DECAY = 0.8
SIGMA = DECAY ** np.arange(40)
A_DENSE = with_spectrum(*SHAPE, SIGMA, seed=1)[0]
EIGENVALUES = DECAY ** np.arange(50)
S_DENSE = symmetric(50, EIGENVALUES, seed=2)[0]  # PSD, the same decay
OPTIONS = {"oversampling": P, "power_iters": Q, "seed": 3}


def bounds(dtype, shape=SHAPE, sigma=SIGMA, k=K, width=K + P):
    """``(range, values, vectors)`` agreement bounds (see the comment above)."""
    delta = recovery_tolerance(shape, dtype) * sigma[0]
    range_bound = delta / sigma[width - 1]
    gap = float(np.min(-np.diff(sigma[: k + 1])))
    return range_bound, range_bound * sigma[0], range_bound * sigma[0] / gap


def check_own_arrays(arrays, like, dtype, backend):
    for x in arrays:
        assert type(x) is type(like), (type(x), type(like))
        assert x.dtype == backend.dtype(dtype)
        assert device(x) == device(like)


def test_another_seed_moves_the_result():
    """The problem above is sketch-dependent: a different seed moves the factors far beyond
    the float32 agreement bounds used below (so those bounds would catch another sketch)."""
    first = rsvd(A_DENSE, K, **OPTIONS)
    second = rsvd(A_DENSE, K, **{**OPTIONS, "seed": 4})
    range_bound, values, vectors = bounds("float32")
    assert np.max(np.abs(first.U - second.U)) > 100 * vectors
    assert np.max(np.abs(first.s - second.s)) > 100 * values
    Q1, Q2 = (range_finder(A_DENSE, K, **{**OPTIONS, "seed": s}) for s in (3, 4))
    assert projector_distance(Q1, Q2) > 100 * range_bound


def test_rsvd_on_every_backend(backend, dtype):
    A = backend.asarray(A_DENSE, dtype=dtype)
    result = rsvd(A, K, **OPTIONS)
    check_own_arrays(result, A, dtype, backend)
    reference = rsvd(A_DENSE.astype(dtype), K, **OPTIONS)
    _, values, vectors = bounds(dtype)
    assert np.max(np.abs(f64(result.s) - reference.s)) <= values
    assert np.max(np.abs(f64(result.U) - reference.U)) <= vectors  # the sign convention too
    assert np.max(np.abs(f64(result.Vh) - reference.Vh)) <= vectors


def test_rsvd_fixed_precision_on_every_backend(backend, dtype):
    """``tol = 0.1``: the same rank (the indicator is far from the threshold) and values."""
    A = backend.asarray(A_DENSE, dtype=dtype)
    result = rsvd(A, tol=0.1, seed=3)
    check_own_arrays(result, A, dtype, backend)
    reference = rsvd(A_DENSE.astype(dtype), tol=0.1, seed=3)
    assert tuple(result.s.shape) == reference.s.shape
    rank = reference.s.shape[0]
    _, values, _ = bounds(dtype, width=rank + 1, k=rank)
    assert np.max(np.abs(f64(result.s) - reference.s)) <= values


@pytest.mark.parametrize("normalizer", ["lu", "cholqr", "none"])
def test_normalisers_on_every_backend(backend, normalizer):
    """The LU normaliser is Torch's and SciPy's own pivoted LU (elsewhere a QR); every
    normaliser gives the NumPy range (same subspace in exact arithmetic)."""
    A = backend.asarray(A_DENSE)
    Q = range_finder(A, K, normalizer=normalizer, **OPTIONS)
    check_own_arrays([Q], A, "float64", backend)
    reference = range_finder(A_DENSE, K, normalizer=normalizer, **OPTIONS)
    assert projector_distance(Q, reference) <= bounds("float64")[0]


def test_range_finder_on_every_backend(backend, dtype):
    A = backend.asarray(A_DENSE, dtype=dtype)
    Q = range_finder(A, K, **OPTIONS)
    check_own_arrays([Q], A, dtype, backend)
    assert tuple(Q.shape) == (SHAPE[0], K + P)
    reference = range_finder(A_DENSE.astype(dtype), K, **OPTIONS)
    assert projector_distance(Q, reference) <= bounds(dtype)[0]


@pytest.mark.parametrize("routine", [reigh, nystrom])
def test_eigen_routines_on_every_backend(backend, dtype, routine):
    """Eigenvalues to ``delta sigma_1 / sigma_l``, eigenvectors (up to sign: neither routine
    fixes one) to that over the gap."""
    S = backend.asarray(S_DENSE, dtype=dtype)
    options = OPTIONS if routine is reigh else {"oversampling": P, "seed": 3}
    w, U = routine(S, K, **options)
    check_own_arrays([w, U], S, dtype, backend)
    w_ref, U_ref = routine(S_DENSE.astype(dtype), K, **options)
    _, values, vectors = bounds(dtype, shape=S_DENSE.shape, sigma=EIGENVALUES)
    assert np.max(np.abs(f64(w) - w_ref)) <= values
    assert np.max(np.abs(align_columns(U, U_ref) - U_ref)) <= vectors


def test_estimates_on_every_backend(backend, dtype):
    """Python floats, equal to NumPy's to the backward error; ``estimate_error`` takes the
    backend's factors."""
    A = backend.asarray(A_DENSE, dtype=dtype)
    result = estimate_norm(A, seed=3)
    reference = estimate_norm(A_DENSE.astype(dtype), seed=3)
    assert isinstance(result.estimate, float)
    assert isinstance(result.upper_bound, float)
    delta = recovery_tolerance(SHAPE, dtype)
    assert abs(result.estimate - reference.estimate) <= delta
    assert abs(result.upper_bound - reference.upper_bound) <= delta * reference.upper_bound
    U, s, Vh = np.linalg.svd(A_DENSE.astype(dtype), full_matrices=False)
    factors = [backend.asarray(x, dtype=dtype) for x in (U[:, :K], s[:K], Vh[:K])]
    error = estimate_error(A, *factors, seed=3)
    assert abs(error.estimate - SIGMA[K]) <= delta + 1e-4 * SIGMA[K]  # rtol = 1e-4


# -- sparse and operator input -----------------------------------------------------------------


def as_kind(dense, kind):
    if kind == "operator":
        return spla.aslinearoperator(dense)
    return sp.csr_matrix(dense).asformat(kind)


KINDS = ["csr", "csc", "coo", "operator"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sketch", ["gaussian", "srht", "countsketch"])
def test_sparse_and_operator_agree_with_dense(kind, sketch):
    """NumPy results, equal to the dense ones to the float64 bounds above (the products are
    computed differently, the sketch is the same), for dense and sparse sketch families."""
    A = as_kind(A_DENSE, kind)
    options = {**OPTIONS, "sketch": sketch}
    result, reference = rsvd(A, K, **options), rsvd(A_DENSE, K, **options)
    assert all(isinstance(x, np.ndarray) and x.dtype == np.float64 for x in result)
    range_bound, values, vectors = bounds("float64")
    assert np.max(np.abs(result.s - reference.s)) <= values
    assert np.max(np.abs(result.U - reference.U)) <= vectors
    assert np.max(np.abs(result.Vh - reference.Vh)) <= vectors
    Q = range_finder(A, K, **options)
    assert isinstance(Q, np.ndarray)
    assert projector_distance(Q, range_finder(A_DENSE, K, **options)) <= range_bound
    tol_result, tol_reference = rsvd(A, tol=0.1, seed=3), rsvd(A_DENSE, tol=0.1, seed=3)
    assert tol_result.s.shape == tol_reference.s.shape
    assert np.max(np.abs(tol_result.s - tol_reference.s)) <= values
    assert abs(estimate_norm(A, seed=1).estimate - estimate_norm(A_DENSE, seed=1).estimate) <= (
        recovery_tolerance(SHAPE, "float64")
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("routine", [reigh, nystrom])
def test_sparse_and_operator_eigen_agree_with_dense(kind, routine):
    S = as_kind(S_DENSE, kind)
    options = {"oversampling": P, "seed": 3}
    w, U = routine(S, K, **options)
    w_ref, U_ref = routine(S_DENSE, K, **options)
    assert isinstance(w, np.ndarray)
    assert isinstance(U, np.ndarray)
    _, values, vectors = bounds("float64", shape=S_DENSE.shape, sigma=EIGENVALUES)
    assert np.max(np.abs(w - w_ref)) <= values
    assert np.max(np.abs(align_columns(U, U_ref) - U_ref)) <= vectors


@pytest.mark.parametrize("kind", ["csr", "operator"])
def test_float32_sparse_and_operator_stay_float32(kind):
    A = as_kind(A_DENSE.astype(np.float32), kind)
    assert all(x.dtype == np.float32 for x in rsvd(A, K, seed=0))
    assert range_finder(A, K, seed=0).dtype == np.float32
    assert all(x.dtype == np.float32 for x in rsvd(A, tol=0.3, seed=0))
    S = as_kind(S_DENSE.astype(np.float32), kind)
    assert all(x.dtype == np.float32 for x in reigh(S, K, seed=0))
    assert all(x.dtype == np.float32 for x in nystrom(S, K, seed=0))


def test_integer_input_gives_float64():
    """Integers (dense or sparse) are promoted to float64, and the result is exact: an
    integer matrix of rank 2."""
    A = np.outer(np.arange(1, 31), np.ones(20, dtype=np.int64)) + np.outer(
        np.ones(30, dtype=np.int64), np.arange(20)
    )
    for operand in (A, sp.csr_matrix(A)):
        U, s, Vh = rsvd(operand, 3, seed=0)
        assert U.dtype == s.dtype == Vh.dtype == np.float64
        error = np.linalg.norm(A - (U * s) @ Vh, 2)
        assert error <= recovery_tolerance(A.shape, "float64") * np.linalg.norm(A, 2)


def test_numpy_integer_k_is_accepted():
    assert rsvd(A_DENSE, np.int64(3), seed=0).s.shape == (3,)


# -- bad input ---------------------------------------------------------------------------------

_A = np.random.default_rng(0).standard_normal((30, 20))
_S = _A.T @ _A
_NAN = _A.copy()
_NAN[3, 4] = np.nan
_INF = _A.copy()
_INF[0, 0] = -np.inf

BAD = [
    # rank
    (lambda: rsvd(_A, 0), ValueError, r"k must be an integer >= 1, got 0"),
    (lambda: rsvd(_A, -2), ValueError, r"k must be an integer >= 1"),
    (lambda: rsvd(_A, 21), ValueError, r"k must be at most min\(A.shape\) = 20, got 21"),
    (lambda: range_finder(_A, 21), ValueError, r"k must be at most min\(A.shape\) = 20"),
    (lambda: reigh(_S, 21), ValueError, r"k must be at most min\(A.shape\) = 20"),
    (lambda: nystrom(_S, 0), ValueError, r"k must be an integer >= 1"),
    (lambda: rsvd(_A, 2.0), TypeError, r"k must be an integer, got float 2.0"),
    (lambda: range_finder(_A, 2.5), TypeError, r"k must be an integer"),
    (lambda: reigh(_S, "3"), TypeError, r"k must be an integer"),
    (lambda: nystrom(_S, True), TypeError, r"k must be an integer, got bool"),
    # non-finite entries
    (lambda: rsvd(_NAN, 2), ValueError, r"A must hold only finite"),
    (lambda: range_finder(_INF, 2), ValueError, r"A must hold only finite"),
    (lambda: reigh(_NAN[:20], 2), ValueError, r"A must hold only finite"),
    (lambda: nystrom(_INF[:20], 2), ValueError, r"A must hold only finite"),
    (lambda: estimate_norm(_NAN), ValueError, r"A must hold only finite"),
    (lambda: rsvd(sp.csr_matrix(_NAN), 2), ValueError, r"A must hold only finite"),
    # tolerance
    (lambda: rsvd(_A, tol=0.0), ValueError, r"tol must be in \(0, 1\), got 0"),
    (lambda: rsvd(_A, tol=1.0), ValueError, r"tol must be in \(0, 1\), got 1"),
    (lambda: rsvd(_A, tol=-0.1), ValueError, r"tol must be in \(0, 1\)"),
    (lambda: rsvd(_A, tol=1.5), ValueError, r"tol must be in \(0, 1\)"),
    (lambda: rsvd(_A, tol=float("nan")), ValueError, r"tol must be in \(0, 1\)"),
    (lambda: rsvd(_A, 3, tol=float("inf")), ValueError, r"tol must be in \(0, 1\)"),
    (lambda: rsvd(_A, tol="0.1"), TypeError, r"tol must be a number"),
    (lambda: rsvd(_A), TypeError, r"rsvd needs the rank k, a tolerance tol, or both"),
    (lambda: rsvd(_A, tol=0.1, block_size=0), ValueError, r"block_size must be an integer >= 1"),
    # options
    (lambda: rsvd(_A, 2, normalizer="svd"), ValueError, r"normalizer must be one of"),
    (lambda: range_finder(_A, 2, normalizer="QR"), ValueError, r"normalizer must be one of"),
    (lambda: reigh(_S, 2, normalizer=None), ValueError, r"normalizer must be one of"),
    (lambda: rsvd(_A, 2, sketch="fourier"), ValueError, r"sketch must be one of"),
    (lambda: range_finder(_A, 2, sketch=""), ValueError, r"sketch must be one of"),
    (lambda: reigh(_S, 2, sketch="nope"), ValueError, r"sketch must be one of"),
    (lambda: nystrom(_S, 2, sketch="nope"), ValueError, r"sketch must be one of"),
    (lambda: rsvd(_A, 2, oversampling=-1), ValueError, r"oversampling must be an integer >= 0"),
    (lambda: rsvd(_A, 2, power_iters=-1), ValueError, r"power_iters must be an integer >= 0"),
    (lambda: nystrom(_S, 2, power_iters=1.0), TypeError, r"power_iters must be an integer"),
    (lambda: estimate_norm(_A, power_iters=0), ValueError, r"power_iters must be an integer >= 1"),
    (lambda: estimate_norm(_A, rtol=0.0), ValueError, r"rtol must be a finite number > 0"),
    (lambda: estimate_norm(_A, alpha=1.0), ValueError, r"alpha must be a finite number > 1"),
    (lambda: estimate_norm(_A, alpha="10"), TypeError, r"alpha must be a number"),
    # shapes
    (lambda: reigh(_A, 2), ValueError, r"A must be square, got shape \(30, 20\)"),
    (lambda: nystrom(_A, 2), ValueError, r"A must be square, got shape \(30, 20\)"),
    (lambda: rsvd(np.ones(5), 1), ValueError, r"A must be 2-D, got shape \(5,\)"),
    (lambda: range_finder(np.ones(5), 1), ValueError, r"A must be 2-D"),
    (lambda: reigh(np.ones(5), 1), ValueError, r"A must be 2-D"),
    (lambda: nystrom(np.ones(5), 1), ValueError, r"A must be 2-D"),
    (lambda: estimate_norm(np.ones(5)), ValueError, r"A must be 2-D"),
    (lambda: rsvd(np.ones((2, 3, 4)), 1), ValueError, r"A must be 2-D"),
    (lambda: rsvd(np.ones((0, 4)), 1), ValueError, r"at least one row and one column"),
    (lambda: rsvd(_A.astype(complex), 1), TypeError, r"real"),
    (
        lambda: estimate_error(_A, np.ones((30, 2)), np.ones(2), np.ones((2, 21))),
        ValueError,
        r"U, s, Vh must have shapes \(30, k\), \(k,\), \(k, 20\)",
    ),
    (
        lambda: estimate_error(_A, np.ones((29, 2)), np.ones(2), np.ones((2, 20))),
        ValueError,
        r"U, s, Vh must have shapes",
    ),
    (
        lambda: estimate_error(_A, np.ones((30, 2)), np.ones(3), np.ones((2, 20))),
        ValueError,
        r"s must have length 2",
    ),
    (
        lambda: estimate_error(np.ones(5), np.ones((5, 1)), np.ones(1), np.ones((1, 1))),
        ValueError,
        r"A must be 2-D",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), BAD)
def test_bad_input_is_refused_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


class Counting(spla.LinearOperator):
    """A LinearOperator that counts every product with ``A`` or ``A^T``."""

    def __init__(self, A):
        super().__init__(dtype=A.dtype, shape=A.shape)
        self.A, self.products = A, 0

    def _matmat(self, X):
        self.products += 1
        return self.A @ X

    def _rmatmat(self, Y):
        self.products += 1
        return self.A.T @ Y

    _matvec = _matmat
    _rmatvec = _rmatmat


BEFORE_WORK = [
    (lambda A, S: rsvd(A, 0), ValueError),
    (lambda A, S: rsvd(A, 21), ValueError),
    (lambda A, S: rsvd(A, 2.0), TypeError),
    (lambda A, S: rsvd(A), TypeError),
    (lambda A, S: rsvd(A, tol=1.0), ValueError),
    (lambda A, S: rsvd(A, 3, tol=0.0), ValueError),
    (lambda A, S: rsvd(A, tol=0.5, block_size=0), ValueError),
    (lambda A, S: rsvd(A, 2, normalizer="x"), ValueError),
    (lambda A, S: rsvd(A, 2, sketch="x"), ValueError),
    (lambda A, S: range_finder(A, 2, power_iters=-1), ValueError),
    (lambda A, S: range_finder(A, 2, sketch="x"), ValueError),
    (lambda A, S: reigh(A, 2), ValueError),
    (lambda A, S: reigh(S, 2, normalizer="x"), ValueError),
    (lambda A, S: nystrom(A, 2), ValueError),
    (lambda A, S: nystrom(S, 21), ValueError),
    (lambda A, S: estimate_norm(A, rtol=-1.0), ValueError),
    (lambda A, S: estimate_error(A, np.ones((30, 2)), np.ones(2), np.ones((2, 19))), ValueError),
    (
        lambda A, S: estimate_error(A, np.ones((30, 2)), np.ones(2), np.ones((2, 20)), alpha=0.5),
        ValueError,
    ),
]


@pytest.mark.parametrize(("call", "error"), BEFORE_WORK)
def test_bad_input_is_refused_before_any_product(call, error):
    """Through a counting LinearOperator: the refusal comes before the first product."""
    A, S = Counting(_A), Counting(_S)
    with pytest.raises(error):
        call(A, S)
    assert A.products == 0
    assert S.products == 0


# -- the caller's arrays -----------------------------------------------------------------------


def test_inputs_are_not_mutated(backend):
    """Every routine on every backend leaves ``A`` (and ``estimate_error``'s factors) exactly
    as it was (the ``numpy-readonly`` backend makes a write raise)."""
    A = backend.asarray(A_DENSE)
    S = backend.asarray(S_DENSE)
    before_A, before_S = np.array(to_numpy(A)), np.array(to_numpy(S))
    U, s, Vh = (backend.asarray(x) for x in np.linalg.svd(A_DENSE, full_matrices=False))
    U, s, Vh = U[:, :K], s[:K], Vh[:K, :]
    before_factors = [np.array(to_numpy(x)) for x in (U, s, Vh)]
    if backend.name != "array_api_strict":  # rsvd fails there: test_rsvd_on_every_backend
        rsvd(A, K, seed=0)
        rsvd(A, tol=0.2, seed=0)
    for normalizer in ("qr", "lu", "cholqr", "none"):
        range_finder(A, K, normalizer=normalizer, seed=0)
    reigh(S, K, seed=0)
    nystrom(S, K, power_iters=1, seed=0)
    estimate_norm(A, seed=0)
    estimate_error(A, U, s, Vh, seed=0)
    np.testing.assert_array_equal(to_numpy(A), before_A, strict=True)
    np.testing.assert_array_equal(to_numpy(S), before_S, strict=True)
    for x, before in zip((U, s, Vh), before_factors, strict=True):
        np.testing.assert_array_equal(to_numpy(x), before, strict=True)


@pytest.mark.parametrize("kind", ["csr", "coo"])
def test_sparse_inputs_are_not_mutated(kind):
    A = as_kind(A_DENSE, kind)
    before = A.copy()
    rsvd(A, K, seed=0)
    rsvd(A, tol=0.2, seed=0)
    range_finder(A, K, sketch="countsketch", seed=0)
    estimate_norm(A, seed=0)
    assert A.format == kind
    assert abs(A - before).max() == 0
