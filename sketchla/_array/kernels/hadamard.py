"""Rows of the Walsh-Hadamard transform of a sign-flipped, zero-padded block: the core of SRHT.

``sampled_hadamard(A, signs, offset, size, rows)`` returns ``(H @ X)[rows]`` where ``X`` is the
``size``-row array holding ``signs[:, None] * A`` at rows ``offset : offset + k`` and zeros
elsewhere, and ``H[r, j] = (-1)**popcount(r & j)`` is the unnormalised Sylvester-ordered Hadamard
matrix. The portable version transforms all of ``X`` with the fast Walsh-Hadamard transform and
keeps the requested rows.
"""

from __future__ import annotations

from typing import Any

__all__ = ["fwht", "pad_rows", "sampled_hadamard"]


def fwht(x: Any, xp: Any) -> Any:
    """Unnormalised fast Walsh-Hadamard transform along axis 0 of ``x`` (``2**L`` rows):
    ``H @ x``, in ``L`` butterfly passes."""
    size, d = x.shape
    half = 1
    while half < size:
        blocks = xp.reshape(x, (size // (2 * half), 2, half, d))
        a, b = blocks[:, 0, ...], blocks[:, 1, ...]
        x = xp.reshape(xp.stack([a + b, a - b], axis=1), (size, d))
        half *= 2
    return x


def pad_rows(block: Any, offset: int, size: int, xp: Any) -> Any:
    """``block`` placed at rows ``offset:offset + k`` of a ``size``-row zero array."""
    k, d = block.shape
    parts = [block]
    if offset:
        parts.insert(0, xp.zeros((offset, d), dtype=block.dtype, device=block.device))
    if size - offset - k:
        parts.append(xp.zeros((size - offset - k, d), dtype=block.dtype, device=block.device))
    return xp.concat(parts, axis=0) if len(parts) > 1 else block


def sampled_hadamard(A: Any, signs: Any, offset: int, size: int, rows: Any, *, xp: Any) -> Any:
    """Portable version: pad, transform everything, keep ``rows``."""
    padded = pad_rows(A * xp.reshape(signs, (-1, 1)), offset, size, xp)
    return xp.take(fwht(padded, xp), rows, axis=0)
