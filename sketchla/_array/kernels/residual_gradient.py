"""``residual_gradient``: ``r = b - A @ x`` and ``g = A.T @ r`` for a dense ``A``.

The two products of every least-squares iteration. The portable version computes them one after
the other (two reads of ``A``); the NumPy version fuses them row by row, so that each row of ``A``
is read from memory once and reused from L1 cache.
"""

from __future__ import annotations

from typing import Any

__all__ = ["residual_gradient"]


def residual_gradient(A: Any, x: Any, b: Any, *, xp: Any) -> tuple[Any, Any]:
    """Portable version: ``x`` and ``b`` 1-D, or 2-D with one column per right-hand side."""
    r = b - A @ x
    return r, xp.matrix_transpose(A) @ r
