"""The Poisson matrix of a 2-D (5-point) or 3-D (7-point) grid with unit spacing: matrix-free on
every backend, or as a ``scipy.sparse`` matrix.

Row ``i`` of a fluid cell is ``(A x)_i = c_i x_i - sum_{j ~ i, j fluid} x_j``, where ``c_i``
counts the faces of cell ``i`` that carry flux: a face to a fluid neighbour, and a face on the
domain boundary when the boundary is ``"dirichlet"`` (the value outside is 0). Faces to solid
cells, and domain faces under ``"neumann"``, carry none (no flux). A solid cell's row is the
identity row (it decouples: ``x_i = b_i``, so put ``b_i = 0``). This is the pressure system of
a fluid simulation on an irregular domain (solid walls inside a box), the one DCDM targets. It
is symmetric; positive definite when every connected fluid region touches a Dirichlet face, and
singular (constants in its null space) for a fluid region enclosed by Neumann faces.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._array import array_namespace, backend_name, kernel

__all__ = ["BOUNDARIES", "PoissonGrid"]

BOUNDARIES = ("dirichlet", "neumann")


class PoissonGrid:
    """The Poisson matrix of a grid (see the module docstring), ``N x N`` for ``N`` cells.

    Parameters
    ----------
    grid_shape : tuple of 2 or 3 ints
        Cells per axis; vectors are the grid in C order.
    boundary : {"dirichlet", "neumann"}
        The domain faces: value 0 outside, or no flux.
    solid : bool array of ``grid_shape``, optional
        Solid cells (walls inside the domain).

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.solvers import PoissonGrid
    >>> A = PoissonGrid((3, 4))
    >>> x = np.arange(12.0)
    >>> bool(np.allclose(A.matvec(x), A.to_sparse() @ x))
    True
    """

    def __init__(self, grid_shape: Any, *, boundary: str = "dirichlet", solid: Any = None):
        grid_shape = tuple(int(s) for s in np.atleast_1d(grid_shape))
        if len(grid_shape) not in (2, 3) or min(grid_shape) < 1:
            raise ValueError(f"grid_shape must be 2 or 3 positive sizes, got {grid_shape}")
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
        if solid is None:
            solid = np.zeros(grid_shape, dtype=bool)
        else:
            solid = np.asarray(solid)
            if solid.dtype != bool or solid.shape != grid_shape:
                raise ValueError(
                    f"solid must be a bool array of shape {grid_shape}, got "
                    f"{solid.dtype} of shape {solid.shape}"
                )
        self.grid_shape = grid_shape
        self.boundary = boundary
        self.solid = solid.copy()
        self.fluid = ~self.solid
        n = math.prod(grid_shape)
        self.shape = (n, n)
        self.diagonal = _diagonal(self.fluid, boundary == "dirichlet")
        self._cache: dict[tuple, tuple[Any, Any]] = {}

    def __repr__(self) -> str:
        solid = int(self.solid.sum())
        return f"PoissonGrid({self.grid_shape}, boundary={self.boundary!r}, {solid} solid cells)"

    def matvec(self, x: Any) -> Any:
        """``A x`` for a vector (``(N,)``) or a grid (``grid_shape``) of any backend; the result
        has ``x``'s shape."""
        xp = array_namespace(x)
        diagonal, fluid = self._constants(xp, x)
        X = xp.reshape(x, self.grid_shape)
        Y = kernel("poisson_apply", xp)(X, diagonal, fluid, xp=xp)
        return xp.reshape(Y, tuple(x.shape))

    __call__ = matvec

    def to_sparse(self, dtype: Any = np.float64) -> sp.csr_array:
        """The same matrix as a ``scipy.sparse`` CSR array."""
        n = self.shape[0]
        index = np.arange(n).reshape(self.grid_shape)
        rows, cols = [np.arange(n)], [np.arange(n)]
        values = [self.diagonal.reshape(-1)]
        for axis in range(len(self.grid_shape)):
            lower = [slice(None)] * len(self.grid_shape)
            upper = [slice(None)] * len(self.grid_shape)
            lower[axis], upper[axis] = slice(None, -1), slice(1, None)
            i, j = index[tuple(lower)].reshape(-1), index[tuple(upper)].reshape(-1)
            both = (self.fluid[tuple(lower)] & self.fluid[tuple(upper)]).reshape(-1)
            i, j = i[both], j[both]
            rows += [i, j]
            cols += [j, i]
            values += [-np.ones(i.size), -np.ones(i.size)]
        A = sp.coo_array(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )
        return sp.csr_array(A, dtype=dtype)

    def _constants(self, xp: Any, x: Any) -> tuple[Any, Any]:
        key = (backend_name(xp), str(x.device), str(x.dtype))
        if key not in self._cache:
            self._cache[key] = (
                xp.asarray(self.diagonal, dtype=x.dtype, device=x.device),
                xp.asarray(self.fluid, dtype=x.dtype, device=x.device),
            )
        return self._cache[key]


def _diagonal(fluid: np.ndarray, dirichlet: bool) -> np.ndarray:
    """Faces carrying flux per fluid cell; 1 for solid cells (identity rows)."""
    padded = np.pad(fluid, 1, constant_values=dirichlet)  # outside: 'fluid' at value 0, or wall
    count = np.zeros(fluid.shape)
    inner = tuple(slice(1, -1) for _ in fluid.shape)
    for axis in range(fluid.ndim):
        for step in (-1, 1):
            window = list(inner)
            window[axis] = slice(1 + step, padded.shape[axis] - 1 + step)
            count += padded[tuple(window)]
    return np.where(fluid, count, 1.0)
