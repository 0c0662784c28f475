"""Preconditioners from a sketch: QR of ``S A`` (Blendenpik) or, when ``S A`` is numerically
rank-deficient, its SVD (LSRN).

Both give a ``d x r`` matrix ``P`` with ``(A P)^T (A P) ~ I`` (``A P`` has singular values in
``[1/(1 + eps), 1/(1 - eps)]`` for a subspace embedding of distortion ``eps``) and the
sketch-and-solve solution ``x0 = argmin ||S A x - S b||``. With ridge ``damp``, the sketched
matrix is augmented by ``damp * I``: the exact
rows of the regulariser need no sketch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._array import array_namespace
from .._array.namespace import backend_name

__all__ = ["SketchedFactor", "factor_sketch"]

_POWER_STEPS = 12


@dataclass(frozen=True)
class SketchedFactor:
    """``P`` (``d x r``), ``rank``, and estimates of the sketched matrix's largest singular
    value and condition number (``A``'s, to within ``1 +- eps``)."""

    P: Any
    rank: int
    norm_estimate: float
    condition_estimate: float

    def apply(self, G: Any) -> Any:
        """``P P^T G``: the preconditioned step, about ``(A^T A)^-1 G``."""
        xp = array_namespace(self.P)
        return self.P @ (xp.matrix_transpose(self.P) @ G)


def factor_sketch(
    SA: Any, damp: float, xp: Any, *, rcond: float, Sb: Any = None
) -> tuple[SketchedFactor, Any]:
    """Factor the sketch ``SA`` (``m x d``, ``m >= d``), augmented by ``damp * I``; with ``Sb``
    (``m x k``), also return the sketch-and-solve solution (else ``None``).

    Householder QR first, of ``[SA, Sb]`` so that ``Q^T Sb`` comes with ``R`` and ``Q`` is
    never formed; when ``R`` has a diagonal entry below ``100 * rcond`` times the largest (a
    sign of numerical rank deficiency), the SVD instead, keeping the singular values above
    ``rcond`` times the largest.
    """
    d = SA.shape[1]
    if damp:  # the regulariser's rows are known exactly: stacked under the sketch
        SA = xp.concat([SA, damp * xp.eye(d, dtype=SA.dtype, device=SA.device)], axis=0)
        if Sb is not None:
            Sb = xp.concat([Sb, xp.zeros((d, Sb.shape[1]), dtype=Sb.dtype, device=Sb.device)])
    R_full = _qr_r(SA if Sb is None else xp.concat([SA, Sb], axis=1), xp)
    R = R_full[:d, :d]
    diagonal = xp.abs(xp.linalg.diagonal(R))
    top = float(xp.max(diagonal))
    if top > 0 and float(xp.min(diagonal)) > 100 * rcond * top:
        P = _triangular_inverse(R, xp)  # R^-1: applied by a product in every iteration
        largest = _largest_singular_value(R, xp)
        condition = largest * _largest_singular_value(P, xp)
        X0 = None if Sb is None else P @ R_full[:d, d:]
        return SketchedFactor(P, d, largest, condition), X0
    U, s, Vh = xp.linalg.svd(SA, full_matrices=False)
    top = float(s[0]) if s.shape[0] else 0.0
    rank = int(xp.sum(xp.astype(s > rcond * top, xp.int32))) if top > 0 else 0
    if rank == 0:
        raise ValueError("A is zero to working precision: its sketch has no nonzero singular value")
    P = xp.matrix_transpose(Vh[:rank, :]) / xp.reshape(s[:rank], (1, -1))
    X0 = None if Sb is None else P @ (xp.matrix_transpose(U[:, :rank]) @ Sb)
    return SketchedFactor(P, rank, top, top / float(s[rank - 1])), X0


def _triangular_inverse(R: Any, xp: Any) -> Any:
    """``R^-1`` for upper-triangular ``R``: LAPACK's ``trtri`` on NumPy (a third of the work of
    a general solve), ``solve(R, I)`` elsewhere."""
    if backend_name(xp) == "numpy":
        from scipy.linalg import lapack

        (trtri,) = lapack.get_lapack_funcs(("trtri",), (R,))
        inverse, info = trtri(R, lower=0)
        if info != 0:
            raise np.linalg.LinAlgError(f"LAPACK trtri failed (info={info})")
        return np.triu(inverse)
    return xp.linalg.solve(R, xp.eye(R.shape[0], dtype=R.dtype, device=R.device))


def _qr_r(M: Any, xp: Any) -> Any:
    """The ``R`` of a reduced QR (``M`` has at least as many rows as columns). NumPy takes
    LAPACK's ``geqrt`` (blocked Householder with compact WY blocks: 32 columns for narrow
    sketches, 128 for wide ones), 1.3-3x faster here than ``geqrf`` on tall sketches, and never
    forms ``Q``."""
    if backend_name(xp) == "numpy":
        from scipy.linalg import lapack

        (geqrt,) = lapack.get_lapack_funcs(("geqrt",), (M,))
        block = 32 if M.shape[1] <= 512 else 128
        factored, _, info = geqrt(min(block, *M.shape), M)
        if info != 0:
            raise np.linalg.LinAlgError(f"LAPACK geqrt failed (info={info})")
        return np.triu(factored[: min(M.shape)])
    return xp.linalg.qr(M)[1]


def _largest_singular_value(M: Any, xp: Any) -> float:
    """The largest singular value of a square ``M``, by power iteration on ``M^T M`` from a
    fixed start (enough for a condition estimate, which only sets a stopping tolerance)."""
    d = M.shape[0]
    z = xp.ones((d, 1), dtype=M.dtype, device=M.device) / math.sqrt(d)
    z = z + xp.reshape(xp.arange(d, dtype=M.dtype, device=M.device), (d, 1)) * (1e-3 / d)
    Mt = xp.matrix_transpose(M)
    estimate = 0.0
    for _ in range(_POWER_STEPS):
        w = Mt @ (M @ z)
        norm = float(xp.linalg.vector_norm(w))
        if norm == 0.0 or not math.isfinite(norm):
            return 0.0 if norm == 0.0 else math.inf
        z = w / norm
        estimate = math.sqrt(norm)
    return estimate
