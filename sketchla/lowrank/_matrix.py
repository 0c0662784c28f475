"""The matrix a low-rank routine sees: only products with ``A`` and ``A.T``.

:class:`Matrix` validates the public input once (a dense array of any backend, a ``scipy.sparse``
matrix, a ``scipy.sparse.linalg.LinearOperator``, or, for the routines that accept one, a tall
dask array) and offers ``A @ X``, ``A.T @ Y`` and the sketch ``A @ S.T`` on dense blocks of the
namespace the results live in (NumPy for sparse and operator input).

A dask ``A`` (``n x d``, ``n >= d``) is worked on in row blocks ``A_i`` where they live, through
passes that read each block once and return small results (see :mod:`sketchla._array.dask`):
:func:`normal_products` (``A^T A X``), :func:`transpose_products` (``A^T Q``),
:func:`kept_products` (``Y = A X`` kept in the workers' memory, with ``Y^T Y`` and ``A^T Y``),
and the blockwise orthonormalisations of a kept ``Y``
(:func:`cholesky_qr_rows`, :func:`direct_tsqr`), whose basis :class:`RowBasis` stays lazy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _validation as v
from .._array import array_namespace, device, namespace_for
from .._array.dask import is_dask_array, row_aligned, sum_over_row_blocks
from .._array.namespace import unit_roundoff
from ..sketch.factory import DENSE_KINDS, sketch_operator

__all__ = [
    "ONE_CHOLESKY_LIMIT",
    "Matrix",
    "RowBasis",
    "check_dask_matrix",
    "check_finite_result",
    "check_rank",
    "cholesky_qr_rows",
    "direct_tsqr",
    "gram_factor",
    "kept_products",
    "normal_products",
    "persist_row_blocks",
    "scaled_condition",
    "sum_of_parts",
    "transpose_products",
]


@dataclass(frozen=True)
class Matrix:
    """A validated matrix. ``kind`` is ``"dense"``, ``"sparse"``, ``"operator"`` or ``"dask"``
    (a tall dask array in row blocks, worked on by the passes below, not by the products);
    ``xp`` is the namespace of every block computed from it."""

    A: Any
    kind: str
    xp: Any

    @classmethod
    def from_input(cls, A: Any, name: str = "A", *, dask: bool = False) -> Matrix:
        """``A`` validated. With ``dask=True`` (the routines with a blockwise algorithm) a dask
        array is kind ``"dask"``: tall, in row blocks (see :func:`check_dask_matrix`), with
        NumPy results."""
        if dask and is_dask_array(A):
            return cls(check_dask_matrix(A, name), "dask", namespace_for("numpy"))
        if sp.issparse(A):
            if A.ndim != 2:
                raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
            if A.dtype.kind not in "fiub":
                raise TypeError(f"{name} must be real and numeric, got dtype {A.dtype}")
            A = A.tocsr() if A.dtype.kind == "f" else A.astype(np.float64).tocsr()
            if not np.all(np.isfinite(A.data)):
                raise ValueError(f"{name} must hold only finite values, got NaN or infinity")
            kind, xp = "sparse", namespace_for("numpy")
        elif isinstance(A, spla.LinearOperator):
            if np.dtype(A.dtype).kind == "c":
                raise TypeError(f"{name} must be real, got dtype {A.dtype}")
            kind, xp = "operator", namespace_for("numpy")
        else:
            A = v.check_matrix(A, name)
            kind, xp = "dense", array_namespace(A)
        if min(A.shape) == 0:
            raise ValueError(f"{name} must have at least one row and one column, got {A.shape}")
        return cls(A, kind, xp)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.A.shape)

    @property
    def dtype(self) -> Any:
        """The floating dtype of the results (of ``xp``)."""
        if self.kind == "dense":
            return self.A.dtype
        single = np.dtype(self.A.dtype) == np.float32
        return self.xp.float32 if single else self.xp.float64

    @property
    def device(self) -> Any:
        return device(self.A) if self.kind == "dense" else "cpu"

    def matmul(self, X: Any) -> Any:
        """``A @ X`` for a dense ``(n, k)`` block ``X``."""
        if self.kind == "operator":
            return self.xp.asarray(self.A.matmat(np.asarray(X)), dtype=self.dtype)
        if self.kind == "sparse":
            return self.xp.asarray(self.A @ X, dtype=self.dtype)
        return self.A @ X

    def rmatmul(self, Y: Any) -> Any:
        """``A.T @ Y`` for a dense ``(m, k)`` block ``Y``."""
        if self.kind == "operator":
            return self.xp.asarray(self.A.rmatmat(np.asarray(Y)), dtype=self.dtype)
        if self.kind == "sparse":
            return self.xp.asarray(self.A.T @ Y, dtype=self.dtype)
        return self.xp.matrix_transpose(self.A) @ Y

    def test_matrix(self, family: str, width: int, generator: Any) -> Any:
        """A ``width x n`` sketching operator ``S`` of ``family``: ``A @ S.T`` (see
        :meth:`times_sketch`) is the random sample of ``A``'s range."""
        return sketch_operator(family, width, self.shape[1], seed=generator)

    def test_block(self, S: Any) -> Any:
        """``S.T`` as a dense ``n x width`` array of ``xp``, ``A``'s device and the results'
        dtype."""
        return self.xp.matrix_transpose(
            S.to_dense(xp=self.xp, device=self.device, dtype=self.dtype)
        )

    def times_sketch(self, S: Any) -> Any:
        """``A @ S.T``. Dense families are formed (``width x n``, small) and multiplied in one
        product; the others are applied as operators."""
        if S.kind in DENSE_KINDS or self.kind == "operator":
            return self.matmul(self.test_block(S))
        return self.xp.asarray(S.apply(self.A, axis=1), dtype=self.dtype)


