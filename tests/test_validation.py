"""Boundary checks: every message names the argument, what was expected and what arrived."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sketchla import _validation as v
from sketchla.random import Generator


@given(st.integers(-10, 10))
def test_check_int_accepts_integers_in_range(k):
    if k >= 1:
        assert v.check_positive_int(k, "k") == k
        assert v.check_positive_int(np.int32(k), "k") == k
    else:
        with pytest.raises(ValueError, match=f"k must be an integer >= 1, got {k}"):
            v.check_positive_int(k, "k")


@pytest.mark.parametrize("bad", [2.0, "3", True, None, np.float64(2)])
def test_check_int_refuses_non_integers(bad):
    with pytest.raises(TypeError, match="k must be an integer, got"):
        v.check_int(bad, "k")


def test_check_int_with_both_bounds():
    with pytest.raises(ValueError, match=r"m must be an integer in \[1, 5\], got 6"):
        v.check_int(6, "m", minimum=1, maximum=5)


@pytest.mark.parametrize(
    "good", [0.25, 3, -2, Fraction(1, 4), np.float32(0.25), np.float64(-2.0), np.int64(3)]
)
def test_check_real_accepts_real_numbers_and_numpy_scalars(good):
    out = v.check_real(good, "x")
    assert type(out) is float
    assert out == float(good)


@pytest.mark.parametrize(
    "bad",
    [True, False, np.bool_(True), 1j, np.complex128(1), "0.5", None, [0.5], np.array(0.5)],
)
def test_check_real_refuses_bools_complex_and_non_numbers(bad):
    with pytest.raises(TypeError, match=r"^lr must be a real number, got "):
        v.check_real(bad, "lr", minimum=0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32(np.nan), 10**400])
def test_check_real_refuses_nan_and_infinity_even_without_bounds(bad):
    with pytest.raises(ValueError, match=r"^beta must be a finite number, got "):
        v.check_real(bad, "beta")
    with pytest.raises(ValueError, match=r"^beta must be a finite number in \(-inf, inf\), got"):
        v.check_real(bad, "beta", above=-math.inf, below=math.inf)


@pytest.mark.parametrize(
    ("bounds", "inside", "outside", "message"),
    [
        (
            {"minimum": 0},
            [0, 0.0, 5.0],
            [-1e-300, -1.0],
            r"x must be a finite number in \[0, inf\)",
        ),
        ({"above": 0}, [1e-300, 5.0], [0, 0.0, -1.0], r"x must be a finite number in \(0, inf\)"),
        ({"maximum": 1}, [1, -5.0], [1.5], r"x must be a finite number in \(-inf, 1\]"),
        ({"below": 1}, [0.999, -5.0], [1, 1.0], r"x must be a finite number in \(-inf, 1\)"),
        (
            {"minimum": 0, "maximum": 1},
            [0, 0.5, 1],
            [-0.1, 1.1],
            r"x must be a finite number in \[0, 1\]",
        ),
        ({"minimum": 0, "below": 1}, [0, 0.5], [1, -0.1], r"x must be a finite number in \[0, 1\)"),
        (
            {"above": 0.5, "maximum": 2.5},
            [2.5, 1],
            [0.5, 3],
            r"x must be a finite number in \(0\.5, 2\.5\]",
        ),
        ({"minimum": 1e-8}, [1e-8], [0.0], r"x must be a finite number in \[1e-08, inf\)"),
    ],
)
def test_check_real_open_and_closed_bounds(bounds, inside, outside, message):
    for value in inside:
        assert v.check_real(value, "x", **bounds) == value
    for value in outside:
        got = repr(float(value))
        with pytest.raises(ValueError, match=f"^{message}, got {re.escape(got)}$"):
            v.check_real(value, "x", **bounds)


def test_check_real_message_names_the_argument_the_interval_and_the_value():
    expected = [
        (
            ValueError,
            (-1, "step"),
            {"above": 0},
            "step must be a finite number in (0, inf), got -1.0",
        ),
        (
            ValueError,
            (np.float64(1.0), "momentum"),
            {"minimum": 0, "below": 1},
            "momentum must be a finite number in [0, 1), got 1.0",
        ),
        (TypeError, ("fast", "lr"), {"minimum": 0}, "lr must be a real number, got str 'fast'"),
    ]
    for error, args, bounds, message in expected:
        with pytest.raises(error, match=f"^{re.escape(message)}$"):
            v.check_real(*args, **bounds)


def test_check_real_takes_one_bound_a_side():
    with pytest.raises(TypeError, match="minimum or above"):
        v.check_real(1.0, "x", minimum=0, above=0)
    with pytest.raises(TypeError, match="maximum or below"):
        v.check_real(1.0, "x", maximum=2, below=2)


@st.composite
def _interval_and_value(draw):
    """Bounds (each side absent, open or closed) and a finite float inside them."""
    finite = st.floats(allow_nan=False, allow_infinity=False)
    low, high = draw(st.none() | finite), draw(st.none() | finite)
    if low is not None and high is not None and low > high:
        low, high = high, low
    point = low is not None and low == high  # only the closed interval [a, a] is non-empty
    open_low = draw(st.booleans()) and low is not None and not point
    open_high = draw(st.booleans()) and high is not None and not point
    value = draw(
        st.floats(
            min_value=low,
            max_value=high,
            exclude_min=open_low,
            exclude_max=open_high,
            allow_nan=False,
            allow_infinity=False,
        )
    )
    bounds = {}
    if low is not None:
        bounds["above" if open_low else "minimum"] = low
    if high is not None:
        bounds["below" if open_high else "maximum"] = high
    return bounds, value


@given(_interval_and_value())
def test_check_real_passes_any_finite_float_inside_the_bounds_unchanged(case):
    bounds, value = case
    out = v.check_real(value, "x", **bounds)
    assert type(out) is float
    assert out == value
    assert math.copysign(1.0, out) == math.copysign(1.0, value)  # -0.0 stays -0.0


def test_check_number_above_keeps_its_messages():
    assert v.check_number_above(np.float32(0.5), "rtol") == 0.5
    with pytest.raises(ValueError, match=r"^alpha must be a finite number > 1\.0, got 1\.0$"):
        v.check_number_above(1.0, "alpha", above=1.0)
    with pytest.raises(TypeError, match=r"^alpha must be a number, got '10'$"):
        v.check_number_above("10", "alpha")


def test_check_seed_passes_generators_through():
    g = Generator(0)
    assert v.check_seed(g) is g
    assert isinstance(v.check_seed(3), Generator)
    with pytest.raises(TypeError, match="random_state must be None"):
        v.check_seed(1.0, "random_state")


def test_check_matrix_promotes_and_checks(backend):
    A = backend.asarray(np.arange(6).reshape(2, 3))
    out = v.check_matrix(A, "A")
    assert out.dtype == backend.xp.__array_namespace_info__().default_dtypes()["real floating"]
    with pytest.raises(ValueError, match=r"A must be 2-D, got shape \(3,\)"):
        v.check_matrix(backend.asarray(np.ones(3)), "A")
    with pytest.raises(ValueError, match="A must hold only finite values"):
        v.check_matrix(backend.asarray(np.array([[1.0, np.inf]])), "A")
    F = backend.asarray(np.ones((2, 2), dtype=np.float32))
    assert v.check_matrix(F, "A") is F  # floating input passes through, never copied


def test_check_vector_length_and_lists():
    assert v.check_vector([1, 2, 3], "b", length=3).dtype == np.float64
    with pytest.raises(ValueError, match="b must have length 4, got length 3"):
        v.check_vector([1.0, 2.0, 3.0], "b", length=4)
    with pytest.raises(TypeError, match="b must be real, got dtype complex128"):
        v.check_vector(np.ones(2, dtype=complex), "b")
    with pytest.raises(TypeError, match="b must be an array, got None"):
        v.check_vector(None, "b")


def test_check_dtype_resolves_names_and_foreign_dtypes():
    torch = pytest.importorskip("torch")
    from sketchla._array import namespace_for

    txp = namespace_for("torch")
    assert v.check_dtype(np.float32, txp) is torch.float32
    assert v.check_dtype("float64", txp) is torch.float64
    assert v.check_dtype(None, txp) is torch.get_default_dtype()
    with pytest.raises(TypeError, match="dtype must be a real floating dtype of torch"):
        v.check_dtype("int32", txp)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("where", [0, 7, -1])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_finds_one_bad_entry_anywhere(backend, dtype, where, bad):
    """``check_finite`` first tries the sum (a finite sum proves every entry finite): one NaN or
    infinity anywhere, of either sign, must still be found, on every backend."""
    x = np.ones((4, 5), dtype=dtype)
    x.flat[where] = bad
    with pytest.raises(ValueError, match="x must hold only finite values"):
        v.check_finite(backend.asarray(x), "x")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_check_finite_accepts_finite_entries_whose_sum_overflows(backend, dtype):
    """Finite entries near the largest float overflow the sum to infinity, and opposite
    infinities would make it NaN: the entries are then inspected, and accepted."""
    big = np.finfo(dtype).max / 2
    x = np.array([[big, big, big], [-big, -big, -big]], dtype=dtype)
    v.check_finite(backend.asarray(x), "x")
    v.check_finite(backend.asarray(x[:1]), "x")
