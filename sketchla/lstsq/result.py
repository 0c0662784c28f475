"""The result of a least-squares solve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LstsqResult"]


@dataclass(frozen=True)
class LstsqResult:
    """What :func:`sketchla.lstsq.lstsq` and :func:`sketchla.lstsq.lstsq_linf` return.

    Attributes
    ----------
    x : array
        The solution, shape ``(d,)`` or ``(d, k)`` like ``b``, of ``b``'s namespace and device.
    residual_norm : float or array
        ``sqrt(||A x - b||^2 + damp^2 ||x||^2)`` at ``x`` (weights included), per right-hand
        side; computed exactly, not from the sketch.
    iterations : int
        Passes of the iterative refinement (0 for sketch-and-solve and direct solves).
    converged : bool
        Whether every right-hand side met the stopping rule (always true for sketch-and-solve
        and direct solves, which have none).
    method : str
        ``"sketch_and_solve"``, ``"sketch_and_precondition"``, ``"gram_precondition"`` or
        ``"direct"``: the method that produced ``x``.
    sketch_size : int
        Rows of the sketch (0 when none was used: direct solves and the Gram route).
    rank : int
        The numerical rank used (``d`` unless the sketch revealed rank deficiency).
    error_estimate : float or array
        Estimate of ``||x - x_opt|| / ||x||`` per right-hand side, from one preconditioned
        gradient step (within a factor ``1 +- eps`` of the truth for an ``eps``-embedding). For
        underdetermined problems, the same for the dual variable ``y`` of ``x = A^T y``; 0 for
        direct solves.
    condition_estimate : float
        Estimated condition number of ``A`` (with ``damp``: of ``[A; damp I]``), from the
        sketch or the Cholesky factor of the Gram matrix; exact (from the SVD, over the kept
        singular values) for direct solves.
    residual_norms : tuple of float
        The largest ``residual_norm`` over right-hand sides at the start and after each
        iteration, plus a re-evaluation of the best point when the iteration restarts with a
        larger assumed distortion (rare).
    """

    x: Any
    residual_norm: Any
    iterations: int
    converged: bool
    method: str
    sketch_size: int
    rank: int
    error_estimate: Any
    condition_estimate: float
    residual_norms: tuple[float, ...]
