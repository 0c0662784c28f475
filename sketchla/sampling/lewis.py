"""l_p Lewis weights: the ``w`` with ``w_i^{2/p} = a_i^T (A^T W^{1-2/p} A)^{-1} a_i``,
``sum w_i = rank(A)`` (Lewis 1978; Cohen & Peng, "l_p row sampling by Lewis weights", STOC 2015).

With ``g_i(w) = a_i^T (A^T W^{1-2/p} A)^{-1} a_i``, the leverage score of row ``i`` of
``W^{1/2-1/p} A`` is ``w_i^{1-2/p} g_i(w)``, so one evaluation of ``g`` is one leverage-score
computation. Cohen and Peng iterate ``w <- g(w)^{p/2}``, a contraction for ``p < 4``.

Relaxation. In ``v = log w`` the map ``T(w) = g(w)^{p/2}`` has, at the fixed point, the
Jacobian ``-(p/2 - 1) D^{-1} (P o P)`` (``P`` the projection onto the range of
``W^{1/2-1/p} A``, ``D = diag(P)``, ``o`` the entrywise product). ``D^{-1} (P o P)`` is similar
to a PSD matrix with eigenvalues in ``[0, 1]``, so the Jacobian's lie between ``0`` and
``1 - p/2``: beyond ``p = 4`` the plain iteration diverges (locally; Cohen & Peng's proof covers
``p < 4``). The relaxed update ``v <- (1 - a) v + a log T(w)`` has eigenvalues between
``1 - a`` and ``1 - a p/2``; ``a = 4 / (p + 2)`` balances them, giving the local rate
``|p - 2| / (p + 2)`` for every ``p``: 1/3 at ``p = 1`` (plain: 1/2), 1/5 at ``p = 3`` (plain:
1/2), 5/7 at ``p = 12`` (plain: diverges). This is a local argument, not a global proof (Fazel,
Lee, Padmanabhan & Sidford, SODA 2022, give a provably convergent method for ``p >= 4``); the
tests check convergence to a high-precision fixed point on structured families for ``p`` from 1
to 12, from the leverage scores (the ``p = 2`` weights) as the start.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._array import array_namespace, kernel
from .._array.namespace import unit_roundoff
from ..errors import ConvergenceWarning
from ._input import check_exponent, check_input_matrix, row_norms_squared
from .leverage import _check_eps, _inverse_factor, _rank, _sparse_r, leverage_scores

__all__ = ["LEWIS_METHODS", "LewisWeights", "lewis_weights"]

LEWIS_METHODS = ("exact", "sketch")


@dataclass(frozen=True)
class LewisWeights:
    """``weights`` (``(n,)``), the ``iterations`` run, whether the fixed-point residual
    ``max_i |w_i^{2/p} / g_i(w) - 1|`` reached ``tol`` (``converged``), and that ``residual``,
    of the weights returned (for ``method="sketch"`` it is measured with sketched scores)."""

    weights: Any
    iterations: int
    converged: bool
    residual: float


def lewis_weights(
    A: Any,
    p: float,
    *,
    method: str = "exact",
    tol: float | None = None,
    maxiter: int = 100,
    eps: float = 0.5,
    seed: Any = None,
) -> LewisWeights:
    """The l_p Lewis weights of the rows of ``A``.

    Parameters
    ----------
    A : array or scipy.sparse matrix
        ``(n, d)``, any backend (sparse: NumPy results).
    p : float
        ``p >= 1``. ``p = 2`` gives the leverage scores.
    method : {"exact", "sketch"}
        How each round's leverage scores are computed: exactly, row by row to relative accuracy
        (through the Gram matrix when that is accurate, else a QR), or by
        :func:`leverage_scores` ``(method="sketch")``, which gives weights within a constant
        factor (about ``1 +- eps``) at a fraction of the cost.
    tol : float, optional
        Stop when ``max_i |w_i^{2/p} / g_i(w) - 1| <= tol``. Default ``sqrt(u)`` for
        ``"exact"``; for ``"sketch"`` it is ``eps``, the noise of the sketched scores (each
        round draws a new sketch, so the residual cannot fall much below it).
    maxiter : int
        Rounds allowed; a :class:`~sketchla.ConvergenceWarning` says when they ran out.
    eps : float
        Accuracy of the sketched scores (``method="sketch"``), in ``(0, 1)``.
    seed : None, int or sketchla.random.Generator
        ``method="sketch"`` only.

    Returns
    -------
    LewisWeights
        ``weights`` of ``A``'s namespace and floating dtype; they sum to ``rank(A)``. The
        iteration runs in float64 on ``A`` scaled to ``max |a_ij| = 1`` and reduced to a basis
        of its column space (the weights depend on nothing else), so the rank is decided once.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sampling import lewis_weights
    >>> A = np.random.default_rng(0).standard_normal((500, 4))
    >>> w = lewis_weights(A, 1).weights
    >>> round(float(w.sum()), 8)
    4.0
    """
    A = check_input_matrix(A)
    p = check_exponent(p)
    if method not in LEWIS_METHODS:
        raise ValueError(f"method must be one of {LEWIS_METHODS}, got {method!r}")
    eps = _check_eps(eps)
    maxiter = v.check_int(maxiter, "maxiter", minimum=1)
    u = unit_roundoff(np.float64)
    tol = _check_tol(tol, math.sqrt(u) if method == "exact" else eps, u)
    generator = v.check_seed(seed)
    sparse = sp.issparse(A)
    xp = np if sparse else array_namespace(A)
    B0, keep = _column_basis(A)
    if B0 is None:  # A = 0: every weight is 0
        return LewisWeights(xp.zeros(A.shape[0], dtype=A.dtype), 0, True, 0.0)

    def scores(B: Any) -> Any:
        if method == "sketch":
            return leverage_scores(B, method="sketch", eps=eps, seed=generator)
        return row_scores(B, tol / 10)

    bxp = np if sp.issparse(B0) else array_namespace(B0)
    relaxation = 4.0 / (p + 2.0)
    w = scores(B0)  # the p = 2 weights: a start within a factor of the answer
    for iterations in range(1, maxiter + 1):
        c = w ** (0.5 - 1.0 / p)
        B = (sp.diags(c) @ B0).tocsr() if sp.issparse(B0) else B0 * bxp.reshape(c, (-1, 1))
        g = scores(B) / w ** (1.0 - 2.0 / p)  # a_i^T (A^T W^{1-2/p} A)^{-1} a_i
        residual = float(bxp.max(bxp.abs(w ** (2.0 / p) / g - 1.0)))
        if residual <= tol or iterations == maxiter:
            break
        w = w ** (1.0 - relaxation) * g ** (relaxation * p / 2.0)
        w = bxp.maximum(w, bxp.asarray(_SMALLEST, dtype=w.dtype))  # no weight underflows to 0
    converged = residual <= tol
    if not converged:
        warnings.warn(
            f"lewis_weights stopped after maxiter={maxiter} rounds with the fixed-point "
            f"residual {residual:.2e} above tol={tol:.1e}",
            ConvergenceWarning,
            stacklevel=2,
        )
    return LewisWeights(_expand(w, keep, A, xp), iterations, converged, residual)


#: Weights are kept above this (float64) so that ``w ** (1 - 2/p)`` stays positive.
_SMALLEST = 1e-300


def _column_basis(A: Any) -> tuple[Any, Any]:
    """``(B0, keep)``: the nonzero rows ``keep`` of ``A`` (``None`` when all are), in float64,
    scaled to ``max |a_ij| = 1``, and times ``V_r`` (a basis of the row space, from the SVD of
    the QR factor ``R``) when ``A`` is rank-deficient. ``(None, None)`` when ``A = 0``."""
    dtype = A.dtype
    if sp.issparse(A):
        A = sp.csr_array(A, dtype=np.float64)
        top = float(np.max(np.abs(A.data), initial=0.0))
        if top == 0:
            return None, None
        nonzero = np.diff(A.indptr) > 0
        nonzero[nonzero] = np.maximum.reduceat(np.abs(A.data), A.indptr[:-1][nonzero]) > 0
        keep = None if nonzero.all() else np.flatnonzero(nonzero)
        B0 = (A if keep is None else A[keep]) / top
        R = _sparse_r(B0, 0.0)
        xp = np
    else:
        xp = array_namespace(A)
        A = xp.astype(A, xp.float64)
        top = float(xp.max(xp.abs(A)))
        if top == 0:
            return None, None
        nonzero = xp.any(A != 0, axis=1)
        keep = None if bool(xp.all(nonzero)) else xp.nonzero(nonzero)[0]
        B0 = (A if keep is None else xp.take(A, keep, axis=0)) / top
        R = xp.linalg.qr(B0)[1] if B0.shape[0] >= B0.shape[1] else B0
    _, s, Vh = xp.linalg.svd(R, full_matrices=False)
    rank = _rank(s, B0.shape, dtype)  # at the roundoff of the input's dtype
    if rank < B0.shape[1]:
        B0 = xp.asarray(B0 @ xp.matrix_transpose(Vh[:rank, :]))
    return B0, keep


def _expand(w: Any, keep: Any, A: Any, xp: Any) -> Any:
    """The weights of the kept rows placed among zeros, in ``A``'s namespace and dtype."""
    if keep is None:
        return xp.astype(w, A.dtype) if xp is not np else w.astype(A.dtype, copy=False)
    if xp is np:
        full = np.zeros(A.shape[0], dtype=A.dtype)
        full[np.asarray(keep)] = w
        return full
    return xp.astype(_scatter(keep, w, A.shape[0], xp), A.dtype)


