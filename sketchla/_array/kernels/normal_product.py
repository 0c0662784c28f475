"""``A^T (A X)`` for a CSR matrix ``A`` (``indptr``, ``indices``, ``data``; ``m x n``) and a dense
``n x b`` block ``X``: the product a Lanczos method on ``A^T A`` applies at every step.

The portable version forms ``A X`` and multiplies by ``A^T`` (two passes over ``A`` through
``scipy.sparse``); the numba version makes one pass (see ``_normal_product_numba``).
"""

from __future__ import annotations

from typing import Any

import scipy.sparse as sp

__all__ = ["normal_product"]


def normal_product(indptr: Any, indices: Any, data: Any, n: int, X: Any, *, xp: Any) -> Any:
    """Portable version."""
    A = sp.csr_array((data, indices, indptr), shape=(indptr.shape[0] - 1, n))
    return xp.asarray(A.T @ (A @ X))
