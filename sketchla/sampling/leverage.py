"""Statistical leverage scores, exact and by sketching, and ridge leverage scores.

The leverage score of row ``i`` of ``A`` (``n x d``) is ``tau_i = a_i^T (A^T A)^+ a_i``, the
squared norm of row ``i`` of any orthonormal basis ``U`` of ``A``'s column space; ``sum tau_i =
rank(A)``. The ridge scores are ``tau_i(lam) = a_i^T (A^T A + lam I)^{-1} a_i``, the leverage
of the first ``n`` rows of ``[A; sqrt(lam) I]``; they sum to the effective dimension
``sum sigma_j**2 / (sigma_j**2 + lam)``.

Exact: a Householder QR ``A = Q R`` (``tau_i = ||Q[i]||**2``), with the SVD of ``R`` deciding
the rank. Sketched (Drineas, Magdon-Ismail, Mahoney & Woodruff, "Fast approximation of matrix
coherence and statistical leverage", JMLR 2012, Algorithm 1): ``R`` from a QR of a sketch
``S A`` (an ``(1 +- delta)`` subspace embedding), so that ``A R^{-1}`` is nearly orthonormal, and
its row norms through a Johnson-Lindenstrauss projection: ``tau_i ~ ||a_i^T R^{-1} G||**2`` with
``G`` a ``d x k`` Gaussian scaled by ``1 / sqrt(k)``. Cost ``O(nnz(A) + n d k)`` instead of
``O(n d**2)``.

Dask ``A`` (row blocks ``A_i``, never gathered): both routes need a small factor ``R`` and then
the row norms of ``A P`` for a small ``P``, which is a map over the row blocks: the scores are
returned lazily. Sketched: ``S A`` (``m x d``) is computed block by block (one pass; it equals
the in-memory sketch to rounding) and brought local. Exact: ``R`` by Cholesky QR of the Gram
matrix ``A^T A = sum_i A_i^T A_i`` (one pass, at the speed of a matrix product), done twice
(a second pass, for the Gram matrix of ``A R_1^-1``) unless ``R_1``'s column-scaled condition
number is at most 2; as accurate as a Householder QR's ``R`` while that number stays below
``0.1 / sqrt(u)``. Beyond (or for a rank-deficient ``A``, whose Cholesky factorisation fails),
``R`` comes from a TSQR: Householder QR of every block, then of the stacked ``R_i`` in a fixed
pairwise tree (one pass; 4-5x slower than the Gram pass here), accurate at any conditioning and
rank. The SVD of ``R`` decides the rank as in memory, and the scores are
``||a_i^T V_r diag(1 / s_r)||**2``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._array import array_namespace, device
from .._array.dask import is_dask_array, sum_over_row_blocks
from .._array.namespace import numpy_dtype, unit_roundoff
from ..lowrank._matrix import (
    ONE_CHOLESKY_LIMIT,
    check_finite_result,
    gram_factor,
    scaled_condition,
)
from ..sketch.factory import sketch_operator
from ._input import check_input_matrix, row_norms_squared

__all__ = ["LEVERAGE_METHODS", "leverage_scores"]

LEVERAGE_METHODS = ("exact", "sketch")

#: Row block densified at a time when an exact ``R`` is computed for a sparse ``A`` (TSQR).
_SPARSE_BLOCK = 8192


def leverage_scores(
    A: Any,
    *,
    method: str = "exact",
    ridge: float = 0.0,
    eps: float = 0.5,
    sketch: str = "saso",
    seed: Any = None,
) -> Any:
    """Leverage scores (or ridge leverage scores) of the rows of ``A``.

    Parameters
    ----------
    A : array, scipy.sparse matrix or dask array
        ``(n, d)``, any backend (sparse: NumPy results). A dask array (NumPy chunks) is
        rechunked to whole rows and read in row blocks where they live, never gathered: for
        ``R``, one pass (``"sketch"``: ``S A``) or one or two (``"exact"``: Cholesky QR of
        ``A^T A``, once or twice; a TSQR, one more pass, when ``A`` is too ill-conditioned or
        rank deficient for it), and one more when the scores are computed.
    method : {"exact", "sketch"}
        ``"exact"``: Householder QR (``O(n d**2)``). ``"sketch"``: the DMMW 2012 approximation
        (``O(nnz(A) + n d k)``), for tall ``A``; each score within a factor ``1 +- eps`` of the
        exact one with high probability. When the sketch would have as many rows as ``A``
        (``n <= 32 d`` at ``eps = 0.5``) the scores are computed exactly.
    ridge : float
        ``lam >= 0``: the scores of ``A^T A + lam I`` (0: plain leverage scores).
    eps : float
        Relative accuracy of ``"sketch"``, in ``(0, 1)``. Without a projection (when ``k``
        below is at least ``d``) the sketch has ``m = d / delta**2`` rows with
        ``(1 - delta)**-2 = 1 + eps`` (32 d at ``eps = 0.5``) and the rows of ``A R^{-1}`` are
        measured exactly. With one, sketch and projection each get ``e = sqrt(1 + eps) - 1``:
        ``m = d / delta**2`` with ``(1 - delta)**-2 = 1 + e`` and ``k = ceil(8 log(n) / e**2)``
        columns.
    sketch : str
        The sketch family of ``S`` for ``"sketch"`` (default ``"saso"``, 8 nonzeros per column).
    seed : None, int or sketchla.random.Generator
        ``"sketch"`` only.

    Returns
    -------
    array
        ``(n,)``, the scores, of ``A``'s namespace and floating dtype. Exact scores sum to the
        numerical rank of ``A`` (rank decided by the SVD of ``R`` at ``max(n, d) u sigma_1``).
        For a dask ``A``, a lazy dask array in ``A``'s row chunks (``||a_i^T P||**2`` for a
        small ``d x r`` matrix ``P``); it equals the in-memory scores for the same seed to
        rounding, for any chunking, with the same bits on any scheduler.

    Notes
    -----
    The sketched score is ``tau_i * (chi-square_k / k) / (1 +- delta)**2``: the JL factor has
    relative spread ``sqrt(2 / k)``, the embedding's ``delta ~ sqrt(d / m)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sampling import leverage_scores
    >>> A = np.random.default_rng(0).standard_normal((1000, 5))
    >>> tau = leverage_scores(A)
    >>> round(float(tau.sum()), 10)
    5.0
    >>> approx = leverage_scores(A, method="sketch", seed=0)
    >>> bool(np.all(np.abs(approx / tau - 1) < 0.5))
    True
    """
    A = check_input_matrix(A, dask=True)
    if method not in LEVERAGE_METHODS:
        raise ValueError(f"method must be one of {LEVERAGE_METHODS}, got {method!r}")
    ridge = _check_nonnegative(ridge, "ridge")
    eps = _check_eps(eps)
    n, d = A.shape
    sketched = method == "sketch" and sketch_rows(d, eps) < n  # else S A is no smaller than A
    if is_dask_array(A):  # lazy scores, rows of zeros set to 0 block by block
        if sketched:
            return _sketched(A, ridge, eps, sketch, v.check_seed(seed))
        return _exact_dask(A, ridge)
    if sketched:
        scores = _sketched(A, ridge, eps, sketch, v.check_seed(seed))
    elif sp.issparse(A):
        scores = row_norms_squared(A @ _inverse_factor(_sparse_r(A, ridge), ridge, A.dtype), np)
    else:
        scores = _exact_dense(A, ridge)
    return _zero_rows_zero(A, scores)


def _zero_rows_zero(A: Any, scores: Any) -> Any:
    """Rows of zeros have score 0 exactly (a QR leaves rounding there)."""
    if sp.issparse(A):
        return np.where(np.diff(A.indptr) > 0, scores, 0).astype(scores.dtype, copy=False)
    xp = array_namespace(A)
    nonzero = xp.any(A != 0, axis=1)
    return xp.where(nonzero, scores, xp.zeros_like(scores))


def _exact_dense(A: Any, ridge: float) -> Any:
    xp = array_namespace(A)
    n, d = A.shape
    if ridge > 0:  # leverage of the first n rows of [A; sqrt(lam) I]
        stacked = xp.concat(
            [A, math.sqrt(ridge) * xp.eye(d, dtype=A.dtype, device=device(A))], axis=0
        )
        return row_norms_squared(xp.linalg.qr(stacked)[0][:n, :], xp)
    if n < d:  # wide: the left singular vectors of A itself
        U, s, _ = xp.linalg.svd(A, full_matrices=False)
        return row_norms_squared(U[:, : _rank(s, A.shape, A.dtype)], xp)
    Q, R = xp.linalg.qr(A)
    U_R, s, _ = xp.linalg.svd(R)
    rank = _rank(s, A.shape, A.dtype)
    if rank == d:
        return row_norms_squared(Q, xp)
    return row_norms_squared(Q @ U_R[:, :rank], xp)


def _exact_dask(A: Any, ridge: float) -> Any:
    """Exact scores of a dask ``A``: ``R`` (of ``[A; sqrt(lam) I]`` for ridge scores) by
    Cholesky QR of the Gram matrix, or by TSQR over the row blocks when ``A`` is too
    ill-conditioned for it, then ``||a_i^T V_r diag(1 / s_r)||**2`` lazily."""
    R = _cholesky_r(A, ridge)
    if R is None:
        R = sum_over_row_blocks(_householder_r, (A,), add=_stacked_r)
        if ridge > 0:
            R = _stacked_r(R, math.sqrt(ridge) * np.eye(A.shape[1], dtype=R.dtype))
        check_finite_result(R, A)
    return _dask_scores(A, _inverse_factor(R, ridge, A.dtype, shape=A.shape))


def _cholesky_r(A: Any, ridge: float) -> np.ndarray | None:
    """``R`` with ``R^T R = A^T A + lam I`` by Cholesky QR of the blockwise Gram matrix, twice
    unless once is as accurate (see :func:`~sketchla.lowrank._matrix.cholesky_qr_rows`), or
    ``None`` when a factor's column-scaled condition number passes ``0.1 / sqrt(u)``."""
    d = A.shape[1]
    G = sum_over_row_blocks(_gram_block, (A,))
    check_finite_result(G, A)
    if ridge > 0:
        G = G + ridge * np.eye(d, dtype=G.dtype)
    first = gram_factor(G)
    if first is None or scaled_condition(first, G) <= ONE_CHOLESKY_LIMIT:
        return first
    inverse = np.linalg.inv(first)
    G2 = sum_over_row_blocks(_preconditioned_gram_block, (A,), (inverse,))
    if ridge > 0:  # the rows sqrt(lam) I R_1^-1 of the stacked matrix
        G2 = G2 + ridge * (inverse.T @ inverse)
    second = gram_factor(G2)
    return None if second is None else second @ first


