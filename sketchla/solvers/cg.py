"""Conjugate gradients for symmetric positive definite ``A x = b``, optionally preconditioned
(Hestenes & Stiefel 1952; Saad, *Iterative Methods for Sparse Linear Systems*, 2003, Algorithm
9.1 for PCG).

With ``z = M r`` (``M`` approximating ``A^{-1}``): ``alpha = r^T z / p^T A p``,
``x += alpha p``, ``r -= alpha A p``, ``beta = r_new^T z_new / r^T z``, ``p = z + beta p``. Stop
when ``||r|| <= tol ||b||`` (the recurrence's residual). A non-positive ``p^T A p`` (or
``r^T z``) proves ``A`` (or ``M``) not positive definite, which is an error, not a warning.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _validation as v
from .._array import array_namespace
from .._array.gram import one_blas_thread
from ..errors import ConvergenceWarning
from .operator import as_matvec
from .result import SolveResult

__all__ = ["cg"]


def cg(
    A: Any,
    b: Any,
    *,
    M: Any = None,
    tol: float = 1e-6,
    maxiter: int | None = None,
    x0: Any = None,
    callback: Callable[[Any], None] | None = None,
) -> SolveResult:
    """Solve the symmetric positive definite system ``A x = b`` by (preconditioned) conjugate
    gradients.

    Parameters
    ----------
    A : array, scipy.sparse matrix, LinearOperator, or an object with ``shape`` and ``matvec``
        ``(n, n)``, symmetric positive definite. Dense arrays must share ``b``'s namespace.
    b : array
        ``(n,)``, any backend; the iteration runs in its namespace and on its device.
    M : same kinds as ``A``, or a callable ``r -> M r``, optional
        The preconditioner, an approximation of ``A^{-1}`` (SciPy's convention), SPD.
    tol : float
        Relative residual ``||b - A x|| <= tol ||b||``, in ``(0, 1)``.
    maxiter : int, optional
        Default ``10 n``.
    x0 : array, optional
        Starting point (default zero).
    callback : callable, optional
        Called with ``x`` after every iteration.

    Returns
    -------
    SolveResult

    Examples
    --------
    >>> from sketchla.solvers import PoissonGrid, cg
    >>> import numpy as np
    >>> A = PoissonGrid((16, 16))
    >>> b = np.random.default_rng(0).standard_normal(A.shape[0])
    >>> result = cg(A, b, tol=1e-8)
    >>> result.converged, bool(np.linalg.norm(b - A.matvec(result.x)) <= 1e-8 * np.linalg.norm(b))
    (True, True)
    """
    b = v.check_vector(b, "b")
    xp = array_namespace(b)
    matvec, n = as_matvec(A, b.shape[0])
    precondition = _preconditioner(M, n)
    tol = _check_tol(tol)
    maxiter = 10 * n if maxiter is None else v.check_int(maxiter, "maxiter", minimum=0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if x0 is None:
        x = xp.zeros_like(b)
        r = b
    else:
        x = v.check_vector(x0, "x0", length=n, xp=xp)
        x = xp.astype(x, b.dtype, copy=True)
        r = b - matvec(x)
    b_norm = float(xp.linalg.vector_norm(b))
    if b_norm == 0.0:  # A is positive definite: x = 0 exactly, whatever x0
        return SolveResult(xp.zeros_like(b), 0, np.asarray([0.0]), True)
    target = tol * b_norm
    norms = [float(xp.linalg.vector_norm(r))]
    if norms[0] <= target:
        return SolveResult(x, 0, np.asarray(norms), True)
    # NumPy vectors with a sparse or matrix-free A: the vector operations gain nothing from BLAS
    # threads, whose spinning after each call slows numba's (measured 0.92 s -> 0.11 s for CG on
    # a 64^3 Poisson grid)
    quiet = xp.__name__.endswith("numpy") and not _is_dense(A)
    with one_blas_thread() if quiet else contextlib.nullcontext():
        return _iterate(matvec, precondition, x, r, norms, target, tol, maxiter, callback, xp)


def _is_dense(A: Any) -> bool:
    return not (sp.issparse(A) or isinstance(A, spla.LinearOperator) or hasattr(A, "matvec"))


def _iterate(matvec, precondition, x, r, norms, target, tol, maxiter, callback, xp):
    """The CG recurrence from ``x``, ``r = b - A x`` (see the module docstring)."""
    b_norm = target / tol
    dot = _dot(xp)
    z = r if precondition is None else precondition(r)
    p = z
    rz = norms[0] ** 2 if precondition is None else dot(r, z)
    _check_positive(rz, "M", "r^T M r", 0)
    iterations = 0
    for iterations in range(1, maxiter + 1):
        Ap = matvec(p)
        pAp = dot(p, Ap)
        _check_positive(pAp, "A", "p^T A p", iterations)
        alpha = rz / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        norms.append(math.sqrt(max(dot(r, r), 0.0)))
        if callback is not None:
            callback(x)
        if not math.isfinite(norms[-1]):
            raise FloatingPointError(
                f"cg: the residual became {norms[-1]} at iteration {iterations} (overflow in A?)"
            )
        if norms[-1] <= target:
            return SolveResult(x, iterations, np.asarray(norms), True)
        if precondition is None:  # z = r: r^T z is the squared norm just computed
            z, rz_new = r, norms[-1] ** 2
        else:
            z = precondition(r)
            rz_new = dot(r, z)
            _check_positive(rz_new, "M", "r^T M r", iterations)
        p = z + (rz_new / rz) * p
        rz = rz_new
    warnings.warn(
        f"cg stopped after maxiter={maxiter} iterations at the relative residual "
        f"{norms[-1] / b_norm:.2e} above tol={tol:.1e}",
        ConvergenceWarning,
        stacklevel=4,
    )
    return SolveResult(x, iterations, np.asarray(norms), False)


def _dot(xp: Any) -> Callable:
    """``x -> float(x^T y)``: NumPy's BLAS ``ddot`` (no temporary), else the namespace's."""
    if xp.__name__.endswith("numpy"):
        return lambda a, b: float(np.dot(a, b))
    return lambda a, b: float(xp.vecdot(a, b))


def _preconditioner(M: Any, n: int) -> Callable | None:
    if M is None:
        return None
    if callable(M) and not hasattr(M, "shape"):
        return M
    return as_matvec(M, n, name="M")[0]


def _check_positive(value: float, name: str, what: str, iteration: int) -> None:
    if not value > 0:  # (NaN too)
        raise ValueError(
            f"{name} is not positive definite: {what} = {value:.3e} at iteration {iteration}"
        )


def _check_tol(tol: Any) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol must be a number in (0, 1), got {tol!r}")
    if not 0 < float(tol) < 1:
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    return float(tol)
