"""A single-pass low-rank approximation of a matrix seen once, or as a stream of updates (Tropp,
Yurtsever, Udell & Cevher, "Streaming low-rank matrix approximation with an application to
scientific simulation", SISC 2019, Algorithms 2-4).

Three linear sketches of ``A`` (``m x n``) are kept: the range sketch ``Y = A Omega^T``
(``m x k``), the co-range sketch ``X = Upsilon A`` (``k x n``), and the core sketch
``Z = Phi A Psi^T`` (``s x s``), for test matrices ``Omega`` (``k x n``), ``Upsilon``
(``k x m``), ``Phi`` (``s x m``) and ``Psi`` (``s x n``). Being linear, they follow any update
``A <- theta A + eta H`` and any row block ``A[rows] += H`` without keeping ``A``. The
approximation is ``A ~ Q C P^T`` with ``Q = orth(Y)``, ``P = orth(X^T)`` and
``C = (Phi Q)^+ Z ((Psi P)^+)^T``, truncated to rank ``r`` by the SVD of ``C``. The paper's
sizes: ``k = 4 r + 1``, ``s = 2 k + 1``.
"""

from __future__ import annotations

from typing import Any

from .. import _validation as v
from .._array import device, namespace_for
from ..sketch.factory import sketch_operator
from .svd import SVDResult, _flip_signs

__all__ = ["StreamingSVD"]


class StreamingSVD:
    """Sketches of an ``m x n`` matrix, updated in one pass; :meth:`svd` reconstructs it.

    Parameters
    ----------
    shape : (int, int)
        ``(m, n)``.
    rank : int
        The rank ``r`` the approximation is sized for.
    range_size, core_size : int, optional
        ``k`` (default ``4 r + 1``, at most ``min(m, n)``) and ``s`` (default ``2 k + 1``, at
        most ``min(m, n)``).
    xp : namespace, optional
        Array namespace of the sketches (NumPy by default); ``dtype`` float64 by default.
    seed : None, int or sketchla.random.Generator

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lowrank import StreamingSVD
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 200))  # rank 5
    >>> stream = StreamingSVD(A.shape, 5, seed=0)
    >>> for lo in range(0, 300, 100):  # rows arrive in blocks and are not kept
    ...     stream.update_rows(lo, A[lo : lo + 100])
    >>> U, s, Vh = stream.svd()
    >>> bool(np.allclose((U * s) @ Vh, A))
    True
    """

    def __init__(
        self,
        shape: Any,
        rank: int,
        *,
        range_size: int | None = None,
        core_size: int | None = None,
        xp: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        m, n = v.check_shape(shape)
        smallest = min(m, n)
        self.rank = v.check_int(rank, "rank", minimum=1, maximum=smallest)
        k = min(4 * self.rank + 1, smallest) if range_size is None else range_size
        self.range_size = v.check_int(k, "range_size", minimum=self.rank, maximum=smallest)
        s = min(2 * self.range_size + 1, smallest) if core_size is None else core_size
        self.core_size = v.check_int(s, "core_size", minimum=self.range_size, maximum=smallest)
        self.xp = namespace_for(xp)
        self.dtype = v.check_dtype(dtype, self.xp)
        self.shape = (m, n)
        generator = v.check_seed(seed)
        sizes = {  # each test matrix: (its rows, the dimension it reduces)
            "Omega": (self.range_size, n),
            "Upsilon": (self.range_size, m),
            "Phi": (self.core_size, m),
            "Psi": (self.core_size, n),
        }
        self._tests = {
            name: _gaussian(rows, dim, g, self.xp, self.dtype)
            for (name, (rows, dim)), g in zip(sizes.items(), generator.spawn(4), strict=True)
        }
        zeros = self.xp.zeros
        self.Y = zeros((m, self.range_size), dtype=self.dtype)
        self.X = zeros((self.range_size, n), dtype=self.dtype)
        self.Z = zeros((self.core_size, self.core_size), dtype=self.dtype)

    def update(self, H: Any, *, theta: float = 1.0, eta: float = 1.0) -> None:
        """``A <- theta A + eta H`` for a dense ``m x n`` ``H`` (read once, not kept)."""
        H = self._check_block(H, self.shape, "H")
        xp, T = self.xp, self._tests
        self.Y = theta * self.Y + eta * (H @ xp.matrix_transpose(T["Omega"]))
        self.X = theta * self.X + eta * (T["Upsilon"] @ H)
        self.Z = theta * self.Z + eta * (T["Phi"] @ H @ xp.matrix_transpose(T["Psi"]))

    def update_rows(self, start: int, H: Any) -> None:
        """``A[start : start + len(H)] += H``: a block of rows, read once."""
        m, n = self.shape
        start = v.check_int(start, "start", minimum=0, maximum=m - 1)
        H = self._check_block(H, (None, n), "H")
        stop = start + H.shape[0]
        if stop > m:
            raise ValueError(f"rows {start}:{stop} of H exceed the {m} rows of the matrix")
        xp, T = self.xp, self._tests
        self.Y[start:stop, :] = self.Y[start:stop, :] + H @ xp.matrix_transpose(T["Omega"])
        self.X = self.X + T["Upsilon"][:, start:stop] @ H
        self.Z = self.Z + T["Phi"][:, start:stop] @ H @ xp.matrix_transpose(T["Psi"])

    def svd(self, rank: int | None = None) -> SVDResult:
        """The rank-``rank`` (default: the rank given at construction) approximation."""
        xp, T = self.xp, self._tests
        rank = self.rank if rank is None else v.check_int(rank, "rank", minimum=1)
        rank = min(rank, self.range_size)
        Q = xp.linalg.qr(self.Y)[0]
        P = xp.linalg.qr(xp.matrix_transpose(self.X))[0]
        # C = (Phi Q)^+ Z ((Psi P)^+)^T by two least-squares solves
        left = xp.linalg.pinv(T["Phi"] @ Q) @ self.Z
        C = xp.matrix_transpose(xp.linalg.pinv(T["Psi"] @ P) @ xp.matrix_transpose(left))
        U_C, s, Vh_C = xp.linalg.svd(C, full_matrices=False)
        U = Q @ U_C[:, :rank]
        Vh = Vh_C[:rank, :] @ xp.matrix_transpose(P)
        U, Vh = _flip_signs(U, Vh)
        return SVDResult(U, s[:rank], Vh)

    def _check_block(self, H: Any, shape: tuple, name: str) -> Any:
        H = v.check_matrix(H, name, xp=self.xp)
        if any(want is not None and got != want for got, want in zip(H.shape, shape, strict=True)):
            expected = tuple("any" if s is None else s for s in shape)
            raise ValueError(f"{name} must have shape {expected}, got {tuple(H.shape)}")
        if device(H) != device(self.Y):
            raise ValueError(f"{name} must be on the sketches' device {device(self.Y)}")
        return self.xp.astype(H, self.dtype) if H.dtype != self.dtype else H


def _gaussian(rows: int, columns: int, generator: Any, xp: Any, dtype: Any) -> Any:
    return sketch_operator("gaussian", rows, columns, seed=generator).to_dense(xp=xp, dtype=dtype)
