"""Preconditioners: ``d x r`` matrices ``P`` with ``(A P)^T (A P) ~ I``.

From a sketch (:func:`factor_sketch`): QR of ``S A`` (Blendenpik) or, when ``S A`` is numerically
rank-deficient, its SVD (LSRN). ``A P`` has singular values in ``[1/(1 + eps), 1/(1 - eps)]``
for a subspace embedding of distortion ``eps``, whatever the conditioning of ``A``; the sketch
also gives the sketch-and-solve solution ``x0 = argmin ||S A x - S b||``. With ridge ``damp``,
the sketched matrix is augmented by ``damp * I``: the exact rows of the regulariser need no
sketch.

From the Gram matrix (:func:`factor_gram`): the Cholesky factor ``R`` of ``A^T A``, as in the
corrected semi-normal equations (Bjorck, "Stability analysis of the method of seminormal
equations for linear least squares problems", 1987). Rounding in ``A^T A`` makes ``R`` the
factor of a matrix at relative distance about ``u * kappa(A)**2``, which is the distortion of
``A R^-1``: far below a sketch's when ``A`` is well conditioned, useless when
``u * kappa**2`` nears 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace
from .._array.gram import blas_threads, gram, one_blas_thread
from .._array.namespace import backend_name

__all__ = ["Preconditioner", "factor_gram", "factor_gram_of_products", "factor_sketch"]

_POWER_STEPS = 12
#: The distortion of a Gram preconditioner is estimated as ``u * (GRAM_ROUNDING * kappa**2 + d)``:
#: rounding in ``A^T A`` relative to the smallest eigenvalue, plus the ``O(d u)`` rounding of the
#: Cholesky factor and its inverse, which does not grow with ``kappa`` and dominates near
#: ``kappa = 1``; above ``GRAM_LIMIT`` the Gram matrix is refused and a sketch is used instead.
GRAM_ROUNDING = 4.0
GRAM_LIMIT = 0.1


@dataclass(frozen=True)
class Preconditioner:
    """``P`` (``d x r``), ``rank``, estimates of the factored matrix's largest singular value
    and condition number (``A``'s, to within ``1 +- distortion``), and the ``distortion``:
    ``A P`` has singular values in about ``[1/(1 + distortion), 1/(1 - distortion)]``."""

    P: Any
    rank: int
    norm_estimate: float
    condition_estimate: float
    distortion: float

    def apply(self, G: Any) -> Any:
        """``P P^T G``: the preconditioned step, about ``(A^T A)^-1 G``."""
        xp = array_namespace(self.P)
        return self.P @ (xp.matrix_transpose(self.P) @ G)


def factor_sketch(
    SA: Any, damp: float, xp: Any, *, rcond: float, Sb: Any = None
) -> tuple[Preconditioner, Any]:
    """Factor the sketch ``SA`` (``m x d``, ``m >= d``), augmented by ``damp * I``; with ``Sb``
    (``m x k``), also return the sketch-and-solve solution (else ``None``).

    Householder QR first, of ``[SA, Sb]`` so that ``Q^T Sb`` comes with ``R`` and ``Q`` is
    never formed; when ``R`` has a diagonal entry below ``100 * rcond`` times the largest (a
    sign of numerical rank deficiency), the SVD instead, keeping the singular values above
    ``rcond`` times the largest. The distortion is taken as ``(sqrt(r) + 1) / sqrt(m)`` for rank
    ``r`` (the extreme singular values of an ``m x r`` Gaussian matrix, over ``sqrt(m)``).
    """
    m, d = SA.shape
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
        largest, condition = _norm_and_condition(R, P, xp)
        X0 = None if Sb is None else P @ R_full[:d, d:]
        return Preconditioner(P, d, largest, condition, _sketch_distortion(d, m)), X0
    U, s, Vh = xp.linalg.svd(SA, full_matrices=False)
    top = float(s[0]) if s.shape[0] else 0.0
    rank = int(xp.sum(xp.astype(s > rcond * top, xp.int32))) if top > 0 else 0
    if rank == 0:
        raise ValueError("A is zero to working precision: its sketch has no nonzero singular value")
    P = xp.matrix_transpose(Vh[:rank, :]) / xp.reshape(s[:rank], (1, -1))
    X0 = None if Sb is None else P @ (xp.matrix_transpose(U[:, :rank]) @ Sb)
    condition = top / float(s[rank - 1])
    return Preconditioner(P, rank, top, condition, _sketch_distortion(rank, m)), X0


def _sketch_distortion(rank: int, m: int) -> float:
    return min(0.95, (math.sqrt(rank) + 1) / math.sqrt(m))


def factor_gram(A: Any, b: Any, damp: float, u: float) -> tuple[Preconditioner, Any] | None:
    """The Gram preconditioner ``R^-1``, ``R^T R = A^T A + damp**2 I`` (Cholesky), and the
    normal-equations solution ``R^-1 R^-T A^T b`` (``b`` is ``n x k``); or ``None`` when the
    Gram matrix is too ill-conditioned to help (estimated distortion above ``GRAM_LIMIT``, or a
    failed factorisation) or overflows. ``u`` is the unit roundoff.

    Raises ``ValueError`` when ``A`` holds non-finite values (the Gram matrix shows them).
    """
    xp = array_namespace(A)
    if backend_name(xp) != "numpy":
        return _factor_gram(A, damp, u, xp.matrix_transpose(A) @ A, xp.matrix_transpose(A) @ b)
    # NumPy: the products split over the cores, then single-threaded BLAS for the small dense
    # work, so that no OpenBLAS thread spins into the passes over A that follow (see gram.py)
    G, c = gram(A, b, blas_threads())
    with one_blas_thread():
        return _factor_gram(A, damp, u, G, c)


def factor_gram_of_products(
    A: Any, damp: float, u: float, G: Any, c: Any
) -> tuple[Preconditioner, Any] | None:
    """:func:`factor_gram` from ``G = A^T A`` and ``c = A^T b`` already computed (by a
    distributed pass over ``A``); ``A`` is read again only if ``G`` is not finite."""
    return _factor_gram(A, damp, u, G, c)


def _factor_gram(A: Any, damp: float, u: float, G: Any, c: Any):
    xp = array_namespace(G)
    if damp:
        G = G + damp**2 * xp.eye(G.shape[0], dtype=G.dtype, device=G.device)
    if not _finite_gram(G, A):
        return None
    try:
        R = xp.matrix_transpose(xp.linalg.cholesky(G))
    except (np.linalg.LinAlgError, RuntimeError):  # torch's LinAlgError is a RuntimeError
        return None
    diagonal = xp.linalg.diagonal(R)
    if not bool(xp.all(xp.isfinite(diagonal))) or not float(xp.min(diagonal)) > 0:
        return None
    P = _upper_inverse(R, xp)
    largest, condition = _norm_and_condition(R, P, xp)
    distortion = u * (GRAM_ROUNDING * condition**2 + G.shape[0])
    if not distortion <= GRAM_LIMIT:
        return None
    factor = Preconditioner(P, A.shape[1], largest, condition, distortion)
    return factor, factor.apply(c)


def _finite_gram(G: Any, A: Any) -> bool:
    """Whether ``G`` is finite; raises when ``A`` is not (``A`` is checked only then)."""
    xp = array_namespace(G)
    if bool(xp.all(xp.isfinite(G))):
        return True
    v.check_finite(A, "A")
    return False  # overflow of finite entries: the sketch copes


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


def _upper_inverse(R: Any, xp: Any) -> Any:
    """``R^-1`` for upper-triangular ``R`` by block recursion, ``[[A, B], [0, C]]^-1 =
    [[A^-1, -A^-1 B C^-1], [0, C^-1]]``: ``d**3 / 3`` flops in matrix products of ``R``'s
    namespace. On NumPy this stays in NumPy's OpenBLAS: LAPACK's ``trtri`` lives in SciPy's
    copy, whose threads fight NumPy's for the cores in the tenth of a second after a large
    NumPy product (the Gram matrix), up to 20x slower here."""
    d = R.shape[0]
    if d <= _INVERSE_BLOCK:
        return xp.linalg.inv(R)  # LU of a triangular matrix: no pivoting, exact zeros below
    h = d // 2
    A, C = _upper_inverse(R[:h, :h], xp), _upper_inverse(R[h:, h:], xp)
    B = -((A @ R[:h, h:]) @ C)
    lower_left = xp.zeros((d - h, h), dtype=R.dtype, device=R.device)
    return xp.concat([xp.concat([A, B], axis=1), xp.concat([lower_left, C], axis=1)], axis=0)


_INVERSE_BLOCK = 128


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


def _norm_and_condition(R: Any, P: Any, xp: Any) -> tuple[float, float]:
    """``(||R||, ||R|| ||P||)`` for ``P = R^-1``: the factored matrix's norm and condition
    number, by power iteration."""
    largest = _largest_singular_value(R, xp)
    return largest, largest * _largest_singular_value(P, xp)


def _largest_singular_value(M: Any, xp: Any) -> float:
    """The largest singular value of a square ``M``, by power iteration on ``M^T M`` from a
    fixed start (enough for a condition estimate, which only sets a stopping tolerance)."""
    d = M.shape[0]
    z = xp.ones((d, 1), dtype=M.dtype, device=M.device) / math.sqrt(d)
    z = z + xp.reshape(xp.arange(d, dtype=M.dtype, device=M.device), (d, 1)) * (1e-3 / d)
    Mt = xp.matrix_transpose(M)
    estimate = 0.0
    for _ in range(_POWER_STEPS):
        # ||M^T M z|| as ||M z|| ||M^T (M z / ||M z||)||: no square of sigma to overflow
        y = M @ z
        y_norm = float(xp.linalg.vector_norm(y))
        if y_norm == 0.0 or not math.isfinite(y_norm):
            return 0.0 if y_norm == 0.0 else math.inf
        w = Mt @ (y / y_norm)
        w_norm = float(xp.linalg.vector_norm(w))
        if w_norm == 0.0:
            return 0.0
        z = w / w_norm
        estimate = math.sqrt(y_norm) * math.sqrt(w_norm)
    return estimate
