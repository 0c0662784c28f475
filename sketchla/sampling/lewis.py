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
from .._array import array_namespace
from .._array.namespace import numpy_dtype, unit_roundoff
from ..errors import ConvergenceWarning
from ._input import check_exponent, check_input_matrix, row_norms_squared
from .leverage import fast_exact_scores, leverage_scores

__all__ = ["LEWIS_METHODS", "LewisWeights", "lewis_weights"]

LEWIS_METHODS = ("exact", "sketch")


@dataclass(frozen=True)
class LewisWeights:
    """``weights`` (``(n,)``), the ``iterations`` run, whether the fixed-point residual
    ``max_i |w_i^{2/p} / g_i(w) - 1|`` reached ``tol`` (``converged``), and that ``residual``
    (for ``method="sketch"`` it is measured with sketched scores)."""

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
        How each round's leverage scores are computed: exactly (through the Gram matrix when
        that is accurate, else a QR), or by :func:`leverage_scores` ``(method="sketch")``, which
        gives weights within a constant factor (about ``1 +- eps``) at a fraction of the cost.
    tol : float, optional
        Stop when ``max_i |w_i^{2/p} / g_i(w) - 1| <= tol`` (default ``sqrt(u)``; for
        ``"sketch"``, ``eps / 2``).
    maxiter : int
        Rounds allowed; a :class:`~sketchla.ConvergenceWarning` says when they ran out.
    eps : float
        Accuracy of the sketched scores (``method="sketch"``).
    seed : None, int or sketchla.random.Generator
        ``method="sketch"`` only.

    Returns
    -------
    LewisWeights

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
    maxiter = v.check_int(maxiter, "maxiter", minimum=1)
    sparse = sp.issparse(A)
    xp = np if sparse else array_namespace(A)
    u = unit_roundoff(numpy_dtype(A.dtype))
    tol = _check_tol(tol, math.sqrt(u) if method == "exact" else eps / 2, u)
    generator = v.check_seed(seed)

    def scores(B: Any) -> Any:
        if method == "sketch":
            return leverage_scores(B, method="sketch", eps=eps, seed=generator)
        return fast_exact_scores(B, tol / 10)

    # rows outside the row space of the others matter; rows of zeros get weight 0
    nonzero = (A.multiply(A).sum(axis=1) > 0) if sparse else row_norms_squared(A, xp) > 0
    nonzero = xp.asarray(np.asarray(nonzero).ravel()) if sparse else nonzero
    keep = None if bool(xp.all(nonzero)) else xp.nonzero(nonzero)[0]
    B0 = A if keep is None else (A[np.asarray(keep)] if sparse else xp.take(A, keep, axis=0))
    relaxation = 4.0 / (p + 2.0)
    w = scores(B0)  # the p = 2 weights: a start within a factor of the answer
    residual, iterations = math.inf, 0
    for iterations in range(1, maxiter + 1):  # noqa: B007 (reported)
        c = w ** (0.5 - 1.0 / p)
        B = (sp.diags(c) @ B0).tocsr() if sparse else B0 * xp.reshape(c, (-1, 1))
        g = scores(B) / w ** (1.0 - 2.0 / p)  # a_i^T (A^T W^{1-2/p} A)^{-1} a_i
        residual = float(xp.max(xp.abs(w ** (2.0 / p) / g - 1.0)))
        if residual <= tol:
            break
        w = w ** (1.0 - relaxation) * g ** (relaxation * p / 2.0)
    converged = residual <= tol
    if not converged:
        warnings.warn(
            f"lewis_weights stopped after maxiter={maxiter} rounds with the fixed-point "
            f"residual {residual:.2e} above tol={tol:.1e}",
            ConvergenceWarning,
            stacklevel=2,
        )
    if keep is not None:
        full = xp.zeros(A.shape[0], dtype=w.dtype)
        if xp is np:
            full[np.asarray(keep)] = w
        else:
            full = _scatter(full, keep, w, xp)
        w = full
    return LewisWeights(w, iterations, converged, residual)


def _scatter(out: Any, index: Any, values: Any, xp: Any) -> Any:
    from .._array import kernel

    return kernel("scatter_add", xp)(index, values, out.shape[0], xp=xp)


def _check_tol(tol: Any, default: float, u: float) -> float:
    if tol is None:
        return default
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol must be a number in [100 u, 1), got {tol!r}")
    if not 100 * u <= float(tol) < 1:
        raise ValueError(f"tol must be in [{100 * u:.1e}, 1), got {tol!r}")
    return float(tol)
