"""Input checking of :func:`sketchla.completion.complete` and
:func:`~sketchla.completion.observations.observations`: every bad argument is refused with an
error that names it, before any work (no initial SVD) is done; ``check_finite=False`` lets
non-finite values through validation; ``CompletionResult.predict`` checks its indices."""

from __future__ import annotations

import numpy as np
import numpy.ma as ma
import pytest
import scipy.sparse as sp
from _completion_problems import completion_problem, relative_error

import sketchla.completion.altmin as altmin_module
from sketchla.completion import complete
from sketchla.completion.observations import observations
from sketchla.errors import BackendError

M_, N_ = 30, 20
RNG = np.random.default_rng(0)
DENSE = RNG.standard_normal((M_, 2)) @ RNG.standard_normal((2, N_))
MASK = RNG.random((M_, N_)) < 0.6
ROWS, COLS = (x.astype(np.int64) for x in np.nonzero(MASK))
VALUES = DENSE[ROWS, COLS]
SHAPE = (M_, N_)


def _tuple(rows=ROWS, cols=COLS, values=VALUES):
    return (rows, cols, values)


# (observed, shape, keyword arguments, exception, match): each names the bad argument
BAD_OBSERVATIONS = {
    "negative row": (_tuple(rows=np.append(ROWS[:-1], -1)), SHAPE, {}, ValueError, "rows"),
    "row >= m": (_tuple(rows=np.append(ROWS[:-1], M_)), SHAPE, {}, ValueError, r"rows.*\[0, 30\)"),
    "col >= n": (_tuple(cols=np.append(COLS[:-1], N_)), SHAPE, {}, ValueError, r"cols.*\[0, 20\)"),
    "float rows": (_tuple(rows=ROWS.astype(float)), SHAPE, {}, TypeError, "rows must hold int"),
    "float cols": (_tuple(cols=COLS.astype(float)), SHAPE, {}, TypeError, "cols must hold int"),
    "2-D rows": (_tuple(rows=ROWS[:, None]), SHAPE, {}, ValueError, "rows must be 1-D"),
    "lengths": (_tuple(values=VALUES[:-1]), SHAPE, {}, ValueError, "one length"),
    "duplicate entry": (
        _tuple(np.append(ROWS, ROWS[3]), np.append(COLS, COLS[3]), np.append(VALUES, 1.0)),
        SHAPE, {}, ValueError, r"more than once.*duplicates='mean'",
    ),
    "nan value": (_tuple(values=np.where(np.arange(VALUES.size) == 2, np.nan, VALUES)),
                  SHAPE, {}, ValueError, r"values must be finite, got 1 non-finite"),
    "inf value": (_tuple(values=np.where(np.arange(VALUES.size) < 2, np.inf, VALUES)),
                  SHAPE, {}, ValueError, r"values must be finite, got 2 non-finite"),
    "complex values": (_tuple(values=VALUES + 1j), SHAPE, {}, TypeError, "values must be real"),
    "string values": (_tuple(values=VALUES.astype(str)), SHAPE, {}, TypeError,
                      "values must be numbers"),
    "no entries": (_tuple(ROWS[:0], COLS[:0], VALUES[:0]), SHAPE, {}, ValueError, "no entries"),
    "shape missing": (_tuple(), None, {}, TypeError, "shape is required"),
    "shape not two ints": (_tuple(), (30.0, 20), {}, TypeError, "shape must be two integers"),
    "shape not positive": (_tuple(), (0, 20), {}, ValueError, "shape must be positive"),
    "two arrays": ((ROWS, COLS), SHAPE, {}, ValueError, r"\(rows, cols, values\)"),
    "mask with tuple": (_tuple(), SHAPE, {"mask": MASK}, TypeError, "mask"),
    "sparse shape mismatch": (sp.csr_matrix(DENSE), (N_, M_), {}, ValueError, "does not match"),
    "mask with sparse": (sp.csr_matrix(DENSE), None, {"mask": MASK}, TypeError, "mask"),
    "dense without mask": (DENSE, None, {}, TypeError, "mask"),
    "mask wrong shape": (DENSE, None, {"mask": MASK.T}, ValueError, "mask must be a boolean"),
    "mask wrong dtype": (DENSE, None, {"mask": MASK.astype(np.int8)}, ValueError,
                         "mask must be a boolean"),
    "dense shape mismatch": (DENSE, (M_, N_ + 1), {"mask": MASK}, ValueError, "does not match"),
    "3-D dense": (DENSE[None], None, {"mask": MASK[None]}, ValueError, "2-D"),
    "masked array and mask": (ma.MaskedArray(DENSE, mask=~MASK), None, {"mask": MASK}, TypeError,
                              "mask is given twice"),
    "duplicates policy": (_tuple(), SHAPE, {"duplicates": "sum"}, ValueError, "duplicates"),
}  # fmt: skip

