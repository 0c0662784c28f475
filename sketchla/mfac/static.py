"""Inverse-Hessian-vector products with a fixed set of gradients (M-FAC's static algorithm:
Frantar, Kurtic & Alistarh, "M-FAC: Efficient matrix-free approximations of second-order
information", NeurIPS 2021, section 3).

The paper builds ``F^-1`` by ``m`` rank-one Sherman-Morrison steps, keeping vectors ``v_i`` with
``F^-1 x = x / lambda - sum_i (v_i^T x) v_i / den_i``. Here the same vectors come from one block
computation: with ``K = m lambda I + G G^T = L L^T`` (Cholesky), ``W = L^-1 G`` has orthogonal
directions ``W^T W = G^T K^-1 G``, so

    F^-1 x = (x - W^T (W x)) / lambda,      [F^-1]_jk = (delta_jk - W_:j . W_:k) / lambda.

(Row ``i`` of ``W`` is the paper's ``v_i`` rescaled by ``lambda / sqrt(den_i)``.) Building
``W`` is ``O(d m^2)`` in matrix products instead of ``m`` sequential passes; a product with
``F^-1`` is two passes over ``W``; the diagonal one; an entry ``O(m)``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .. import _validation as v
from .._array import array_namespace, backend_name, device
from . import _woodbury as wb

__all__ = ["OBSUpdate", "StaticIHVP"]


class OBSUpdate(NamedTuple):
    """The result of :meth:`StaticIHVP.obs_update`."""

    delta: Any
    loss_increase: float


class StaticIHVP:
    """Products with the inverse of ``F = damp I + G^T G / m`` for fixed gradients ``G``.

    Parameters
    ----------
    G : array, shape (m, d)
        The gradients, one per row, of any array library (NumPy, CuPy, Torch, JAX). Not kept:
        the model stores one ``m x d`` array of ``G``'s dtype in its place.
    damp : float
        ``lambda > 0``, the dampening.
    block_size : int, optional
        Columns of ``G`` handled at once (default ``2**16``). Bounds the float64 temporaries
        and, with ``device``, what is on the device at once.
    device : optional
        Torch only: the device that computes (e.g. ``"cuda"``) when ``G`` stays in host
        memory because it does not fit there. Each pass streams ``G``'s blocks to it; inputs
        and results live on it.

    Notes
    -----
    The ``m x m`` factorisation is in float64 and each block's products are summed in
    float64, so in float32 the errors are those of storing the result: about
    ``u kappa(F)`` relative, ``kappa(F) = 1 + ||G||_2^2 / (m damp)``, for ``ihvp`` and
    ``diag``. Costs: ``2 d m^2`` float64 flops to build, ``4 d m k`` per product with ``k``
    vectors, ``2 d m`` for the diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.mfac import StaticIHVP
    >>> G = np.random.default_rng(0).standard_normal((8, 100))
    >>> model = StaticIHVP(G, damp=0.1)
    >>> F = 0.1 * np.eye(100) + G.T @ G / 8
    >>> x = np.ones(100)
    >>> bool(np.allclose(F @ model.ihvp(x), x))
    True
    >>> bool(np.allclose(model.diag(), np.diag(np.linalg.inv(F))))
    True
    """

    def __init__(self, G: Any, damp: float, *, block_size: int | None = None, device: Any = None):
        G = v.check_matrix(wb.detached(G), "G")
        m, d = G.shape
        if m < 1 or d < 1:
            raise ValueError(f"G must have at least one row and one column, got shape {G.shape}")
        self.damp = wb.check_damp(damp)
        self.block_size = wb.check_block_size(block_size, d)
        xp = array_namespace(G)
        wb.check_float64(xp)
        if device is not None and not _is_torch(xp):
            raise TypeError("device= streams Torch tensors; move other arrays yourself")
        self.xp, self.dtype, self.shape = xp, G.dtype, (m, d)
        self.device = device
        L = wb.shifted_cholesky(wb.gram(G, self.block_size, device), m, self.damp)
        self._L = L  # kept for obs_update
        self._slices = wb.blocks(d, self.block_size)
        self._blocks = []  # W = L^-1 G, one array per column block
        diagonal = []  # diag(F^-1) from the float64 W: (1 - ||W_:q||^2) cancels by up to kappa
        for cols in self._slices:
            block = xp.astype(wb.to_device(G[:, cols], device), xp.float64)
            exact = wb.solve_lower(L, block)
            diagonal.append((1.0 - xp.sum(exact * exact, axis=0)) / self.damp)
            part = wb.contiguous(xp.astype(exact, G.dtype))
            self._blocks.append(_back(part, G) if device is not None else part)
        self._diag = diagonal[0] if len(diagonal) == 1 else xp.concat(diagonal)
        if device is not None:
            self._diag = self._diag.to(G.device)  # beside the blocks

    @property
    def m(self) -> int:
        """The number of gradients."""
        return self.shape[0]

    @property
    def d(self) -> int:
        """The dimension."""
        return self.shape[1]

    @property
    def _home(self) -> Any:
        """Where the stored blocks live."""
        return device(self._blocks[0])

    def __repr__(self) -> str:
        return f"StaticIHVP(m={self.m}, d={self.d}, damp={self.damp!r}, dtype={self.dtype})"

    def ihvp(self, x: Any) -> Any:
        """``F^-1 x`` for ``x`` of shape ``(d,)``, or each row of ``x`` of shape ``(k, d)``.

        The result has ``x``'s shape and the gradients' dtype.
        """
        X, vector = wb.check_gradient_rows(x, "x", self.d, self.xp, self.dtype)
        self._check_device(X)
        C = self.xp.astype(wb.products(self._blocks, self._slices, X, self.device), self.dtype)
        Y = wb.subtract_combination(X, C, self._blocks, self._slices, self.damp, self.device)
        return Y[0, :] if vector else Y

    def diag(self) -> Any:
        """The diagonal of ``F^-1``, shape ``(d,)``: computed once, in float64, when the model
        is built (from ``W`` before it is rounded to the gradients' dtype), so it stays
        positive and accurate to about ``u_64 kappa(F)`` even for float32 gradients."""
        return wb.to_device(self.xp.astype(self._diag, self.dtype), self.device)

    def entries(self, rows: Any, cols: Any) -> Any:
        """``[F^-1]_jk`` for index arrays ``rows`` (``j``) and ``cols`` (``k``) of one shape,
        ``O(m)`` each."""
        xp = self.xp
        j, k = self._check_index(rows, "rows"), self._check_index(cols, "cols")
        if j.shape != k.shape:
            raise ValueError(f"rows and cols must have one shape, got {j.shape} and {k.shape}")
        flat_j, flat_k = xp.reshape(j, (-1,)), xp.reshape(k, (-1,))
        Wj = wb.gather_columns(self._blocks, self.block_size, flat_j)
        Wk = wb.gather_columns(self._blocks, self.block_size, flat_k)
        off_diagonal = -xp.sum(Wj * Wk, axis=0) / self.damp
        values = xp.where(flat_j == flat_k, xp.take(self._diag, flat_j), off_diagonal)
        return wb.to_device(xp.reshape(xp.astype(values, self.dtype), j.shape), self.device)

    def obs_update(self, w: Any, index: Any, *, joint: bool = True) -> OBSUpdate:
        """The Optimal Brain Surgeon change ``delta`` of weights ``w`` (shape ``(d,)``) that
        zeroes the entries ``Q = index`` at least cost in the quadratic model:
        ``min delta^T F delta / 2`` subject to ``(w + delta)_Q = 0``, that is
        ``delta = -F^-1 E_Q c`` with ``c = ([F^-1]_QQ)^-1 w_Q``, at the cost
        ``w_Q^T c / 2``.

        ``[F^-1]_QQ = (I - W_Q^T W_Q) / lambda`` is ``|Q| x |Q|``, but its inverse is
        ``lambda (I + W_Q^T M^-1 W_Q)`` with the ``m x m`` matrix
        ``M = I - W_Q W_Q^T = W_R W_R^T + m lambda L^-1 L^-T`` (``R``: the other entries), a sum of
        two positive semidefinite terms, so ``M`` is formed without cancellation. Cost: one
        product with ``F^-1``, ``O(m^2 (d - |Q|) + m^3)`` for ``M``.

        Needs arrays written in place (NumPy, Torch, CuPy), and a model whose blocks live where
        it computes (not one built with ``device=``).

        With ``joint=False``, WoodFisher's independent approximation: each entry's own
        optimal change, summed, ``delta = -F^-1 E_Q (w_Q / diag(F^-1)_Q)``; ``(w + delta)_Q``
        is then not zero, and the caller zeroes it; the cost reported is the sum of the
        single-weight costs ``w_q^2 / (2 [F^-1]_qq)``, which ignores their interaction.

        Returns
        -------
        OBSUpdate
            ``delta`` (shape ``(d,)``, the model's dtype) and ``loss_increase`` (a float).
        """
        xp = self.xp
        if backend_name(xp) not in ("numpy", "torch", "cupy"):
            raise TypeError(
                f"obs_update writes arrays in place: it needs NumPy, Torch or CuPy gradients, "
                f"not {backend_name(xp)}"
            )
        if self.device is not None:
            raise NotImplementedError(
                "obs_update needs the gradients where the model computes: build the model "
                "without device= (move G to the device first)"
            )
        w, vector = wb.check_gradient_rows(w, "w", self.d, xp, self.dtype)
        if not vector:
            raise ValueError(f"w must have shape ({self.d},), got {tuple(w.shape)}")
        self._check_device(w)
        w = w[0, :]
        Q = xp.reshape(self._check_index(index, "index"), (-1,))
        if Q.shape[0] and int(xp.max(xp.unique_counts(Q).counts)) > 1:
            raise ValueError("index must not repeat an entry")
        w_Q = xp.astype(xp.take(w, Q), xp.float64)
        if joint:
            W_Q = wb.gather_columns(self._blocks, self.block_size, Q)
            keep = xp.ones(self.d, dtype=xp.bool, device=self._home)
            if Q.shape[0]:
                keep[Q] = False
            Linv = wb.solve_lower(self._L, xp.eye(self.m, dtype=xp.float64, device=device(self._L)))
            M = (self.m * self.damp) * (Linv @ xp.matrix_transpose(Linv))
            for block, cols in zip(self._blocks, self._slices, strict=True):
                W_R = xp.astype(block[:, keep[cols]], xp.float64)
                M = M + W_R @ xp.matrix_transpose(W_R)
            C = xp.linalg.cholesky(M)
            t = wb.solve_lower(C, wb.solve_lower(C, (W_Q @ w_Q)[:, None]), transpose=True)
            z = self.damp * (w_Q + (xp.matrix_transpose(W_Q) @ t)[:, 0])
        else:
            z = w_Q / xp.astype(self.entries(Q, Q), xp.float64)
        e = xp.zeros(self.d, dtype=xp.float64, device=self._home)
        if Q.shape[0]:
            e[Q] = z
        return OBSUpdate(-self.ihvp(xp.astype(e, self.dtype)), float(xp.sum(w_Q * z)) / 2)

    def _check_index(self, index: Any, name: str) -> Any:
        xp = self.xp
        try:
            index = xp.asarray(index, device=self._home)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be integer indices, got {index!r}") from exc
        if math.prod(index.shape) == 0:
            return xp.astype(index, xp.int64)  # an empty list arrives as float64
        if not xp.isdtype(index.dtype, "integral"):
            raise TypeError(f"{name} must be integer indices, got dtype {index.dtype}")
        low, high = int(xp.min(index)), int(xp.max(index))
        if low < 0 or high >= self.d:
            raise IndexError(f"{name} must lie in [0, {self.d}), got {low} .. {high}")
        return xp.astype(index, xp.int64)  # torch indexes with int32/int64 only

    def _check_device(self, X: Any) -> None:
        if self.device is None:
            if device(X) != self._home:
                raise ValueError(f"x is on {device(X)} but the model is on {self._home}")
            return
        import torch

        expected = torch.device(self.device)
        if X.device.type != expected.type or (
            expected.index is not None and X.device.index != expected.index
        ):
            raise ValueError(f"x is on {X.device} but the model computes on {expected}")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["xp"]  # a module: restored from the arrays
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.xp = array_namespace(self._blocks[0])


def _is_torch(xp: Any) -> bool:
    return backend_name(xp) == "torch"


def _back(block: Any, like: Any) -> Any:
    """A computed block back in ``like``'s memory (host, for a streamed model), page-locked
    when it is host memory so the next pass streams it asynchronously."""
    import torch

    block = block.to(like.device)
    if block.device.type == "cpu" and torch.cuda.is_available():
        block = block.pin_memory()
    return block
