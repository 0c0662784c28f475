"""Boundary checks: every message names the argument, what was expected and what arrived."""

from __future__ import annotations

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
