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

    Accuracy: the new row of ``G G^T`` comes from products in the window's dtype, summed in
    float64 over blocks of ``block_size`` columns (converting the window to float64 at every
    update would cost 4-8x the pass). In float32 its entries carry a relative error of about
    ``u sqrt(block_size)`` at worst, so products are off by up to about ``10 u kappa(F)``
    against ``u kappa(F)`` for :class:`StaticIHVP`, which forms ``G G^T`` from float64 copies.
    A float64 window (``dtype``) or a smaller ``block_size`` tightens it.

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
        wb.check_float64(xp)
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
        saved = self._save_row()
        G_g, X = self._insert(g)
        try:
            return self._solve(X, G_g)[0, :]
        except ValueError:
            self._restore_row(saved)  # damp too small: leave the window as it was
            raise

    def window(self) -> Any:
        """The window's gradients, oldest first (``m x d``; rows not yet filled are zero)."""
        xp = self.xp
        order = [(self.position + i) % self.m for i in range(self.m)]
        index = xp.asarray(order, device=self.device)
        return xp.take(self._stored(), index, axis=0)

    def state_dict(self) -> dict[str, Any]:
        """Copies of the window (rows in storage order) and of its Gram matrix, and the
        position: what :meth:`load_state_dict` restores."""
        return {
            "gradients": self._stored(),
            "gram": self.xp.asarray(self._gram, copy=True),
            "position": self.position,
            "count": self.count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (copied into this window's arrays), after checking all
        of it: on a :class:`ValueError` the window is unchanged."""
        G, gram, position, count = self.check_state(state)
        for block, cols in zip(self._blocks, self._slices, strict=True):
            block[...] = G[:, cols]
        self._gram[...] = gram
        self.position, self.count = position, count
        self._factor = None

    def check_state(self, state: dict[str, Any]) -> tuple[Any, Any, int, int]:
        """``state``'s gradients, Gram matrix (converted to this window's library, dtype and
        device), position and count, or a :class:`ValueError` saying what does not fit."""
        xp = self.xp
        missing = {"gradients", "gram", "position", "count"} - set(state)
        if missing:
            raise ValueError(f"state is missing {sorted(missing)}")
        G = xp.asarray(state["gradients"], dtype=self.dtype, device=self.device)
        gram = xp.asarray(state["gram"], dtype=xp.float64, device=self.device)
        if tuple(G.shape) != self.shape:
            raise ValueError(f"state holds gradients of shape {tuple(G.shape)}, not {self.shape}")
        if tuple(gram.shape) != (self.m, self.m):
            raise ValueError(
                f"state holds a Gram matrix of shape {tuple(gram.shape)}, not {(self.m, self.m)}"
            )
        v.check_finite(G, "state['gradients']")
        v.check_finite(gram, "state['gram']")
        position, count = int(state["position"]), int(state["count"])
        if not (0 <= position < self.m and count >= 0):
            raise ValueError(
                f"state's position must lie in [0, {self.m}) and its count be >= 0, got "
                f"{position} and {count}"
            )
        return G, gram, position, count

    # -- internals ------------------------------------------------------------------------------

    def _rows(self, x: Any, name: str) -> tuple[Any, bool]:
        X, vector = wb.check_gradient_rows(x, name, self.d, self.xp, self.dtype)
        if device(X) != self.device:
            raise ValueError(f"{name} is on {device(X)} but the window is on {self.device}")
        return X, vector

    def _insert(self, g: Any) -> tuple[Any, Any]:
        X, vector = self._rows(g, "g")
        if not vector:
            raise ValueError(f"g must have shape ({self.d},), got {tuple(X.shape)}")
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

    def _save_row(self) -> tuple[Any, ...]:
        """What :meth:`_insert` overwrites: the next row of the window and of the Gram matrix
        (``O(d)``, beside the ``O(d m)`` pass)."""
        xp, row = self.xp, self.position
        rows = [xp.asarray(block[row, :], copy=True) for block in self._blocks]
        return row, rows, xp.asarray(self._gram[row, :], copy=True), self.count

    def _restore_row(self, saved: tuple[Any, ...]) -> None:
        row, rows, gram_row, count = saved
        for block, values in zip(self._blocks, rows, strict=True):
            block[row, :] = values
        self._gram[row, :] = gram_row
        self._gram[:, row] = gram_row
        self.position, self.count, self._factor = row, count, None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["xp"]  # a module: restored from the arrays
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        from .._array import array_namespace

        self.__dict__.update(state)
        self.xp = array_namespace(self._gram)

    def _stored(self) -> Any:
        """The window's ``m x d`` array, rows in storage order (a new array)."""
        blocks = self._blocks
        return (
            self.xp.concat(blocks, axis=1)
            if len(blocks) > 1
            else self.xp.asarray(blocks[0], copy=True)
        )