def _gram_block(block: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite G is refused after the sum
        return block.T @ block


def _preconditioned_gram_block(block: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    Q = block @ inverse
    return Q.T @ Q


def _sketched(A: Any, ridge: float, eps: float, family: str, generator: Any) -> Any:
    """DMMW 2012: ``R`` from ``QR(S A)``, then ``||a_i^T R^{-1} G||**2`` (see the module)."""
    n, d = A.shape
    lazy = is_dask_array(A)
    xp = np if sp.issparse(A) or lazy else array_namespace(A)
    # with a projection the two factors share the budget: each within sqrt(1 + eps)
    share = math.sqrt(1 + eps) - 1
    k = projection_columns(n, share)
    project = k < d
    rows = sketch_rows(d, share if project else eps)
    S = sketch_operator(family, rows, n, seed=generator)
    if lazy:  # m x d, computed block by block and brought here
        SA = (S @ A).compute()
        check_finite_result(SA, A)
    else:
        SA = xp.asarray(S @ A) if sp.issparse(A) else S @ A
    if ridge > 0:
        eye = math.sqrt(ridge) * xp.eye(d, dtype=SA.dtype, device=device(SA))
        SA = xp.concat([SA, eye], axis=0)
    R = xp.linalg.qr(SA, mode="r") if xp is np else xp.linalg.qr(SA)[1]
    P = _inverse_factor(R, ridge, SA.dtype)  # d x r: A P has nearly orthonormal columns
    if project and k < P.shape[1]:
        G = generator.normal((P.shape[1], k), dtype=P.dtype, xp=xp, device=device(P))
        P = P @ G / math.sqrt(k)
    if lazy:
        return _dask_scores(A, P)
    return row_norms_squared(A @ P, xp)


def _dask_scores(A: Any, P: np.ndarray) -> Any:
    """``||a_i^T P||**2`` (0 on rows of zeros), lazily, over the row blocks of a dask ``A``."""
    return A.map_blocks(_block_scores, P, drop_axis=1, dtype=A.dtype)


def _block_scores(block: np.ndarray, P: np.ndarray) -> np.ndarray:
    scores = row_norms_squared(block @ P, np)
    return np.where(np.any(block != 0, axis=1), scores, 0).astype(block.dtype, copy=False)


def _householder_r(block: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite R is refused after the sum
        return np.linalg.qr(block, mode="r")


def _stacked_r(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The ``R`` of two stacked ``R`` factors (a TSQR step)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.linalg.qr(np.concatenate([first, second]), mode="r")


def sketch_rows(d: int, eps: float) -> int:
    """Rows of the embedding sketch: a distortion ``delta ~ sqrt(d / m)`` (a Gaussian's; sparse
    sketches with 8 nonzeros per column measure alike) with ``(1 - delta)**-2 = 1 + eps``, so
    that the scores of ``A R^{-1}`` are within ``1 + eps`` of the true ones."""
    delta = 1 - 1 / math.sqrt(1 + eps)
    return math.ceil(d / delta**2)


def projection_columns(n: int, eps: float) -> int:
    """Columns of the JL projection: ``chi-square_k / k`` within ``1 +- eps`` for all ``n`` rows
    with high probability (Chernoff: each row fails with probability about ``n**-2``)."""
    return math.ceil(8 * math.log(max(n, 2)) / eps**2)


def _inverse_factor(R: Any, ridge: float, dtype: Any, *, shape: Any = None) -> Any:
    """``P = V_r diag(1 / s_r)`` from the SVD ``R = U diag(s) V^T`` truncated to the numerical
    rank (decided for a matrix of ``shape``, ``R``'s by default): ``A P`` is an orthonormal
    basis of ``range(A)`` when ``R`` is ``A``'s QR factor (and ``A P`` times ``U_r^T``
    otherwise, which has the same row norms)."""
    xp = array_namespace(R)
    _, s, Vh = xp.linalg.svd(R)
    rank = s.shape[0] if ridge > 0 else _rank(s, R.shape if shape is None else shape, dtype)
    return xp.matrix_transpose(Vh[:rank, :]) / s[:rank]


def _sparse_r(A: Any, ridge: float) -> np.ndarray:
    """The ``R`` of a QR of the sparse ``A`` (stacked over ``sqrt(lam) I`` when ``ridge``), by
    TSQR over densified row blocks."""
    d = A.shape[1]
    R = np.zeros((0, d), dtype=A.dtype)
    for lo in range(0, A.shape[0], _SPARSE_BLOCK):
        block = A[lo : lo + _SPARSE_BLOCK].toarray()
        R = np.linalg.qr(np.concatenate([R, block]), mode="r")
    if ridge > 0:
        R = np.linalg.qr(np.concatenate([R, math.sqrt(ridge) * np.eye(d, dtype=A.dtype)]), "r")
    return R


def _rank(s: Any, shape: tuple[int, int], dtype: Any) -> int:
    """Singular values above ``max(n, d) u sigma_1`` (LAPACK's ``gelsd`` default)."""
    xp = array_namespace(s)
    if s.shape[0] == 0:
        return 0
    threshold = max(shape) * unit_roundoff(numpy_dtype(dtype)) * float(s[0])
    return int(xp.sum(xp.astype(s > threshold, xp.int64)))


def _check_nonnegative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a non-negative number, got {value!r}")
    if not 0 <= float(value) < math.inf:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return float(value)


def _check_eps(eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise TypeError(f"eps must be a number in (0, 1), got {eps!r}")
    if not 0 < float(eps) < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    return float(eps)
