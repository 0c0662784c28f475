"""The matrix a low-rank routine sees: only products with ``A`` and ``A.T``.

:class:`Matrix` validates the public input once (a dense array of any backend, a ``scipy.sparse``
matrix, or a ``scipy.sparse.linalg.LinearOperator``) and offers ``A @ X``, ``A.T @ Y`` and the
sketch ``A @ S.T`` on dense blocks of the namespace the results live in (NumPy for sparse and
operator input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _validation as v
from .._array import array_namespace, device, namespace_for
from ..sketch.factory import DENSE_KINDS, sketch_operator

__all__ = ["Matrix", "check_rank"]


@dataclass(frozen=True)
class Matrix:
    """A validated matrix. ``kind`` is ``"dense"``, ``"sparse"`` or ``"operator"``; ``xp`` is the
    namespace of every block computed from it."""

    A: Any
    kind: str
    xp: Any

    @classmethod
    def from_input(cls, A: Any, name: str = "A") -> Matrix:
        if sp.issparse(A):
            if A.ndim != 2:
                raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
            if A.dtype.kind not in "fiub":
                raise TypeError(f"{name} must be real and numeric, got dtype {A.dtype}")
            A = A.tocsr() if A.dtype.kind == "f" else A.astype(np.float64).tocsr()
            if not np.all(np.isfinite(A.data)):
                raise ValueError(f"{name} must hold only finite values, got NaN or infinity")
            kind, xp = "sparse", namespace_for("numpy")
        elif isinstance(A, spla.LinearOperator):
            if np.dtype(A.dtype).kind == "c":
                raise TypeError(f"{name} must be real, got dtype {A.dtype}")
            kind, xp = "operator", namespace_for("numpy")
        else:
            A = v.check_matrix(A, name)
            kind, xp = "dense", array_namespace(A)
        if min(A.shape) == 0:
            raise ValueError(f"{name} must have at least one row and one column, got {A.shape}")
        return cls(A, kind, xp)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.A.shape)

    @property
    def dtype(self) -> Any:
        """The floating dtype of the results (of ``xp``)."""
        if self.kind == "dense":
            return self.A.dtype
        single = np.dtype(self.A.dtype) == np.float32
        return self.xp.float32 if single else self.xp.float64

    @property
    def device(self) -> Any:
        return device(self.A) if self.kind == "dense" else "cpu"

    def matmul(self, X: Any) -> Any:
        """``A @ X`` for a dense ``(n, k)`` block ``X``."""
        if self.kind == "operator":
            return self.xp.asarray(self.A.matmat(np.asarray(X)), dtype=self.dtype)
        if self.kind == "sparse":
            return self.xp.asarray(self.A @ X, dtype=self.dtype)
        return self.A @ X

    def rmatmul(self, Y: Any) -> Any:
        """``A.T @ Y`` for a dense ``(m, k)`` block ``Y``."""
        if self.kind == "operator":
            return self.xp.asarray(self.A.rmatmat(np.asarray(Y)), dtype=self.dtype)
        if self.kind == "sparse":
            return self.xp.asarray(self.A.T @ Y, dtype=self.dtype)
        return self.xp.matrix_transpose(self.A) @ Y

    def test_matrix(self, family: str, width: int, generator: Any) -> Any:
        """A ``width x n`` sketching operator ``S`` of ``family``: ``A @ S.T`` (see
        :meth:`times_sketch`) is the random sample of ``A``'s range."""
        return sketch_operator(family, width, self.shape[1], seed=generator)

    def test_block(self, S: Any) -> Any:
        """``S.T`` as a dense ``n x width`` array of ``xp``, ``A``'s device and the results'
        dtype."""
        return self.xp.matrix_transpose(
            S.to_dense(xp=self.xp, device=self.device, dtype=self.dtype)
        )

    def times_sketch(self, S: Any) -> Any:
        """``A @ S.T``. Dense families are formed (``width x n``, small) and multiplied in one
        product; the others are applied as operators."""
        if S.kind in DENSE_KINDS or self.kind == "operator":
            return self.matmul(self.test_block(S))
        return self.xp.asarray(S.apply(self.A, axis=1), dtype=self.dtype)


def check_rank(k: Any, shape: tuple[int, int], name: str = "k") -> int:
    """``k`` as an int in ``[1, min(shape)]``."""
    k = v.check_int(k, name, minimum=1)
    if k > min(shape):
        raise ValueError(f"{name} must be at most min(A.shape) = {min(shape)}, got {k}")
    return k
