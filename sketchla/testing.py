"""Assertions that compare arrays of any backend against a NumPy reference.

Tolerances are derived from the dtype of the array under test: ``rtol = ulps * eps(dtype)``, so a
float32 result is held to float32 precision and a float64 result to float64 precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._array import to_numpy

__all__ = ["assert_close", "assert_equal", "eps"]


def eps(dtype: Any) -> float:
    """Machine epsilon of any library's floating dtype (``torch.float32`` -> 1.19e-07).

    Examples
    --------
    >>> eps("float32") == float(np.finfo(np.float32).eps)
    True
    """
    name = (
        dtype
        if isinstance(dtype, str)
        else str(np.dtype(dtype).name if isinstance(dtype, (np.dtype, type)) else dtype).rsplit(
            ".", 1
        )[-1]
    )
    return float(np.finfo(np.dtype(name)).eps)


def _prepare(actual: Any, desired: Any, check_dtype: bool) -> tuple[np.ndarray, np.ndarray]:
    a = to_numpy(actual)
    d = np.asarray(to_numpy(desired))
    assert a.shape == d.shape, f"shape {a.shape} != expected shape {d.shape}"
    if check_dtype:
        assert a.dtype == d.dtype, f"dtype {a.dtype} != expected dtype {d.dtype}"
    return a, d


def assert_equal(actual: Any, desired: Any, *, check_dtype: bool = True) -> None:
    """Bit-for-bit equality of shape, dtype and values, across backends.

    Examples
    --------
    >>> assert_equal(np.arange(3), np.arange(3))
    """
    a, d = _prepare(actual, desired, check_dtype)
    np.testing.assert_array_equal(a, d, strict=True)


def assert_close(
    actual: Any,
    desired: Any,
    *,
    ulps: float = 4,
    rtol: float | None = None,
    atol: float = 0.0,
    check_dtype: bool = True,
) -> None:
    """``|actual - desired| <= atol + rtol * |desired|`` elementwise, with
    ``rtol = ulps * eps(actual.dtype)`` unless given.

    Examples
    --------
    >>> x = np.float32(1 / 3)
    >>> assert_close(np.array([x]), np.array([x * (1 + 1e-7)], dtype=np.float32))
    """
    a, d = _prepare(actual, desired, check_dtype)
    if rtol is None:
        rtol = ulps * eps(a.dtype)
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol)
