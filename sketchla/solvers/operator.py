"""What a solver multiplies by: ``A`` as a function ``x -> A x`` on vectors of one namespace.

Accepted: a dense 2-D array of any backend, a ``scipy.sparse`` matrix or
``scipy.sparse.linalg.LinearOperator`` (NumPy vectors), or any object with a ``shape`` and a
``matvec`` method (a matrix-free operator such as :class:`~sketchla.solvers.PoissonGrid`, whose
``matvec`` works on the vectors of every backend).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _validation as v
from .._array import array_namespace, to_numpy

__all__ = ["as_matvec"]


def as_matvec(A: Any, n: int | None = None, name: str = "A") -> tuple[Callable, int]:
    """``(matvec, n)`` for a square ``A`` (``n x n``)."""
    if sp.issparse(A) or isinstance(A, spla.LinearOperator):
        shape = A.shape
        matvec = _host_matvec(A)
    elif hasattr(A, "matvec") and hasattr(A, "shape"):
        shape = tuple(A.shape)
        matvec = A.matvec
    else:
        A = v.check_matrix(A, name)
        shape = tuple(A.shape)

        def matvec(x: Any) -> Any:
            return A @ x

    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name} must be square, got shape {shape}")
    if n is not None and shape[0] != n:
        raise ValueError(f"{name} must be {n} x {n} to match b, got shape {shape}")
    return matvec, int(shape[0])


def _host_matvec(A: Any) -> Callable:
    """A SciPy matrix or operator applied to a vector of any namespace (through the host)."""

    def matvec(x: Any) -> Any:
        xp = array_namespace(x)
        y = A @ np.asarray(to_numpy(x)) if sp.issparse(A) else A.matvec(to_numpy(x))
        return xp.asarray(np.asarray(y).reshape(-1), dtype=x.dtype, device=x.device)

    return matvec