def check_rank(k: Any, shape: tuple[int, int], name: str = "k") -> int:
    """``k`` as an int in ``[1, min(shape)]``."""
    k = v.check_int(k, name, minimum=1)
    if k > min(shape):
        raise ValueError(f"{name} must be at most min(A.shape) = {min(shape)}, got {k}")
    return k


# -- dask arrays, in row blocks ----------------------------------------------------------------


def check_dask_matrix(A: Any, name: str = "A", *, tall: bool = True) -> Any:
    """A dask ``A`` checked without computing anything: 2-D, NumPy chunks, known chunk sizes, a
    real numeric dtype (integers and booleans become float64, float16 float32), at least one row
    and one column and, with ``tall``, at least as many rows as columns. Returned rechunked to one
    chunk across the columns (each row block whole, see
    :func:`~sketchla._array.dask.row_aligned`). Non-finite entries are found later, in the
    first pass's small results."""
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(A.shape)}")
    if any(np.isnan(c) for c in A.shape):
        raise ValueError(f"{name} must have known chunk sizes (call compute_chunk_sizes() first)")
    meta = getattr(A, "_meta", None)
    if meta is not None and type(meta) is not np.ndarray:
        raise TypeError(f"{name} must have NumPy chunks, got chunks of type {type(meta).__name__}")
    dtype = np.dtype(A.dtype)
    if dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise TypeError(
            f"{name} must be real: float32, float64, integer or bool, got dtype {dtype}"
        )
    if min(A.shape) == 0:
        raise ValueError(f"{name} must have at least one row and one column, got {tuple(A.shape)}")
    if tall and A.shape[0] < A.shape[1]:
        raise ValueError(
            f"a dask {name} must have at least as many rows as columns (tall, in row blocks), "
            f"got shape {tuple(A.shape)}: pass {name}.T (and swap the factors) or gather a "
            f"small {name} with {name}.compute()"
        )
    if dtype.kind != "f":
        A = A.astype(np.float64)
    elif dtype.itemsize < 4:
        A = A.astype(np.float32)
    return row_aligned(A)[0]


def normal_products(A: Any, X: np.ndarray, name: str = "A") -> np.ndarray:
    """``A^T A X = sum_i A_i^T (A_i X)`` (``d x l``) in one pass over a row-aligned dask
    ``A``: each block is read once, and only ``d x l`` results travel."""
    W = sum_over_row_blocks(_normal_block, (A,), (X,))
    check_finite_result(W, A, name)
    return W


def transpose_products(A: Any, Q: Any, name: str = "A") -> np.ndarray:
    """``A^T Q = sum_i A_i^T Q_i`` (``d x l``) in one pass over ``A`` and a dask ``Q`` with
    ``A``'s row chunks and one column chunk."""
    W = sum_over_row_blocks(_transpose_block, (A, Q))
    check_finite_result(W, A, name)
    return W


