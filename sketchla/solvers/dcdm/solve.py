"""The DCDM iteration (Kaneda et al., ICML 2023, Algorithm 1).

Each step maps the normalised residual to a direction, ``q = f(r / ||r||)``, makes it
A-orthogonal to the last ``n_orth`` directions, ``q <- q - sum_j (q^T A p_j / p_j^T A p_j) p_j``,
and moves along it: ``alpha = q^T r / q^T A q``, ``x += alpha q``, ``r -= alpha A q``. With ``f``
the identity the directions are CG's (``r_k`` is already A-orthogonal to every direction but the
last), so the iterates are CG's; with ``f = A^{-1}`` the first step solves the system. Rescaling
``f`` rescales ``q`` and ``1 / alpha`` together: the iterates do not change.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import _validation as v
from ..._array import array_namespace, to_numpy
from ...errors import ConvergenceWarning
from ..cg import _check_tol, _dot
from ..operator import as_matvec
from ..result import SolveResult

__all__ = ["dcdm_solve"]


def dcdm_solve(
    A: Any,
    b: Any,
    *,
    model: Any,
    grid_shape: Any = None,
    x0: Any = None,
    tol: float = 1e-6,
    maxiter: int | None = None,
    n_orth: int = 2,
    callback: Callable[[Any], None] | None = None,
) -> SolveResult:
    """Solve the symmetric positive definite ``A x = b`` by deep conjugate directions.

    Parameters
    ----------
    A : array, scipy.sparse matrix, LinearOperator, or an object with ``shape`` and ``matvec``
        ``(n, n)``, symmetric positive definite (e.g. :class:`~sketchla.solvers.PoissonGrid`).
    b : array
        ``(n,)``, any backend.
    model : callable or torch.nn.Module
        The direction map ``f``. A callable receives the normalised residual as an array of
        ``b``'s namespace shaped ``grid_shape`` and returns one of that shape. A torch module
        receives a ``(1, 1, *grid_shape)`` tensor of its own device and dtype (under
        ``torch.no_grad``).
    grid_shape : tuple of ints, optional
        The grid the residual is reshaped to (default: ``A.grid_shape`` when ``A`` has one,
        else ``(n,)``).
    x0 : array, optional
        Starting point (default zero).
    tol : float
        Stop when ``||b - A x|| <= tol ||b||`` (the recurrence's residual), in ``(0, 1)``.
    maxiter : int, optional
        Default ``n``.
    n_orth : int
        Directions each new one is made A-orthogonal to (the paper: 2).
    callback : callable, optional
        Called with ``x`` after every step.

    Returns
    -------
    SolveResult

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.solvers import PoissonGrid
    >>> from sketchla.solvers.dcdm import dcdm_solve
    >>> A = PoissonGrid((16, 16))
    >>> b = np.random.default_rng(0).standard_normal(A.shape[0])
    >>> dcdm_solve(A, b, model=lambda r: r, tol=1e-8).converged  # f = identity: CG
    True
    """
    b = v.check_vector(b, "b")
    xp = array_namespace(b)
    matvec, n = as_matvec(A, b.shape[0])
    if grid_shape is None:
        grid_shape = tuple(getattr(A, "grid_shape", (n,)))
    grid_shape = tuple(int(s) for s in grid_shape)
    if math.prod(grid_shape) != n:
        raise ValueError(f"grid_shape {grid_shape} has {math.prod(grid_shape)} cells, b has {n}")
    direction = _direction_map(model, grid_shape, xp)
    tol = _check_tol(tol)
    maxiter = n if maxiter is None else v.check_int(maxiter, "maxiter", minimum=0)
    n_orth = v.check_int(n_orth, "n_orth", minimum=0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if x0 is None:
        x, r = xp.zeros_like(b), b
    else:
        x = xp.astype(v.check_vector(x0, "x0", length=n, xp=xp), b.dtype, copy=True)
        r = b - matvec(x)
    dot = _dot(xp)
    b_norm = float(xp.linalg.vector_norm(b))
    norms = [float(xp.linalg.vector_norm(r))]
    previous: deque = deque(maxlen=max(n_orth, 1))  # (p, A p, p^T A p)
    iterations = 0
    while norms[-1] > tol * b_norm and iterations < maxiter:
        iterations += 1
        q = direction(r / norms[-1])
        if not bool(xp.all(xp.isfinite(q))):
            raise FloatingPointError(f"the model returned NaN or infinity at step {iterations}")
        if n_orth:
            for p, Ap, pAp in previous:
                q = q - (dot(q, Ap) / pAp) * p
        Aq = matvec(q)
        qAq = dot(q, Aq)
        if not qAq > 0:
            raise ValueError(
                f"A is not positive definite (or the model returned a zero direction): "
                f"q^T A q = {qAq:.3e} at step {iterations}"
            )
        alpha = dot(q, r) / qAq
        x = x + alpha * q
        r = r - alpha * Aq
        norms.append(float(xp.linalg.vector_norm(r)))
        if n_orth:
            previous.append((q, Aq, qAq))
        if callback is not None:
            callback(x)
    converged = norms[-1] <= tol * b_norm
    if not converged:
        warnings.warn(
            f"dcdm_solve stopped after maxiter={maxiter} steps at the relative residual "
            f"{norms[-1] / b_norm:.2e} above tol={tol:.1e}",
            ConvergenceWarning,
            stacklevel=2,
        )
    return SolveResult(x, iterations, np.asarray(norms), converged)


def _direction_map(model: Any, grid_shape: tuple[int, ...], xp: Any) -> Callable:
    """``r -> f(r)`` on flat vectors of ``xp`` (see ``model`` in :func:`dcdm_solve`)."""
    if _is_torch_module(model):
        import torch

        parameter = next(iter(model.parameters()), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        dtype = parameter.dtype if parameter is not None else torch.float32

        def apply(r: Any) -> Any:
            if isinstance(r, torch.Tensor):  # no host round trip
                inputs = r.to(dtype=dtype, device=device)
            else:
                inputs = torch.as_tensor(np.asarray(to_numpy(r)), dtype=dtype, device=device)
            with torch.no_grad():
                out = model(inputs.reshape((1, 1, *grid_shape))).reshape(-1)
            if isinstance(r, torch.Tensor):
                return out.to(dtype=r.dtype, device=r.device)
            return xp.asarray(out.to(torch.float64).cpu().numpy(), dtype=r.dtype, device=r.device)

        return apply
    if not callable(model):
        raise TypeError(f"model must be a callable or a torch.nn.Module, got {model!r}")

    def apply_callable(r: Any) -> Any:
        out = model(xp.reshape(r, grid_shape))
        if tuple(out.shape) != grid_shape:
            raise ValueError(f"the model returned shape {tuple(out.shape)}, expected {grid_shape}")
        return xp.reshape(out, (-1,))

    return apply_callable


def _is_torch_module(model: Any) -> bool:
    torch = sys.modules.get("torch")  # a torch module implies torch is imported
    return torch is not None and isinstance(model, torch.nn.Module)
