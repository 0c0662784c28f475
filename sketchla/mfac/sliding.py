"""Inverse-Hessian-vector products with the last ``m`` gradients of a stream (M-FAC's dynamic
algorithm: Frantar, Kurtic & Alistarh, NeurIPS 2021, section 4).

The window ``G`` (``m x d``) is a ring buffer and ``G G^T`` (``m x m``, float64) is kept beside
it. A new gradient replaces the oldest row of ``G`` and one row and column of ``G G^T`` (one pass
over ``G``); the Cholesky factor of ``K = m lambda I + G G^T`` is recomputed when the next product
needs it (``m^3 / 3`` flops, once however many updates came before); a product is
``F^-1 x = (x - G^T K^-1 G x) / lambda``: two passes over ``G`` and two ``m x m`` triangular
solves. The paper's version does the same with an LU factorisation of ``K`` and its own
``O(m^2)`` recurrences.
"""

from __future__ import annotations

from typing import Any

from .. import _validation as v
from .._array import backend_name, device, namespace_for
from . import _woodbury as wb

__all__ = ["SlidingWindowIHVP"]

#: Libraries whose arrays can be written in place (the ring buffer needs it).
_MUTABLE = ("numpy", "torch", "cupy", "array_api_strict")


class SlidingWindowIHVP:
    """Products with the inverse of ``F = damp I + G^T G / m`` for the last ``m`` gradients
    ``G`` of a stream.

    Until ``m`` gradients have arrived, the missing rows of ``G`` are zero (they change nothing
    but the ``1 / m``, which stays the window's size, as in the paper's optimizer).

    Parameters
    ----------
    m : int
        The window: how many of the latest gradients the model uses.
    d : int
        The dimension of a gradient.
    damp : float
        ``lambda > 0``, the dampening.
    xp : namespace or str, optional
        Array library of the window (NumPy by default; NumPy, Torch, CuPy).
    dtype : optional
        The window's dtype (the library's default float by default).
    device : optional
        Where the window lives and the products are computed.
    block_size : int, optional
        Columns handled at once in each pass (default ``2**16``).

    Notes
    -----
    Memory: ``m d`` entries of ``dtype`` and ``m^2`` float64. :meth:`update` costs one pass over
    the window (``2 d m`` flops), :meth:`ihvp` with ``k`` vectors ``4 d m k + 2 m^2 k`` flops
    plus ``m^3 / 3`` after an update, and :meth:`update_ihvp` saves one of its passes.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.mfac import SlidingWindowIHVP, StaticIHVP
    >>> rng = np.random.default_rng(0)
    >>> window = SlidingWindowIHVP(4, 50, damp=0.1)
    >>> grads = rng.standard_normal((10, 50))
    >>> for g in grads:
    ...     window.update(g)
    >>> x = rng.standard_normal(50)
    >>> bool(np.allclose(window.ihvp(x), StaticIHVP(grads[-4:], 0.1).ihvp(x)))
    True
    """

    def __init__(
        self,
        m: int,
        d: int,
        damp: float,
        *,
        xp: Any = None,
        dtype: Any = None,
        device: Any = None,
        block_size: int | None = None,
    ):
        m = v.check_int(m, "m", minimum=1)
        d = v.check_int(d, "d", minimum=1)
        self.damp = wb.check_damp(damp)
        self.block_size = wb.check_block_size(block_size, d)
        xp = namespace_for(xp)
        if backend_name(xp) not in _MUTABLE:
            raise TypeError(
                f"SlidingWindowIHVP writes its window in place: xp must be one of {_MUTABLE}, "
                f"got {backend_name(xp)}"
            )
        self.xp, self.dtype = xp, v.check_dtype(dtype, xp, device=device)
        self.shape = (m, d)
        self._slices = wb.blocks(d, self.block_size)
        # the window G, one contiguous m x b array per column block
        self._blocks = [
            xp.zeros((m, cols.stop - cols.start), dtype=self.dtype, device=device)
            for cols in self._slices
        ]
        self._gram = xp.zeros((m, m), dtype=xp.float64, device=device)
        self.position = 0  # the row the next gradient replaces
        self.count = 0  # gradients seen
        self._factor = None

    @property
    def m(self) -> int:
        """The window's size."""
        return self.shape[0]

    @property
    def d(self) -> int:
        """The dimension."""
        return self.shape[1]

    @property
    def device(self) -> Any:
        """Where the window lives."""
        return device(self._gram)

    def __repr__(self) -> str:
        return (
            f"SlidingWindowIHVP(m={self.m}, d={self.d}, damp={self.damp!r}, "
            f"dtype={self.dtype}, count={self.count})"
        )

    def update(self, g: Any) -> None:
        """Replace the oldest gradient of the window with ``g`` (shape ``(d,)``)."""
        self._insert(g)

    def ihvp(self, x: Any) -> Any:
        """``F^-1 x`` for ``x`` of shape ``(d,)``, or each row of ``x`` of shape ``(k, d)``."""
        X, vector = self._rows(x, "x")
        Y = self._solve(X, wb.products(self._blocks, self._slices, X))
        return Y[0, :] if vector else Y

    def update_ihvp(self, g: Any) -> Any:
        """:meth:`update` with ``g``, then ``F^-1 g`` with the new window: the pass that
        updates ``G G^T`` also gives ``G g``, so this is one pass cheaper than the two calls."""
        G_g, X = self._insert(g)
        return self._solve(X, G_g)[0, :]

    def window(self) -> Any:
        """The window's gradients, oldest first (``m x d``; rows not yet filled are zero)."""
        xp = self.xp
        order = [(self.position + i) % self.m for i in range(self.m)]
        index = xp.asarray(order, device=self.device)
        return xp.take(self._stored(), index, axis=0)

    def state_dict(self) -> dict[str, Any]:
        """The window (a copy, rows in storage order), its Gram matrix and position: what
        :meth:`load_state_dict` restores."""
        return {
            "gradients": self._stored(),
            "gram": self._gram,
            "position": self.position,
            "count": self.count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (copied into this window's arrays)."""
        xp = self.xp
        G, gram = state["gradients"], state["gram"]
        if tuple(G.shape) != self.shape or tuple(gram.shape) != (self.m, self.m):
            raise ValueError(
                f"state is for a window of shape {tuple(G.shape)}, this one is {self.shape}"
            )
        G = xp.asarray(G, dtype=self.dtype, device=self.device)
        for block, cols in zip(self._blocks, self._slices, strict=True):
            block[...] = G[:, cols]
        self._gram[...] = xp.asarray(gram, dtype=xp.float64, device=self.device)
        self.position, self.count = int(state["position"]), int(state["count"])
        self._factor = None

    # -- internals ------------------------------------------------------------------------------

    def _rows(self, x: Any, name: str) -> tuple[Any, bool]:
        X, vector = wb.check_gradient_rows(x, name, self.d, self.xp, self.dtype)
        if device(X) != self.device:
            raise ValueError(f"{name} is on {device(X)} but the window is on {self.device}")
        return X, vector

    def _insert(self, g: Any) -> tuple[Any, Any]:
        X, vector = self._rows(g, "g")
        if not vector:
            raise ValueError(f"g must have shape ({self.d},), got {tuple(g.shape)}")
        row = self.position
        for block, cols in zip(self._blocks, self._slices, strict=True):
            block[row, :] = X[0, cols]
        G_g = wb.products(self._blocks, self._slices, X)  # (1, m), float64
        self._gram[row, :] = G_g[0, :]
        self._gram[:, row] = G_g[0, :]
        self.position = (row + 1) % self.m
        self.count += 1
        self._factor = None
        return G_g, X

    def _solve(self, X: Any, G_X: Any) -> Any:
        """``(X - (K^-1 G X^T)^T G) / lambda`` given ``G_X = X G^T`` (float64)."""
        xp = self.xp
        if self._factor is None:
            self._factor = wb.shifted_cholesky(self._gram, self.m, self.damp)
        L = self._factor
        Z = wb.solve_lower(L, wb.solve_lower(L, xp.matrix_transpose(G_X)), transpose=True)
        C = xp.astype(xp.matrix_transpose(Z), self.dtype)
        return wb.subtract_combination(X, C, self._blocks, self._slices, self.damp)

    def _stored(self) -> Any:
        """The window's ``m x d`` array, rows in storage order (a new array)."""
        blocks = self._blocks
        return (
            self.xp.concat(blocks, axis=1)
            if len(blocks) > 1
            else self.xp.asarray(blocks[0], copy=True)
        )
