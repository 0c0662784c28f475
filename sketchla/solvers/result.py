"""The result every iterative linear solver of :mod:`sketchla.solvers` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SolveResult"]


@dataclass(frozen=True)
class SolveResult:
    """``x`` (the caller's namespace and device), the ``iterations`` run, ``residual_norms``
    (NumPy float64: ``||b - A x_k||`` for ``k = 0, ..., iterations``, as the recurrence carries
    it) and whether ``||b - A x|| <= tol ||b||`` was reached (``converged``)."""

    x: Any
    iterations: int
    residual_norms: np.ndarray
    converged: bool