def kept_products(
    A: Any, X: np.ndarray, *, normal: bool, name: str = "A"
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """``(Y, Y^T Y, A^T Y)`` for ``Y = A X`` in one pass over ``A`` (``A^T Y`` only with
    ``normal``, else ``None``): ``Y`` (``n x l``, ``A``'s row chunks) stays in the workers'
    memory (persisted), the ``l x l`` and ``d x l`` sums come back."""
    d, width = X.shape
    shapes = [(width, width), (d, width)] if normal else [(width, width)]
    Y, parts = persist_row_blocks(_kept_block, A, (X, normal), width)
    totals = sum_of_parts(parts, shapes, Y.dtype)
    for total in totals:
        check_finite_result(total, A, name)
    return Y, totals[0], (totals[1] if normal else None)


def persist_row_blocks(
    function: Any, A: Any, shared: tuple[Any, ...], width: int
) -> tuple[Any, list[Any]]:
    """Apply ``function(A_i, *shared) -> (kept_i, *partials_i)`` to every row block of ``A``
    once, where the block lives. The ``kept_i`` (``n_i x width``, ``A``'s dtype) form a dask
    array held in the workers' memory; the per-block results come back as persisted delayed
    tuples, for :func:`sum_of_parts` or a gather."""
    import dask
    import dask.array as da

    task = dask.delayed(function, pure=True)
    shared = tuple(dask.delayed(s, pure=True) if isinstance(s, np.ndarray) else s for s in shared)
    parts = list(dask.persist(*[task(block, *shared) for block in A.to_delayed().ravel()]))
    kept = da.concatenate(
        [
            da.from_delayed(part[0], (rows, width), dtype=A.dtype)
            for part, rows in zip(parts, A.chunks[0], strict=True)
        ]
    )
    return kept, parts


def sum_of_parts(parts: list[Any], shapes: list[tuple[int, int]], dtype: Any) -> tuple:
    """The sums over the blocks of the partial results ``part[1:]`` of
    :func:`persist_row_blocks` (of the given shapes), in the fixed pairwise tree of
    :func:`~sketchla._array.dask.sum_over_row_blocks`: the same bits with any scheduler."""
    import dask.array as da

    stacks = tuple(
        da.concatenate([da.from_delayed(part[j + 1], shape, dtype=dtype) for part in parts])
        for j, shape in enumerate(shapes)
    )
    return sum_over_row_blocks(_as_tuple, stacks)


@dataclass(frozen=True)
class RowBasis:
    """A tall ``Q`` (``n x l``) with orthonormal columns, row block ``i`` equal to
    ``P_i @ factors[i]``: ``P`` a dask array held in the workers' memory, ``factors`` an
    ``(blocks, l, l)`` NumPy array (one entry: the same factor for every block)."""

    P: Any
    factors: np.ndarray

    def times(self, M: np.ndarray) -> Any:
        """``Q @ M`` for a small ``l x w`` ``M``, as a lazy dask array in ``P``'s row chunks:
        block ``i`` is ``P_i @ (factors[i] @ M)``."""
        scaled = np.matmul(self.factors, M)
        return self.P.map_blocks(
            _block_times,
            scaled,
            chunks=(self.P.chunks[0], (M.shape[1],)),
            dtype=self.P.dtype,
        )


def cholesky_qr_rows(Y: Any, G: np.ndarray, name: str = "A") -> tuple[RowBasis, Any] | None:
    """Cholesky QR twice of a kept ``Y`` whose Gram matrix ``G = Y^T Y`` is known, blockwise:
    ``R_1 = chol(G)``, ``Q_1 = Y R_1^-1`` (kept, with its Gram matrix, in one pass over ``Y``),
    ``R_2 = chol(Q_1^T Q_1)``, ``Q = Q_1 R_2^-1`` (lazy). Returns ``(basis, R_2 R_1)``, or
    ``None`` when a factor's column-scaled condition number passes ``0.1 / sqrt(u)`` (where
    the second Gram would not restore orthogonality). When ``R_1``'s is at most
    ``ONE_CHOLESKY_LIMIT``, ``Q_1`` is as orthogonal as ``Q`` would be (its Gram matrix differs
    from the identity by the Gram's rounding times that number squared), and the second step
    and its pass are skipped: ``(Y R_1^-1, R_1)``."""
    first = gram_factor(G)
    if first is None:
        return None
    first_inverse = np.linalg.inv(first)
    if scaled_condition(first, G) <= ONE_CHOLESKY_LIMIT:
        return RowBasis(Y, first_inverse[None]), first
    Q1, parts = persist_row_blocks(_times_and_gram, Y, (first_inverse,), Y.shape[1])
    (G2,) = sum_of_parts(parts, [G.shape], Y.dtype)
    check_finite_result(G2, None, name)
    second = gram_factor(G2)
    if second is None:
        return None
    return RowBasis(Q1, np.linalg.inv(second)[None]), second @ first


#: Largest column-scaled condition number of ``R_1`` for which Cholesky QR is done once.
ONE_CHOLESKY_LIMIT = 2.0


def gram_factor(G: np.ndarray) -> np.ndarray | None:
    """The upper Cholesky factor ``R`` of a Gram matrix ``G = Y^T Y``, or ``None`` when it
    fails or when ``R`` with its columns scaled to unit norm (the factor of ``Y``'s columns
    normalised, which rounding sees: the Gram's errors are relative to the columns' norms) has a
    condition number above ``0.1 / sqrt(u)``, the limit of
    :func:`~sketchla.lowrank.range_finder.cholesky_qr`."""
    try:
        R = np.linalg.cholesky(G).T
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(R)):
        return None
    if not scaled_condition(R, G) < 0.1 / math.sqrt(unit_roundoff(G.dtype)):
        return None
    return R


