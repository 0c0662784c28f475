"""l_p sensitivities ``s_i = sup_x |a_i^T x|^p / ||A x||_p^p``, exactly (small problems) and by
certified upper bounds (Woodruff & Yasuda, "Sharper bounds for l_p sensitivity sampling",
ICML 2023).

Exact: ``1 / s_i = min { ||A x||_p^p : a_i^T x = 1 }``. Writing ``x = a_i / ||a_i||**2 + N z``
with ``N`` an orthonormal basis of ``a_i``'s orthogonal complement turns it into the l_p
regression ``min_z ||A N z + A a_i / ||a_i||**2||_p`` (:func:`lp_regression`: an LP for ``p = 1``,
damped Newton otherwise): ``n`` regressions of size ``n x (d - 1)``, for small ``n``.

Upper bounds, each ``>= s_i`` for every row (Woodruff & Yasuda, Section 1.1; Cohen & Peng 2015):

* ``"lewis"``: ``w_i`` for ``p <= 2`` and ``d^{p/2 - 1} w_i`` for ``p > 2`` (``w`` the l_p Lewis
  weights, ``d`` the rank);
* ``"root_leverage"``: ``tau_i^{p/2}`` (``tau`` the leverage scores), for ``p <= 2`` only;
* ``"augmented"``: the ``"lewis"`` bound plus ``tau_i``, the importance of Munteanu & Omlor
  (2024), which adds the leverage scores to the sensitivities.

The total sensitivity ``S = sum s_i`` is at most ``d`` for ``p <= 2`` and ``d^{p/2}`` beyond.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._array import array_namespace, device, to_numpy
from ..errors import ConvergenceWarning
from ._input import check_exponent, check_input_matrix
from .leverage import leverage_scores
from .lewis import lewis_weights

__all__ = ["SENSITIVITY_METHODS", "sensitivities", "total_sensitivity"]

#: Newton steps allowed per row's regression (each is a small ``n x (d - 1)`` problem).
_MAXITER = 5000

SENSITIVITY_METHODS = ("exact", "lewis", "root_leverage", "augmented")


def sensitivities(A: Any, p: float, *, method: str = "lewis") -> Any:
    """l_p sensitivities of the rows of ``A``: exact, or a certified upper bound.

    Parameters
    ----------
    A : array or scipy.sparse matrix
        ``(n, d)``.
    p : float
        ``p >= 1``.
    method : {"lewis", "exact", "root_leverage", "augmented"}
        ``"exact"`` solves ``n`` l_p regressions (small ``n``: thousands of rows at most); the
        others are upper bounds (see the module docstring). ``"root_leverage"`` needs
        ``p <= 2``.

    Returns
    -------
    array
        ``(n,)``, of ``A``'s namespace (NumPy for sparse ``A``) and floating dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sampling import sensitivities
    >>> A = np.random.default_rng(0).standard_normal((60, 3))
    >>> exact = sensitivities(A, 1, method="exact")
    >>> bool(np.all(exact <= sensitivities(A, 1) * (1 + 1e-8)))
    True
    >>> bool(exact.sum() <= 3)
    True
    """
    A = check_input_matrix(A)
    p = check_exponent(p)
    if method not in SENSITIVITY_METHODS:
        raise ValueError(f"method must be one of {SENSITIVITY_METHODS}, got {method!r}")
    if method == "root_leverage" and p > 2:
        raise ValueError(
            f"method='root_leverage' bounds the sensitivities only for p <= 2, got p={p}; "
            "use 'lewis' or 'augmented'"
        )
    if method == "exact":
        return _exact(A, p)
    if method == "root_leverage":
        return leverage_scores(A) ** (p / 2)
    w = lewis_weights(A, p).weights
    if p > 2:
        rank = float(w.sum())  # sum of the Lewis weights = rank(A)
        w = w * rank ** (p / 2 - 1)
    if method == "augmented":
        return w + leverage_scores(A)
    return w


def total_sensitivity(A: Any, p: float, *, method: str = "lewis") -> float:
    """``sum_i s_i`` (or the sum of the upper bounds) for :func:`sensitivities`'s ``method``."""
    values = sensitivities(A, p, method=method)
    return float(values.sum())


def _exact(A: Any, p: float) -> Any:
    from .regression import _solve

    namespace = None if sp.issparse(A) else array_namespace(A)
    dense = A.toarray() if sp.issparse(A) else np.asarray(to_numpy(A), dtype=np.float64)
    dense = np.asarray(dense, dtype=np.float64)
    n, d = dense.shape
    values = np.zeros(n)
    unconverged = 0
    for i in range(n):
        a = dense[i]
        norm2 = float(a @ a)
        if norm2 == 0:
            continue
        x0 = a / norm2
        if d == 1:
            values[i] = 1.0 / float(np.sum(np.abs(dense @ x0) ** p))
            continue
        N = _complement(a)
        x_z, _, converged = _solve(dense @ N, -(dense @ x0), p, 1e-13, _MAXITER)
        unconverged += not converged
        x = x0 + N @ x_z
        values[i] = 1.0 / float(np.sum(np.abs(dense @ x) ** p))
    if unconverged:
        warnings.warn(
            f"sensitivities(method='exact'): the l_p regression of {unconverged} of {n} rows "
            f"stopped after {_MAXITER} Newton steps before converging; their values may be "
            "too small (Newton creeps for p < 2 when the optimum has exact-zero residuals)",
            ConvergenceWarning,
            stacklevel=3,
        )
    if namespace is None:
        return values.astype(A.dtype, copy=False)
    return namespace.asarray(values, dtype=A.dtype, device=device(A))


def _complement(a: np.ndarray) -> np.ndarray:
    """An orthonormal basis (``d x (d - 1)``) of the complement of ``a`` (full QR)."""
    Q = np.linalg.qr(a.reshape(-1, 1), mode="complete")[0]
    return Q[:, 1:]
