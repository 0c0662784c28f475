"""CountSketch applied to a dense ``A``: ``S[:, start:start + k] @ A``.

Column ``j`` of ``S`` has one nonzero, in row ``h(j)`` = value ``j`` of the integers of
``rows_generator`` (uniform on ``[0, m)``), with sign value ``j`` of ``signs_generator``. The
portable version forms that structure and hands it to ``sparse_sketch_apply``; the NumPy version
draws ``h(j)`` and the sign from the counter-based stream inside its pass over ``A``, so no
structure array is ever allocated.
"""

from __future__ import annotations

from typing import Any

from .registry import kernel

__all__ = ["countsketch_apply"]


def countsketch_apply(
    A: Any, m: int, start: int, *, rows_generator, signs_generator, xp: Any
) -> Any:
    """Portable version."""
    k = A.shape[0]
    rows = rows_generator.integers(0, m, k, dtype=xp.int64, xp=xp, device=A.device, start=start)
    values = signs_generator.signs(k, dtype=A.dtype, xp=xp, device=A.device, start=start)
    indptr = xp.arange(k + 1, dtype=xp.int64, device=A.device)
    return kernel("sparse_sketch_apply", xp)(indptr, rows, values, A, m, xp=xp)