def scaled_condition(R: np.ndarray, G: np.ndarray) -> float:
    """The condition number of ``R`` with its columns scaled by ``sqrt(diag(G))`` (``inf`` for
    a singular one)."""
    values = np.linalg.svd(R / np.sqrt(np.diag(G)), compute_uv=False)
    return float(values[0] / values[-1]) if values[-1] > 0 else math.inf


def direct_tsqr(Y: Any) -> tuple[RowBasis, np.ndarray]:
    """``Y = Q R`` by direct TSQR (Benson, Gleich & Demmel 2013), for any conditioning: each
    block's Householder QR ``Y_i = Q_i R_i`` (``Q_i`` kept), one QR of the stacked ``R_i``
    (``[R_1; ...; R_b] = Q' R``, gathered in row order), ``Q`` block ``i`` is ``Q_i Q'_i``.
    ``R``'s diagonal is made non-negative (the sign convention of Cholesky QR)."""
    import dask

    width = Y.shape[1]
    P, parts = persist_row_blocks(_padded_qr, Y, (width,), width)
    stacked = np.concatenate(dask.compute(*[part[1] for part in parts]))
    outer, R = np.linalg.qr(stacked)
    signs = np.where(np.diag(R) < 0, -1, 1).astype(R.dtype)
    outer, R = outer * signs, R * signs[:, None]
    return RowBasis(P, outer.reshape(len(parts), width, width)), R


# Non-finite or huge entries of A make NaN and infinities in the blocks' results, refused once
# they are summed (check_finite_result): the kernels do not warn about them.
_QUIET = {"invalid": "ignore", "over": "ignore"}


def _normal_block(block: np.ndarray, X: np.ndarray) -> np.ndarray:
    with np.errstate(**_QUIET):
        return block.T @ (block @ X)


def _transpose_block(block: np.ndarray, Q: np.ndarray) -> np.ndarray:
    with np.errstate(**_QUIET):
        return block.T @ Q


def _kept_block(block: np.ndarray, X: np.ndarray, normal: bool) -> tuple[np.ndarray, ...]:
    with np.errstate(**_QUIET):
        Y = block @ X
        if normal:
            return Y, Y.T @ Y, block.T @ Y
        return Y, Y.T @ Y


def _times_and_gram(block: np.ndarray, factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Q = block @ factor
    return Q, Q.T @ Q


def _padded_qr(block: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``Q_i`` (``n_i x width``) and ``R_i`` (``width x width``) of a Householder QR, with zero
    columns and rows added when the block has fewer than ``width`` rows."""
    Q, R = np.linalg.qr(block)
    if Q.shape[1] < width:
        Q = np.concatenate([Q, np.zeros((Q.shape[0], width - Q.shape[1]), Q.dtype)], axis=1)
        R = np.concatenate([R, np.zeros((width - R.shape[0], width), R.dtype)])
    return Q, R


def _block_times(block: np.ndarray, factors: np.ndarray, block_info: Any = None) -> np.ndarray:
    index = block_info[0]["chunk-location"][0] if factors.shape[0] > 1 else 0
    return block @ factors[index]


def _as_tuple(*blocks: np.ndarray) -> tuple[np.ndarray, ...]:
    return blocks


def check_finite_result(X: np.ndarray, A: Any, name: str = "A") -> None:
    """Non-finite entries of ``A`` reach every sum over its blocks: refuse them there. A
    non-finite ``X`` from a finite ``A`` (checked then, in one more pass: only on this error
    path) means that products of its entries overflowed."""
    if np.all(np.isfinite(X)):
        return
    if A is not None:
        import dask.array as da

        if bool(da.isfinite(A).all().compute()):
            raise ValueError(
                f"{name} is too large for {np.dtype(A.dtype)}: sums of products of its entries "
                f"overflow; scale {name} down"
            )
    raise ValueError(f"{name} must hold only finite values, got NaN or infinity")
