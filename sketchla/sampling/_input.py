"""Validation shared by the sampling routines: the matrix (dense of any backend,
``scipy.sparse``, or, for the routines that accept one, a dask array) and the exponent ``p``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._array.dask import is_dask_array
from ..lowrank._matrix import check_dask_matrix

__all__ = ["check_exponent", "check_input_matrix", "row_norms_squared"]


def check_input_matrix(A: Any, name: str = "A", *, dask: bool = False) -> Any:
    """``A`` as a 2-D real floating dense array of its namespace, or a float CSR matrix. With
    ``dask=True`` (the routines with a blockwise algorithm), a dask array is checked without
    computing anything and returned rechunked to whole rows (tall or wide; see
    :func:`~sketchla.lowrank._matrix.check_dask_matrix`)."""
    if dask and is_dask_array(A):
        return check_dask_matrix(A, name, tall=False)
    if sp.issparse(A):
        if A.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
        if A.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be real and numeric, got dtype {A.dtype}")
        A = sp.csr_array(A if A.dtype.kind == "f" else A.astype(np.float64))
        if not np.all(np.isfinite(A.data)):
            raise ValueError(f"{name} must hold only finite values, got NaN or infinity")
    else:
        A = v.check_matrix(A, name)
    if min(A.shape) == 0:
        raise ValueError(f"{name} must have at least one row and one column, got {A.shape}")
    return A


def check_exponent(p: Any, *, name: str = "p", maximum: float = math.inf) -> float:
    """``p`` as a float in ``[1, maximum]`` (``inf`` is never accepted)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number >= 1, got {p!r}")
    p = float(p)
    if math.isinf(p) and p > 0:
        raise ValueError(f"{name} = inf is not supported here; use a finite p >= 1")
    if not 1 <= p <= maximum:  # (NaN fails it too)
        bound = "" if math.isinf(maximum) else f" and <= {maximum:g}"
        raise ValueError(f"{name} must be >= 1{bound}, got {p!r}")
    return p


def row_norms_squared(B: Any, xp: Any) -> Any:
    """``||B[i, :]||**2`` for every row."""
    return xp.sum(B * B, axis=1)