def row_scores(B: Any, accuracy: float) -> Any:
    """Leverage scores of the full-column-rank ``B`` (dense or sparse), each accurate relative
    to itself: ``tau_i = ||b_i T||**2`` with ``T = L^{-T}`` from the Cholesky factor of
    ``B^T B`` when ``4 d u kappa(B)**2 <= accuracy`` (two BLAS-3 passes), else ``T = R^{-1}``
    from a Householder QR (relative error ``~ u kappa(B)``). ``||Q[i]||**2`` would be accurate
    only to ``u`` in absolute terms, which rows of tiny weight (large ``p``) cannot afford."""
    sparse = sp.issparse(B)
    xp = np if sparse else array_namespace(B)
    d = B.shape[1]
    u = unit_roundoff(np.float64)
    G = xp.asarray((B.T @ B).toarray() if sparse else xp.matrix_transpose(B) @ B)
    T = None
    if bool(xp.all(xp.isfinite(G))):
        try:
            L = xp.linalg.cholesky(G)
        except Exception:  # not positive definite in floating point (backends raise their own)
            L = None
        if L is not None:
            s = xp.linalg.svd(L)[1]
            if float(s[-1]) > 0 and 4 * d * u * (float(s[0]) / float(s[-1])) ** 2 <= accuracy:
                T = xp.matrix_transpose(xp.linalg.inv(L))
    if T is None:
        R = _sparse_r(B, 0.0) if sparse else xp.linalg.qr(B)[1]
        T = xp.linalg.inv(R)
        if not bool(xp.all(xp.isfinite(T))):  # R singular in floating point: its pseudo-inverse
            T = _inverse_factor(R, 0.0, np.float64)
    return row_norms_squared(xp.asarray(B @ T), xp)


def _scatter(index: Any, values: Any, length: int, xp: Any) -> Any:
    return kernel("scatter_add", xp)(index, values, length, xp=xp)


def _check_tol(tol: Any, default: float, u: float) -> float:
    if tol is None:
        return default
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol must be a number in [100 u, 1), got {tol!r}")
    if not 100 * u <= float(tol) < 1:
        raise ValueError(f"tol must be in [{100 * u:.1e}, 1), got {tol!r}")
    return float(tol)
