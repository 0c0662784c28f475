"""Randomized SVD: ``A ~ U diag(s) Vh`` of rank ``k`` (Halko, Martinsson & Tropp 2011, Algorithm
5.1), or of the smallest rank that meets a tolerance (blocked randQB with the error indicator of
Yu, Gu & Li, "Efficient randomized algorithms for the fixed-precision low-rank matrix
approximation", SIMAX 2018).

Fixed rank: ``Q = range_finder(A, k)``, ``B = Q^T A`` (``l x n``), the SVD ``B = U_B s Vh``, and
``U = Q U_B``, truncated to ``k``. Expected error (Gaussian test matrix, ``q = 0``, HMT Theorem
10.6): ``E ||A - U diag(s) Vh|| <= (1 + sqrt(k / (p - 1))) sigma_{k+1}
+ e sqrt(k + p) / p * sqrt(sum_{j>k} sigma_j**2)``.

Tall dask ``A``: the range finder's last pass (see :mod:`~sketchla.lowrank.range_finder`) also
sums ``W = A^T Y`` over the blocks, and ``B^T = A^T Q = W R^-1`` (``Y = Q R``) needs no further
pass over ``A``. Rounding in ``W`` reaches ``B`` amplified by
``phi = max_m sum_j ||y_j|| |(R^-1)_jm|`` (1 when ``Y``'s columns are orthogonal; the
in-memory ``A^T Q`` has ``phi = 1``); when ``phi`` passes ``_ONE_PASS_LIMIT`` (no power
iteration and an ill-conditioned ``Y``) or after a TSQR, ``B = Q^T A`` takes one more pass.
``U = Q U_B`` stays lazy; the sign convention needs each column's entry of largest magnitude,
found in one pass over the kept ``m x l`` block, not over ``A``, which computes ``U``'s blocks
once and keeps them for the result (``m x k`` in the workers' memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace
from .._array.dask import sum_over_row_blocks
from .._array.namespace import numpy_dtype, unit_roundoff
from ._matrix import Matrix, check_rank, persist_row_blocks, transpose_products
from .range_finder import _range, check_options, cholesky_qr, orthonormalize, tall_range

__all__ = ["SVDResult", "rsvd"]


@dataclass(frozen=True)
class SVDResult:
    """``A ~ U @ diag(s) @ Vh``: ``U`` (``m x k``) and ``Vh`` (``k x n``) with orthonormal
    columns and rows, ``s`` non-increasing and non-negative. Signs: the entry of largest
    magnitude in each column of ``U`` is positive."""

    U: Any
    s: Any
    Vh: Any

    def __iter__(self):  # U, s, Vh = rsvd(...)
        return iter((self.U, self.s, self.Vh))


def rsvd(
    A: Any,
    k: int | None = None,
    *,
    tol: float | None = None,
    oversampling: int = 10,
    power_iters: int = 2,
    normalizer: str = "cholqr",
    sketch: str = "gaussian",
    block_size: int | None = None,
    seed: Any = None,
) -> SVDResult:
    """Randomized truncated SVD, of rank ``k`` or to a relative Frobenius tolerance ``tol``.

    Parameters
    ----------
    A : array, scipy.sparse matrix, scipy.sparse.linalg.LinearOperator or dask array
        ``(m, n)``; only products with ``A`` and ``A.T`` are used. A dask array (NumPy chunks)
        must be tall (``m >= n``) and needs ``k`` (``tol`` is not supported for it); it is
        rechunked to whole rows and read in row blocks where they live, never gathered:
        ``power_iters + 2`` passes over ``A`` (1 or 2 without power iterations; see Notes).
    k : int, optional
        The rank. With ``tol``, the largest rank allowed (default ``min(m, n)``).
    tol : float, optional
        Find the rank: the smallest ``k`` (in steps of ``block_size``, then trimmed) with
        ``||A - U diag(s) Vh||_F <= tol * ||A||_F``, by blocked randQB with the error indicator
        ``||A||_F**2 - ||B||_F**2`` (Yu, Gu & Li 2018). At least one of ``k`` and ``tol``. The
        indicator resolves ``tol`` down to ``sqrt(100 u)`` (``u`` the unit roundoff: 1.1e-7 in
        float64, 2.4e-3 in float32); a smaller ``tol`` is an error.
    oversampling, power_iters, normalizer, sketch
        As for :func:`~sketchla.lowrank.range_finder` (a dask ``A`` does not use
        ``normalizer``).
    block_size : int, optional
        Columns added per step with ``tol`` (default ``max(8, min(m, n) // 64)``, at most 256).
    seed : None, int or sketchla.random.Generator

    Returns
    -------
    SVDResult
        Of ``A``'s namespace (NumPy for sparse or operator ``A``) and floating dtype. For a
        dask ``A``: ``U`` is a lazy dask array (``m x k``, ``A``'s row chunks; computing it
        reads only an ``m x l`` block kept in the workers' memory, not ``A``), ``s`` and ``Vh``
        are NumPy arrays. They equal the in-memory result for the same seed to rounding, for
        any chunking, and have the same bits with any scheduler.

    Notes
    -----
    Dask ``A`` (``m x n``, row blocks ``A_i``), passes: ``power_iters + 1`` for the power
    iterations (the first takes two, see :func:`~sketchla.lowrank.range_finder`); one pass
    keeping ``Y = A X`` (``m x l``) with ``Y^T Y`` and ``A^T Y``; Cholesky QR twice of ``Y`` (a
    pass over ``Y``; once, without it, when ``Y``'s columns are nearly orthogonal, as after power
    iterations on a slowly decaying spectrum), which gives ``B = (A^T Y R^-1)^T`` without
    reading ``A`` again; one pass over ``U = Q U_B`` (from ``Y``) for the signs, which keeps
    ``U``'s blocks. ``B = Q^T A`` takes a pass over ``A`` when the
    one-pass formula would be less accurate than the in-memory ``Q^T A`` (no power iteration on
    an ill-conditioned sample) and when ``Y`` is too ill-conditioned for Cholesky QR (then a
    direct TSQR orthonormalises it). Every sum over the blocks follows a fixed tree.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lowrank import rsvd
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((400, 10)) @ rng.standard_normal((10, 300))  # rank 10
    >>> U, s, Vh = rsvd(A, 10, seed=0)
    >>> bool(np.allclose(U @ np.diag(s) @ Vh, A))
    True
    >>> rsvd(A, tol=1e-6, seed=0).s.shape
    (10,)
    """
    matrix = Matrix.from_input(A, dask=True)
    if k is None and tol is None:
        raise TypeError("rsvd needs the rank k, a tolerance tol, or both")
    if k is not None:
        k = check_rank(k, matrix.shape)
    oversampling, power_iters, sketch, normalizer = check_options(
        oversampling, power_iters, sketch, normalizer
    )
    generator = v.check_seed(seed)
    if matrix.kind == "dask":
        if tol is not None:
            raise ValueError("tol is not supported for a dask A: pass the rank k (and tol=None)")
        return _tall_rsvd(matrix, k, oversampling, power_iters, sketch, generator)
    if tol is not None:
        tol = _check_tol(tol)
        dtype = numpy_dtype(matrix.dtype)
        resolution = math.sqrt(_ROUNDING * unit_roundoff(dtype))
        if tol < resolution:
            raise ValueError(
                f"tol must be at least {resolution:.1e} for {dtype} A: the error indicator "
                f"||A||_F^2 - ||B||_F^2 cannot resolve less, got {tol!r}"
                + (" (float64 A resolves 1.1e-07)" if dtype != np.float64 else "")
            )
        limit = k if k is not None else min(matrix.shape)
        block = _check_block(block_size, matrix.shape)
        total = _frobenius_squared(matrix)
        Q, B = _randqb(matrix, tol, total, limit, block, power_iters, normalizer, sketch, generator)
        return _svd_of_qb(Q, B, None, tol=tol, total=total)
    Q = _range(matrix, k + oversampling, power_iters, normalizer, sketch, generator)
    B = matrix.xp.matrix_transpose(matrix.rmatmul(Q))  # Q^T A
    return _svd_of_qb(Q, B, k)


#: Largest amplification ``phi`` of the rounding of ``A^T Y`` for which ``B = (A^T Y R^-1)^T``
#: stands in for the in-memory ``(A^T Q)^T``: at most this many times its rounding error.
_ONE_PASS_LIMIT = 16.0


def _tall_rsvd(matrix: Matrix, k: int, oversampling, power_iters, sketch, generator) -> SVDResult:
    """:func:`rsvd` of a tall dask ``A``, blockwise (see the module)."""
    import dask.array as da

    tall = tall_range(matrix, k + oversampling, power_iters, sketch, generator, normal=True)
    if tall.normal is not None and _amplification(tall.gram, tall.R) <= _ONE_PASS_LIMIT:
        B = (tall.normal @ np.linalg.inv(tall.R)).T  # (A^T Y R^-1)^T = (A^T Q)^T
    else:
        Q = tall.basis.times(np.eye(tall.R.shape[0], dtype=tall.R.dtype))
        B = transpose_products(matrix.A, Q).T
    U_B, s, Vh = _wide_svd(B)
    # U's blocks, computed once for the signs, stay in the workers' memory for the result
    U, parts = persist_row_blocks(_with_largest_entries, tall.basis.times(U_B[:, :k]), (), k)
    stacked = da.concatenate([da.from_delayed(part[1], (1, k), dtype=U.dtype) for part in parts])
    picked = sum_over_row_blocks(_first_row, (stacked,), add=_larger_in_magnitude)
    signs = (1 - 2 * (picked < 0)).astype(U.dtype)
    U = U.map_blocks(np.multiply, signs, dtype=U.dtype)
    return SVDResult(U, s[:k], Vh[:k, :] * signs[:, None])


def _amplification(gram: np.ndarray, R: np.ndarray) -> float:
    """``phi = max_m sum_j ||y_j|| |(R^-1)_jm|``: a bound on the rounding error of the columns
    of ``A^T Y R^-1``, in units of that of ``A^T Q`` (``Y = Q R``, ``||y_j||**2 = gram_jj``)."""
    norms = np.sqrt(np.diag(gram).astype(np.float64))
    return float(np.max(norms @ np.abs(np.linalg.inv(R.astype(np.float64)))))


def _with_largest_entries(U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``U`` and, as a ``1 x k`` row, each column's entry of largest magnitude (the first, on
    ties)."""
    rows = np.argmax(np.abs(U), axis=0)
    return U, U[rows, np.arange(U.shape[1])][None, :]


def _first_row(picked: np.ndarray) -> np.ndarray:
    return picked[0]


def _larger_in_magnitude(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Entrywise, the one of larger magnitude (``first`` on ties: it comes from earlier rows)."""
    return np.where(np.abs(second) > np.abs(first), second, first)


def _svd_of_qb(Q: Any, B: Any, k: int | None, *, tol: float = 0.0, total: float = 0.0):
    """The SVD of ``Q B`` from that of the small ``B``, truncated to ``k`` (or, with ``tol``,
    to the fewest singular values whose tail stays within ``tol**2 * total``)."""
    xp = array_namespace(B)
    U_B, s, Vh = _wide_svd(B)
    if k is None:  # tail sum of squares, including what B missed: total - ||B||_F^2
        squares = xp.astype(s, xp.float64) ** 2
        captured = float(xp.sum(squares))
        tails = [float(value) for value in xp.cumulative_sum(xp.flip(squares))][::-1]
        missed = total - captured  # below the rounding of the difference, nothing was missed
        missed = missed if missed > _ROUNDING * unit_roundoff(B.dtype) * total else 0.0
        k = 1
        while k < s.shape[0] and tails[k] + missed > tol**2 * total:
            k += 1
    U = Q @ U_B[:, :k]
    U, Vh = _flip_signs(U, Vh[:k, :])
    return SVDResult(U, s[:k], Vh)


def _wide_svd(B: Any) -> tuple[Any, Any, Any]:
    """The thin SVD of a wide ``B`` (``l x n``, ``l <= n``) from a QR of ``B^T``: ``B^T = Q R``,
    ``R = U_R s V_R^T``, so ``B = V_R s (Q U_R)^T``. The QR is a Cholesky QR when ``B`` is well
    enough conditioned for it (see :func:`~sketchla.lowrank.range_finder.cholesky_qr`), and
    then this is several times faster than LAPACK's SVD of ``B`` itself."""
    xp = array_namespace(B)
    if B.shape[0] > B.shape[1]:
        return xp.linalg.svd(B, full_matrices=False)
    Q, R = cholesky_qr(xp.matrix_transpose(B))
    U_R, s, V_Rt = xp.linalg.svd(R)
    return xp.matrix_transpose(V_Rt), s, xp.matrix_transpose(Q @ U_R)


def _flip_signs(U: Any, Vh: Any) -> tuple[Any, Any]:
    """Make the entry of largest magnitude of each column of ``U`` positive (scikit-learn's
    ``svd_flip``): a sign convention independent of the LAPACK in use."""
    xp = array_namespace(U)
    rows = xp.argmax(xp.abs(U), axis=0)
    picked = xp.take_along_axis(U, xp.reshape(rows, (1, -1)), axis=0)[0, :]
    signs = 1 - 2 * xp.astype(picked < 0, U.dtype)
    return U * signs, Vh * xp.reshape(signs, (-1, 1))


# -- fixed precision --------------------------------------------------------------------------


def _randqb(matrix: Matrix, tol, total, limit, block, power_iters, normalizer, sketch, generator):
    """Blocked randQB_EI (Yu, Gu & Li 2018, Algorithm 2): ``Q`` grows by ``block`` orthonormal
    columns at a time, each found in the range of ``A - Q B`` (with ``power_iters`` subspace
    iterations on it) and re-orthogonalised against ``Q``; ``B = Q^T A`` grows by the new rows.
    ``||A - Q B||_F**2 = ||A||_F**2 - ||B||_F**2`` (exact for orthonormal ``Q``) is the
    indicator (``total = ||A||_F**2``): stop below ``tol**2 ||A||_F**2``."""
    xp = matrix.xp
    target = tol**2 * total
    m, n = matrix.shape
    Q = xp.zeros((m, 0), dtype=matrix.dtype, device=matrix.device)
    B = xp.zeros((0, n), dtype=matrix.dtype, device=matrix.device)
    remaining = total
    floor = _ROUNDING * unit_roundoff(B.dtype) * total  # what ||A||_F^2 - ||B||_F^2 resolves
    while Q.shape[1] < limit and remaining > max(target, floor):
        width = min(block, limit - Q.shape[1])
        S = matrix.test_matrix(sketch, width, generator)
        Y = matrix.times_sketch(S) - Q @ xp.asarray(S.apply(B, axis=1))  # (A - Q B) S^T
        for _ in range(power_iters):
            Z = _residual_rmatmul(matrix, Q, B, orthonormalize(Y, normalizer))
            Y = _residual_matmul(matrix, Q, B, orthonormalize(Z, normalizer))
        Q_i = orthonormalize(Y, "qr")
        Q_i = orthonormalize(Q_i - Q @ (xp.matrix_transpose(Q) @ Q_i), "qr")  # twice is enough
        B_i = xp.matrix_transpose(matrix.rmatmul(Q_i))
        Q, B = xp.concat([Q, Q_i], axis=1), xp.concat([B, B_i], axis=0)
        remaining -= _frobenius_squared_of(B_i)
    return Q, B


#: The indicator ``||A||_F**2 - ||B||_F**2`` is a difference of sums accurate to some units of
#: roundoff of ``||A||_F**2`` (``B`` is rounded to the dtype): below ``_ROUNDING * u ||A||_F**2``
#: it is taken as zero, and ``tol`` must be at least ``sqrt(_ROUNDING * u)``.
_ROUNDING = 100


def _residual_matmul(matrix: Matrix, Q: Any, B: Any, X: Any) -> Any:
    """``(A - Q B) X``."""
    return matrix.matmul(X) - Q @ (B @ X)


def _residual_rmatmul(matrix: Matrix, Q: Any, B: Any, Y: Any) -> Any:
    """``(A - Q B)^T Y``."""
    xp = matrix.xp
    return matrix.rmatmul(Y) - xp.matrix_transpose(B) @ (xp.matrix_transpose(Q) @ Y)


def _frobenius_squared_of(X: Any) -> float:
    """``||X||_F**2`` accumulated in float64."""
    xp = array_namespace(X)
    wide = xp.astype(X, xp.float64) if numpy_dtype(X.dtype) != np.float64 else X
    return float(xp.sum(wide * wide))


def _frobenius_squared(matrix: Matrix) -> float:
    """``||A||_F**2``: from the entries for dense and sparse ``A``; for an operator, from its
    products with the identity's columns, a block at a time."""
    xp = matrix.xp
    if matrix.kind == "dense":
        return _frobenius_squared_of(matrix.A)
    if matrix.kind == "sparse":
        return float((matrix.A.data.astype(np.float64) ** 2).sum())
    n, total, block = matrix.shape[1], 0.0, 256
    for lo in range(0, n, block):
        E = xp.zeros((n, min(block, n - lo)), dtype=matrix.dtype)
        E[lo : lo + E.shape[1], :] = xp.eye(E.shape[1], dtype=matrix.dtype)
        columns = matrix.matmul(E)
        total += float(xp.sum(columns * columns))
    return total


def _check_tol(tol: Any) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float)):
        raise TypeError(f"tol must be a number in (0, 1), got {tol!r}")
    if not 0 < tol < 1:  # (NaN and infinities fail it too)
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    return float(tol)


def _check_block(block_size: Any, shape: tuple[int, int]) -> int:
    if block_size is None:
        return min(256, max(8, min(shape) // 64))
    return v.check_int(block_size, "block_size", minimum=1)