# keyword arguments of complete (on good observations): exception, match
BAD_OPTIONS = {
    "rank missing": ({"rank": None}, TypeError, "rank is required"),
    "rank 0": ({"rank": 0}, ValueError, "rank"),
    "rank > min(m, n)": ({"rank": N_ + 1}, ValueError, r"rank must be an integer in \[1, 20\]"),
    "rank float": ({"rank": 2.0}, TypeError, "rank"),
    "rank bool": ({"rank": True}, TypeError, "rank"),
    "unknown rank string": ({"rank": "full"}, ValueError, "rank"),
    "unknown method": ({"method": "als"}, ValueError, "method must be one of"),
    "unknown preconditioner": ({"preconditioner": "qr"}, ValueError, "preconditioner"),
    "maxiter 0": ({"maxiter": 0}, ValueError, "maxiter"),
    "inner_maxiter 0": ({"inner_maxiter": 0}, ValueError, "inner_maxiter"),
    "negative tol": ({"tol": -1e-3}, ValueError, "tol must be >= 0"),
    "nan tol": ({"tol": float("nan")}, ValueError, "tol must be finite"),
    "bool tol": ({"tol": True}, TypeError, "tol must be a real number"),
    "string tol": ({"tol": "1e-3"}, TypeError, "tol must be a real number"),
    "negative ridge": ({"ridge": -0.1}, ValueError, "ridge must be >= 0"),
    "infinite ridge": ({"ridge": float("inf")}, ValueError, "ridge must be finite"),
    "inner_tol 1": ({"inner_tol": 1.0}, ValueError, "inner_tol must be below 1"),
    "inner_tol 2": ({"inner_tol": 2.0}, ValueError, "inner_tol must be below 1"),
    "negative inner_tol": ({"inner_tol": -0.1}, ValueError, "inner_tol must be >= 0"),
    "sketch_factor < 1": ({"sketch_factor": 0.5}, ValueError, "sketch_factor must be at least 1"),
    "sketch_factor 0": ({"sketch_factor": 0}, ValueError, "sketch_factor must be > 0"),
    "incoherence 0": ({"incoherence": 0.0}, ValueError, "incoherence must be > 0"),
}


@pytest.fixture
def no_work(monkeypatch):
    """Make the first piece of work (the initial SVD) fail the test if it is reached."""

    def refuse(*args, **kwargs):
        raise AssertionError("complete started working on an input it should have refused")

    monkeypatch.setattr(altmin_module, "_initial_factors", refuse)


@pytest.mark.parametrize("case", list(BAD_OBSERVATIONS))
def test_bad_observations_are_refused_before_any_work(case, no_work):
    observed, shape, options, error, match = BAD_OBSERVATIONS[case]
    with pytest.raises(error, match=match):
        complete(observed, shape, rank=2, **options)


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_options_are_refused_before_any_work(case, no_work):
    options, error, match = BAD_OPTIONS[case]
    options = {"rank": 2, **options}
    with pytest.raises(error, match=match):
        complete(_tuple(), SHAPE, **options)


def test_the_no_work_guard_does_trip_on_good_input(no_work):
    with pytest.raises(AssertionError, match="started working"):
        complete(_tuple(), SHAPE, rank=2)


def test_arrays_from_two_libraries_are_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(BackendError, match="different libraries"):
        complete((torch.asarray(ROWS), COLS, VALUES), SHAPE, rank=2)


