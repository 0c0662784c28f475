"""The DCDM iteration (Kaneda et al., ICML 2023, Algorithm 1).

Each step maps the normalised residual to a direction, ``q = f(r / ||r||)``, makes it
A-orthogonal to the last ``n_orth`` directions, ``q <- q - sum_j (q^T A p_j / p_j^T A p_j) p_j``,
and moves along it: ``alpha = q^T r / q^T A q``, ``x += alpha q``, ``r -= alpha A q``. With ``f``
the identity the directions are CG's (``r_k`` is already A-orthogonal to every direction but the
last), so the iterates are CG's; with ``f = A^{-1}`` the first step solves the system. Rescaling
``f`` rescales ``q`` and ``1 / alpha`` together: the iterates do not change.

The safeguard (ours, on by default) adds the residual as a second direction of each step,
A-orthogonalised against ``q`` and the previous directions, so that a residual the network maps
to a useless direction still makes progress (see ``safeguard`` in :func:`dcdm_solve`).
"""

from __future__ import annotations

import copy
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
    model: Any = None,
    grid_shape: Any = None,
    x0: Any = None,
    tol: float = 1e-6,
    maxiter: int | None = None,
    n_orth: int = 2,
    safeguard: bool = True,
    device: Any = None,
    callback: Callable[[Any], None] | None = None,
) -> SolveResult:
    """Solve the symmetric positive definite ``A x = b`` by deep conjugate directions.

    Parameters
    ----------
    A : array, scipy.sparse matrix, LinearOperator, or an object with ``shape`` and ``matvec``
        ``(n, n)``, symmetric positive definite (e.g. :class:`~sketchla.solvers.PoissonGrid`).
    b : array
        ``(n,)``, any backend.
    model : str, torch.nn.Module or callable, optional
        The direction map ``f``. A name loads a packaged network (needs torch; see
        :func:`~sketchla.solvers.dcdm.load_model`: ``"poisson3d"`` (multilevel),
        ``"poisson3d-paper"`` and ``"poisson2d"`` (the paper's architecture)); the default is
        ``"poisson3d"`` or ``"poisson2d"``, by the grid's dimension. A torch module receives a
        ``(1, 1, *grid_shape)`` tensor of its own dtype (under ``torch.inference_mode``). A
        callable receives the normalised residual as an array of ``b``'s namespace shaped
        ``grid_shape`` and returns one of that shape.
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
        Steps whose directions each new one is made A-orthogonal to (the paper: 2).
    safeguard : bool
        Also step along the residual: each step minimises the error's A-norm over
        ``span{f(r), r}`` (both A-orthogonalised), at the cost of one more product with ``A``.
        A network can map some residuals to useless directions (measured: the packaged networks
        stall on the smoothest or the most oscillatory modes after a few steps); the residual
        direction removes exactly those. A direction whose A-orthogonalised remainder is below
        ``sqrt(eps)`` of its norm (``eps`` of the model's precision: a torch model's dtype, else
        ``b``'s) is rounding noise and is dropped: so ``f`` = identity is still CG, and a
        degenerate ``f(r)`` leaves the step to the residual. ``False`` is the paper's iteration
        (a degenerate ``f(r)`` is then an error).
    device : torch device, optional
        Where a torch network runs. Default: a packaged network runs on ``b``'s device (CPU
        for a non-torch ``b``); a module runs where its weights are (a copy is moved when
        ``device`` differs: the caller's module is left alone); a module without weights runs
        where ``b`` is, in ``b``'s precision. Not for a plain callable.
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
    >>> A = PoissonGrid((32, 32, 32))
    >>> b = np.random.default_rng(0).standard_normal(A.shape[0])
    >>> result = dcdm_solve(A, b, tol=1e-4)  # the packaged 3-D network
    >>> result.converged, result.iterations < 20
    (True, True)
    """
    b = v.check_vector(b, "b")
    xp = array_namespace(b)
    matvec, n = as_matvec(A, b.shape[0])
    if grid_shape is None:
        grid_shape = tuple(getattr(A, "grid_shape", (n,)))
    grid_shape = tuple(int(s) for s in grid_shape)
    if math.prod(grid_shape) != n:
        raise ValueError(f"grid_shape {grid_shape} has {math.prod(grid_shape)} cells, b has {n}")
    direction, model_eps = _direction_map(model, grid_shape, xp, b, device)
    tol = _check_tol(tol)
    maxiter = n if maxiter is None else v.check_int(maxiter, "maxiter", minimum=0)
    n_orth = v.check_int(n_orth, "n_orth", minimum=0)
    if not isinstance(safeguard, bool):
        raise TypeError(f"safeguard must be True or False, got {safeguard!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if x0 is None:
        x, r = xp.zeros_like(b), b
    else:
        x = xp.astype(v.check_vector(x0, "x0", length=n, xp=xp), b.dtype, copy=True)
        r = b - matvec(x)
    dot = _dot(xp)
    b_norm = float(xp.linalg.vector_norm(b))
    if b_norm == 0.0:  # A is positive definite: x = 0 exactly, whatever x0
        return SolveResult(xp.zeros_like(b), 0, np.asarray([0.0]), True)
    norms = [float(xp.linalg.vector_norm(r))]
    # Below this (relative) size a direction is rounding noise of the model's precision.
    negligible = math.sqrt(model_eps)
    previous: deque = deque(maxlen=max(n_orth, 1))  # per step: [(p, A p, p^T A p), ...]
    iterations = 0
    while norms[-1] > tol * b_norm and iterations < maxiter:
        iterations += 1
        unit = r / norms[-1]
        q = direction(unit)
        if not bool(xp.all(xp.isfinite(q))):
            raise FloatingPointError(f"the model returned NaN or infinity at step {iterations}")
        earlier = tuple(previous) if n_orth else ()
        step = _conjugate(q, earlier, matvec, dot, negligible, xp)
        if step is None and not safeguard:
            raise ValueError(
                f"the model's direction at step {iterations} is zero or lies in the span of the "
                "previous directions (safeguard=True would step along the residual instead)"
            )
        step = [] if step is None else [step]
        if safeguard:  # the residual too, A-orthogonal to the rest; skipped when it adds nothing
            guard = _conjugate(unit, (*earlier, step), matvec, dot, negligible, xp)
            if guard is not None:
                step.append(guard)
            elif not step:
                raise ValueError(
                    f"no direction left at step {iterations}: the residual lies in the span of "
                    "the previous directions (A is not symmetric?)"
                )
        for d, Ad, dAd in step:  # A-orthogonal directions: independent exact line searches
            alpha = dot(d, r) / dAd
            x = x + alpha * d
            r = r - alpha * Ad
        norms.append(float(xp.linalg.vector_norm(r)))
        if n_orth:
            previous.append(step)
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


def _conjugate(
    q: Any, earlier: Any, matvec: Callable, dot: Callable, negligible: float, xp: Any
) -> tuple | None:
    """``q`` made A-orthogonal to the directions of ``earlier`` (steps, each a list of
    ``(p, A p, p^T A p)``), with ``A q`` and ``q^T A q``; ``None`` when what is left is below
    ``negligible`` times ``q``'s norm (rounding noise, or ``q`` was zero)."""
    size = float(xp.linalg.vector_norm(q))
    for step in earlier:
        for p, Ap, pAp in step:
            q = q - (dot(q, Ap) / pAp) * p
    if not float(xp.linalg.vector_norm(q)) > negligible * size:
        return None
    Aq = matvec(q)
    qAq = dot(q, Aq)
    if not qAq > 0:
        raise ValueError(f"A is not positive definite: q^T A q = {qAq:.3e} for a direction q")
    return q, Aq, qAq


def _direction_map(model: Any, grid_shape: tuple[int, ...], xp: Any, b: Any, device: Any):
    """``r -> f(r)`` on flat vectors of ``xp`` (see ``model`` in :func:`dcdm_solve`)."""
    if model is None:
        if len(grid_shape) not in (2, 3):
            raise ValueError(
                f"the packaged networks need a 2-D or 3-D grid_shape, got {grid_shape}; "
                "pass grid_shape or a model"
            )
        model = f"poisson{len(grid_shape)}d"
    if isinstance(model, str):
        try:
            from .models import load_model
        except ImportError as error:
            raise ImportError(
                f"model={model!r} is a torch network: install sketchla[torch], or pass a "
                "callable model"
            ) from error

        if device is None and _is_torch_tensor(b):
            device = b.device
        model = load_model(model, device=device)
        device = None
    if _is_torch_module(model):
        import torch

        dim = getattr(model, "dim", None)
        if dim is not None and dim != len(grid_shape):
            raise ValueError(f"the model is a {dim}-D network, grid_shape {grid_shape} is not")
        tensor = next(iter(model.parameters()), None)
        if tensor is None:
            tensor = next(iter(model.buffers()), None)
        if tensor is None:  # no weights: run where b is, in its precision
            like = b if _is_torch_tensor(b) else torch.as_tensor(np.zeros(1, to_numpy(b[:1]).dtype))
            dtype = like.dtype if like.is_floating_point() else torch.float64
            device = torch.empty(0, device=like.device if device is None else device).device
        else:
            dtype = tensor.dtype
            if device is not None and torch.empty(0, device=device).device != tensor.device:
                model = copy.deepcopy(model).to(device)  # the caller's module stays where it is
            device = tensor.device if device is None else torch.empty(0, device=device).device

        def apply(r: Any) -> Any:
            if isinstance(r, torch.Tensor):  # no host round trip
                inputs = r.to(dtype=dtype, device=device)
            else:
                inputs = torch.as_tensor(np.asarray(to_numpy(r)), dtype=dtype, device=device)
            inputs = inputs.reshape((1, 1, *grid_shape))
            if inputs.ndim in (4, 5):  # the layout of a channels-last model (a no-op otherwise)
                layout = torch.channels_last if inputs.ndim == 4 else torch.channels_last_3d
                inputs = inputs.contiguous(memory_format=layout)
            with torch.inference_mode():
                out = model(inputs).reshape(-1)
            if isinstance(r, torch.Tensor):
                return out.to(dtype=r.dtype, device=r.device)
            return xp.asarray(out.to(torch.float64).cpu().numpy(), dtype=r.dtype, device=r.device)

        return apply, float(torch.finfo(dtype).eps)
    if not callable(model):
        raise TypeError(f"model must be a callable or a torch.nn.Module, got {model!r}")
    if device is not None:
        raise ValueError("device applies to torch models only; a callable runs where b is")

    def apply_callable(r: Any) -> Any:
        out = model(xp.reshape(r, grid_shape))
        if tuple(out.shape) != grid_shape:
            raise ValueError(f"the model returned shape {tuple(out.shape)}, expected {grid_shape}")
        return xp.reshape(out, (-1,))

    return apply_callable, float(np.finfo(to_numpy(b[:1]).dtype).eps)


def _is_torch_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _is_torch_module(model: Any) -> bool:
    torch = sys.modules.get("torch")  # a torch module implies torch is imported
    return torch is not None and isinstance(model, torch.nn.Module)
