"""The result of :func:`~sketchla.completion.complete`: the factors and the iteration's history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._array.kernels import kernel
from .._array.namespace import array_namespace, to_numpy

__all__ = ["CompletionResult"]


@dataclass(frozen=True)
class CompletionResult:
    """A rank-``k`` completion ``M ≈ U @ V.T``.

    Attributes
    ----------
    U, V : arrays
        ``(m, k)`` and ``(n, k)`` in the caller's namespace and floating dtype, balanced: ``U =
        Q_U diag(sqrt(s))`` and ``V = Q_V diag(sqrt(s))`` for the SVD ``Q_U diag(s) Q_V^T`` of the
        estimate, so ``s`` (the estimate's singular values) is the squared column norms of ``U``.
    iterations : int
        Outer iterations taken (each a ``V`` half-step and a ``U`` half-step).
    train_rmse_history : tuple of float
        Root-mean-square error on the observed entries after initialisation and after each
        iteration (on all observations, also with sample splitting).
    converged : bool
        Whether the stopping rule held before ``maxiter``.
    method : str
        ``"robust_altmin"`` or ``"altmin"``.
    inner_iterations : tuple of float
        For ``"robust_altmin"``: the mean conjugate-gradient steps per sketched target in each
        half-step (``V`` then ``U``); empty for ``"altmin"``.
    """

    U: Any
    V: Any
    iterations: int
    train_rmse_history: tuple[float, ...]
    converged: bool
    method: str
    inner_iterations: tuple[float, ...] = ()

    @property
    def rank(self) -> int:
        return int(self.U.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.U.shape[0]), int(self.V.shape[0])

    def predict(self, rows: Any, cols: Any) -> Any:
        """The completed entries ``(U @ V.T)[rows, cols]``, without forming the product.

        Examples
        --------
        >>> import numpy as np
        >>> from sketchla.completion import complete
        >>> rng = np.random.default_rng(0)
        >>> M = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 50))
        >>> mask = rng.random(M.shape) < 0.5
        >>> result = complete(M, rank=3, mask=mask, seed=0)
        >>> bool(np.allclose(result.predict([0, 1], [2, 3]), M[[0, 1], [2, 3]]))
        True
        """
        xp = array_namespace(self.U)
        m, n = self.shape
        r = np.asarray(to_numpy(rows))
        c = np.asarray(to_numpy(cols))
        if r.shape != c.shape:
            raise ValueError(f"rows and cols must have one shape, got {r.shape} and {c.shape}")
        for name, x, bound in (("rows", r, m), ("cols", c, n)):
            if x.size and x.dtype.kind not in "iu":
                raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
            if x.size and (x.min() < -bound or x.max() >= bound):
                raise IndexError(
                    f"{name} must lie in [-{bound}, {bound}), got {x.min()}..{x.max()}"
                )
        r = np.where(r < 0, r + m, r).astype(np.int64).reshape(-1)
        c = np.where(c < 0, c + n, c).astype(np.int64).reshape(-1)
        U, V = to_numpy(self.U), to_numpy(self.V)
        values = kernel("entries_of_product", np)(U, V, r, c, xp=np).reshape(np.shape(rows))
        return xp.asarray(values.astype(U.dtype), device=getattr(self.U, "device", None))

    def to_dense(self) -> Any:
        """The completed matrix ``U @ V.T`` (``m x n``: mind the memory)."""
        xp = array_namespace(self.U)
        return self.U @ xp.matrix_transpose(self.V)