def test_check_finite_false_lets_non_finite_values_through_validation():
    values = VALUES.copy()
    values[[0, 5]] = [np.nan, np.inf]
    obs, _, _ = observations(_tuple(values=values), SHAPE, check_finite=False)
    assert obs.size == VALUES.size
    assert np.isnan(obs.values).sum() == 1
    assert np.isinf(obs.values).sum() == 1
    with pytest.raises(ValueError, match="finite"):
        observations(_tuple(values=values), SHAPE)


def test_observations_are_sorted_by_row_then_column_and_indexed_both_ways():
    perm = np.random.default_rng(1).permutation(ROWS.size)
    obs, _xp, _where = observations(_tuple(ROWS[perm], COLS[perm], VALUES[perm]), SHAPE)
    order = np.lexsort((COLS, ROWS))
    np.testing.assert_array_equal(obs.rows, ROWS[order])
    np.testing.assert_array_equal(obs.cols, COLS[order])
    np.testing.assert_array_equal(obs.values, VALUES[order])
    assert obs.shape == SHAPE
    assert obs.dtype == np.float64
    for index, targets, others in (
        (obs.by_row, obs.rows, obs.cols),
        (obs.by_col, obs.cols, obs.rows),
    ):
        np.testing.assert_array_equal(
            index.counts, np.bincount(targets, minlength=index.counts.size)
        )
        for t in range(index.counts.size):
            lo, hi = index.ptr[t], index.ptr[t + 1]
            np.testing.assert_array_equal(
                np.sort(index.positions[lo:hi]), np.sort(others[targets == t])
            )
            np.testing.assert_array_equal(index.values[lo:hi], obs.values[index.order[lo:hi]])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_and_boolean_values_are_completed_in_float64(dtype):
    m, n, k = 40, 30, 1
    rng = np.random.default_rng(2)
    M = np.outer(rng.integers(1, 4, m), rng.integers(1, 3, n)) % 2 if dtype == np.bool_ else (
        np.outer(rng.integers(1, 4, m), rng.integers(1, 3, n))
    )  # fmt: skip
    rows, cols = (x.astype(np.int64) for x in np.nonzero(rng.random((m, n)) < 0.7))
    result = complete((rows, cols, M[rows, cols].astype(dtype)), (m, n), rank=k, seed=0)
    assert result.U.dtype == np.float64
    assert relative_error(result.to_dense(), M) <= 1e-6  # exactly rank 1: recovered


@pytest.mark.parametrize("index_dtype", [np.int32, np.uint16, np.int64])
def test_any_integer_index_dtype_is_accepted(index_dtype):
    M, rows, cols = completion_problem(60, 40, 2, 2.0, seed=3)
    reference = complete((rows, cols, M[rows, cols]), (60, 40), rank=2, seed=0)
    result = complete(
        (rows.astype(index_dtype), cols.astype(index_dtype), M[rows, cols]), (60, 40), rank=2,
        seed=0,
    )  # fmt: skip
    np.testing.assert_array_equal(result.U, reference.U)


# -- predict ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    M, rows, cols = completion_problem(60, 40, 2, 2.0, seed=4)
    return complete((rows, cols, M[rows, cols]), (60, 40), rank=2, seed=0)


@pytest.mark.parametrize(
    ("rows", "cols", "error", "match"),
    [
        ([0, 60], [0, 1], IndexError, "rows"),
        ([0, -61], [0, 1], IndexError, "rows"),
        ([0, 1], [40, 1], IndexError, "cols"),
        ([0.0, 1.0], [0, 1], TypeError, "rows must hold integers"),
        ([0, 1], [0.5, 1], TypeError, "cols must hold integers"),
        ([0, 1, 2], [0, 1], ValueError, "one shape"),
    ],
)
def test_predict_refuses_bad_indices(fitted, rows, cols, error, match):
    with pytest.raises(error, match=match):
        fitted.predict(rows, cols)


def test_predict_wraps_negative_indices_and_keeps_the_shape(fitted):
    dense = fitted.to_dense()
    rows = np.array([[0, -1], [-60, 5]])
    cols = np.array([[-1, 0], [3, -40]])
    out = fitted.predict(rows, cols)
    assert out.shape == (2, 2)
    k = fitted.rank
    bound = 4 * k * np.finfo(np.float64).eps * np.abs(dense).max()
    np.testing.assert_allclose(out, dense[rows, cols], rtol=0, atol=bound)
    assert fitted.predict([], []).shape == (0,)
