"""The least-squares problem as the solvers see it: ``min ||A x - b||^2 + damp^2 ||x||^2``.

:class:`Problem` validates the public inputs once (dense arrays of any backend, ``scipy.sparse``
matrices, ``scipy.sparse.linalg.LinearOperator``), folds row weights into ``A`` and ``b``, and
offers the few operations the methods need: products with ``A`` and ``A.T``, the fused
residual-and-gradient pass, and sketches of ``A`` from either side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _validation as v
from .._array import array_namespace, kernel, namespace_for, to_numpy
from .._array.namespace import backend_name, check_same_device, device, numpy_dtype
from ..sketch.operator import SketchOperator
from .preconditioner import factor_gram

__all__ = ["Problem"]

_OPERATOR_BLOCK = 64  # columns of A formed at a time when A is a LinearOperator


@dataclass
class Problem:
    """A validated problem. ``kind`` is ``"dense"``, ``"sparse"`` or ``"operator"``; ``xp`` is
    the namespace of ``b`` and of every result (NumPy for sparse and operator ``A``)."""

    A: Any
    b: Any
    damp: float
    kind: str
    xp: Any
    single_rhs: bool
    _float64: Any = field(default=None, repr=False)  # float64 copy of float32 A, made on demand

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def d(self) -> int:
        return self.A.shape[1]

    @property
    def dtype(self) -> Any:
        return self.b.dtype

    @property
    def device(self) -> Any:
        return device(self.b)

    @classmethod
    def from_inputs(cls, A: Any, b: Any, *, damp: Any, weights: Any) -> Problem:
        kind = _kind(A)
        if kind == "dense":
            A = v.check_matrix(A, "A", finite=False)  # finiteness: checked by the sketch of A
            xp = array_namespace(A)
            b = v.check_array(b, "b", xp=xp)
            check_same_device(A, b, names=("A", "b"))
        else:
            if kind == "sparse":
                A = _check_sparse_matrix(A)
            xp = namespace_for("numpy")
            b = v.check_array(b, "b", xp=xp)
        if b.ndim not in (1, 2):
            raise ValueError(f"b must be 1-D or 2-D, got shape {tuple(b.shape)}")
        if b.shape[0] != A.shape[0]:
            raise ValueError(
                f"b must have as many rows as A: A has shape {tuple(A.shape)}, "
                f"b has shape {tuple(b.shape)}"
            )
        if A.shape[0] == 0 or A.shape[1] == 0:
            raise ValueError(f"A must have at least one row and one column, got {tuple(A.shape)}")
        damp = _check_damp(damp)
        dtype = _common_float(A, b, xp)
        b = xp.astype(b, dtype) if b.dtype != dtype else b
        if kind == "dense" and A.dtype != dtype:
            A = xp.astype(A, dtype)
        elif kind == "sparse" and A.dtype != dtype:
            A = A.astype(dtype)
        if weights is not None:
            A, b = _apply_weights(A, b, weights, kind, xp)
        single = b.ndim == 1
        if single:
            b = xp.reshape(b, (-1, 1))
        return cls(A=A, b=b, damp=damp, kind=kind, xp=xp, single_rhs=single)

    # -- products -------------------------------------------------------------------------

    def matmul(self, X: Any) -> Any:
        """``A @ X`` for ``X`` of shape ``(d, k)``."""
        if self.kind == "operator":
            return self.xp.asarray(self.A.matmat(to_numpy(X)), dtype=self.dtype)
        return self.A @ X

    def rmatmul(self, R: Any) -> Any:
        """``A.T @ R`` for ``R`` of shape ``(n, k)``."""
        if self.kind == "operator":
            return self.xp.asarray(self.A.rmatmat(to_numpy(R)), dtype=self.dtype)
        if self.kind == "sparse":
            return self.A.T @ R
        return self.xp.matrix_transpose(self.A) @ R

    @property
    def exact_gradient_available(self) -> bool:
        """Whether ``residual_gradient(X, exact=True)`` computes in more precision than the data:
        float32 problems in float64 (every backend), float64 dense NumPy in double-double."""
        if self.kind == "operator":
            return False
        if numpy_dtype(self.dtype) == np.float32:
            return True
        return self.kind == "dense" and backend_name(self.xp) == "numpy"

    def residual_gradient(self, X: Any, *, exact: bool = False) -> tuple[Any, Any]:
        """``R = b - A X`` and ``G = A.T R - damp**2 X``: the gradient of half the objective,
        negated; one fused pass over ``A`` where a kernel exists. ``exact=True`` computes in
        higher precision (see :attr:`exact_gradient_available`) and rounds at the end."""
        if exact:
            R, G = self._residual_gradient_exact(X)
        elif self.kind == "dense" and X.shape[1] == 1:
            r, g = kernel("residual_gradient", self.xp)(self.A, X[:, 0], self.b[:, 0], xp=self.xp)
            R, G = self.xp.reshape(r, (-1, 1)), self.xp.reshape(g, (-1, 1))
        else:
            R = self.b - self.matmul(X)
            G = self.rmatmul(R)
        if self.damp:
            G = G - (self.damp**2) * X
        return R, G

    def _residual_gradient_exact(self, X: Any) -> tuple[Any, Any]:
        xp = self.xp
        if numpy_dtype(self.dtype) == np.float32:
            if self._float64 is None:
                self._float64 = (
                    self.A.astype(np.float64)
                    if self.kind == "sparse"
                    else xp.astype(self.A, xp.float64)
                )
            A64, b64 = self._float64, xp.astype(self.b, xp.float64)
            R = b64 - A64 @ xp.astype(X, xp.float64)
            G = A64.T @ R if self.kind == "sparse" else xp.matrix_transpose(A64) @ R
            return xp.astype(R, self.dtype), xp.astype(G, self.dtype)
        from .._array.kernels._residual_gradient_exact_numba import residual_gradient_exact

        pairs = [residual_gradient_exact(self.A, X[:, j], self.b[:, j]) for j in range(X.shape[1])]
        return np.stack([r for r, _ in pairs], axis=1), np.stack([g for _, g in pairs], axis=1)

    def objective_gradient(self, X: Any, *, exact: bool = False) -> tuple[Any, Any, Any]:
        """``(objective_norms, G, state)`` at ``X`` (see :meth:`residual_gradient`); ``state``
        (the residual) lets :meth:`objective_after_step` update the norms without a pass."""
        R, G = self.residual_gradient(X, exact=exact)
        return self.objective_norms(X, R), G, R

    def objective_after_step(self, state: Any, X_before: Any, X: Any) -> Any:
        """The objective norms at ``X`` from the ``state`` of :meth:`objective_gradient` at
        ``X_before``: ``b - A X = R - A (X - X_before)``, half a pass."""
        return self.objective_norms(X, state - self.matmul(X - X_before))

    def factor_gram(self, u: float) -> Any:
        """The Gram preconditioner (see :func:`~sketchla.lstsq.preconditioner.factor_gram`)."""
        return factor_gram(self.A, self.b, self.damp, u)

    def b_norms(self) -> Any:
        """``||b_j||`` per right-hand side."""
        return self.xp.linalg.vector_norm(self.b, axis=0)

    def objective_norms(self, X: Any, R: Any) -> Any:
        """``sqrt(||r_j||^2 + damp^2 ||x_j||^2)`` per right-hand side ``j``."""
        xp = self.xp
        total = xp.sum(R * R, axis=0)
        if self.damp:
            total = total + self.damp**2 * xp.sum(X * X, axis=0)
        return xp.sqrt(total)

    # -- sketches -------------------------------------------------------------------------

    def sketch_left(self, S: SketchOperator) -> tuple[Any, Any]:
        """``(S A, S b)``, dense arrays of ``xp``."""
        xp = self.xp
        if self.kind == "operator":
            blocks = []
            for lo in range(0, self.d, _OPERATOR_BLOCK):
                hi = min(self.d, lo + _OPERATOR_BLOCK)
                E = np.zeros((self.d, hi - lo), dtype=self.dtype)
                E[np.arange(lo, hi), np.arange(hi - lo)] = 1.0
                blocks.append(S @ np.asarray(self.A.matmat(E), dtype=self.dtype))
            SA = np.concatenate(blocks, axis=1)
            v.check_finite(SA, "A")
        elif self.kind == "sparse":  # one sketch of [A, b]: the structure of S is drawn once
            both = S @ sp.hstack([self.A, sp.csr_array(np.asarray(self.b))], format="csr")
            return both[:, : self.d], both[:, self.d :]
        else:
            SA = S @ self.A
        return xp.asarray(SA, dtype=self.dtype), S @ self.b

    def sketch_right(self, S: SketchOperator) -> Any:
        """``S A.T`` of shape ``(m, n)``, for the underdetermined route."""
        if self.kind == "operator":
            St = to_numpy(S.T.to_dense(dtype=self.dtype))
            return self.xp.asarray(np.asarray(self.A.matmat(St), dtype=self.dtype).T)
        AS = self.xp.asarray(S.apply(self.A, axis=1))  # A @ S.T, shape (n, m)
        return self.xp.matrix_transpose(AS)


def _kind(A: Any) -> str:
    if sp.issparse(A):
        return "sparse"
    if isinstance(A, spla.LinearOperator):
        return "operator"
    return "dense"


def _check_sparse_matrix(A: Any) -> Any:
    if A.ndim != 2:
        raise ValueError(f"A must be 2-D, got shape {A.shape}")
    if A.dtype.kind == "c":
        raise TypeError(f"A must be real, got dtype {A.dtype}")
    if A.dtype.kind not in "fiub":
        raise TypeError(f"A must have a numeric dtype, got {A.dtype}")
    return A.tocsr() if A.format not in ("csr", "csc") else A


def _check_damp(damp: Any) -> float:
    if isinstance(damp, bool) or not isinstance(damp, (int, float, np.floating, np.integer)):
        raise TypeError(f"damp must be a non-negative real number, got {damp!r}")
    damp = float(damp)
    if not math.isfinite(damp) or damp < 0:
        raise ValueError(f"damp must be a non-negative finite number, got {damp!r}")
    return damp


def _common_float(A: Any, b: Any, xp: Any) -> Any:
    """float32 when both ``A`` and ``b`` are float32, otherwise float64."""
    single = numpy_dtype(A.dtype) == np.float32 and numpy_dtype(b.dtype) == np.float32
    return xp.float32 if single else xp.float64


def _apply_weights(A: Any, b: Any, weights: Any, kind: str, xp: Any) -> tuple[Any, Any]:
    """Rows scaled by ``sqrt(w)``: ``sum_i w_i (a_i x - b_i)^2`` becomes a plain problem."""
    w = v.check_vector(weights, "weights", length=A.shape[0], xp=xp)
    if bool(xp.any(w < 0)):
        raise ValueError("weights must be non-negative")
    root = xp.sqrt(xp.astype(w, b.dtype))
    b = b * (root if b.ndim == 1 else xp.reshape(root, (-1, 1)))
    if kind == "dense":
        return A * xp.reshape(root, (-1, 1)), b
    if kind == "sparse":
        return sp.diags_array(to_numpy(root)) @ A, b
    scale = to_numpy(root)
    return spla.LinearOperator(
        A.shape,
        matvec=lambda x: scale * A.matvec(x),
        rmatvec=lambda y: A.rmatvec(scale * y),
        matmat=lambda X: scale[:, None] * A.matmat(X),
        rmatmat=lambda Y: A.rmatmat(scale[:, None] * Y),
        dtype=A.dtype,
    ), b
