"""The randomized range finder (Halko, Martinsson & Tropp, "Finding structure with randomness",
SIAM Review 2011, Algorithms 4.1 and 4.4): an orthonormal ``Q`` whose span nearly contains the
top ``k`` left singular vectors of ``A``.

``Y = A Omega`` for a random test matrix ``Omega`` with ``l = k + oversampling`` columns; each of
the ``power_iters`` subspace iterations replaces ``Y`` by ``A A^T Y``, which raises the singular
values to the power ``2 q + 1`` and so sharpens a slowly decaying spectrum. Between products the
block is renormalised (``normalizer``): a Cholesky QR (the default, done twice, with a
Householder QR when the block is too ill-conditioned for it) or a Householder QR keeps it
orthonormal; an LU (as in scikit-learn) only keeps its columns from collapsing onto the top
singular vector. The final ``Q`` is orthonormalised the default way.

A tall dask ``A`` (``n x d``, ``n >= d``, in row blocks ``A_i``) is never gathered. Written on
the ``d``-side, the iteration is ``X <- orth(A^T A X)`` from ``X = Omega`` and
``Q = orth(A X)``: a pass computes ``W = sum_i A_i^T (A_i X)`` (``d x l``), reading each block
once, and ``X`` is orthonormalised where it is small. Forming ``A^T A X`` squares the spectrum:
the rounding of ``A^T (A x)`` is ``u ||A|| ||A x||``, which, when ``A x`` is of the size
``sigma_1``, drowns the directions below ``sqrt(u) sigma_1``. So ``X`` is taken as the left
singular vectors of ``W`` rather than any orthonormal basis of it: its columns then approximate
singular vectors, ``A x_j`` has the size ``sigma_j``, and each is computed to the rounding of its
own size, as in memory. The random ``Omega`` has no such alignment, so the first iteration is
done as in memory, in two passes: ``Y = A Omega`` kept with its Gram matrix, then ``A^T`` of
``Y R^-1``. Passes: ``power_iters + 2`` over ``A`` (1 without power iterations), the same
products as in memory (``2 power_iters + 1`` with ``A`` or ``A^T``). The last pass keeps
``Y = A X`` in the workers' memory with its Gram matrix; Cholesky QR twice (one more pass, over
``Y``; once when ``Y``'s columns are nearly orthogonal) or, when they are too dependent for it,
a direct TSQR, gives ``Q``, lazily. A
small ``l x l`` rotation, tracked along the iteration, turns that basis into the one the
in-memory iteration produces, column by column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace
from .._array.namespace import backend_name, unit_roundoff
from ..sketch.factory import check_family
from ._matrix import (
    Matrix,
    RowBasis,
    check_rank,
    cholesky_qr_rows,
    direct_tsqr,
    gram_factor,
    kept_products,
    normal_products,
    transpose_products,
)

__all__ = ["NORMALIZERS", "range_finder"]

NORMALIZERS = ("qr", "lu", "cholqr", "none")


def range_finder(
    A: Any,
    k: int,
    *,
    oversampling: int = 10,
    power_iters: int = 2,
    normalizer: str = "cholqr",
    sketch: str = "gaussian",
    seed: Any = None,
) -> Any:
    """An orthonormal basis ``Q`` of ``min(k + oversampling, min(A.shape))`` columns whose span
    approximates the range of ``A``'s top ``k`` singular vectors.

    Parameters
    ----------
    A : array, scipy.sparse matrix, scipy.sparse.linalg.LinearOperator or dask array
        ``(m, n)``; only products with ``A`` and ``A.T`` are used. A dask array (NumPy chunks)
        must be tall (``m >= n``); it is rechunked to whole rows and read in row blocks where
        they live, never gathered: ``power_iters + 2`` passes over ``A`` (1 without power
        iterations) and one over the ``m x l`` block ``Y = A X``, which stays in the workers'
        memory (see Notes).
    k : int
        Target rank, ``1 <= k <= min(m, n)``.
    oversampling : int
        Extra columns of the test matrix (``p`` of Halko et al.; 5-10 is usual).
    power_iters : int
        Subspace iterations ``q``: the error bound's spectral gap factor becomes
        ``(sigma_{k+1} / sigma_k)**(2 q + 1)``.
    normalizer : {"cholqr", "qr", "lu", "none"}
        Renormalisation between the products of the power iterations: Cholesky QR (twice;
        Householder QR when the block is too ill-conditioned for it), Householder QR, pivoted
        LU (scikit-learn's choice), or none. The final basis is always orthonormalised, by
        Cholesky QR with the same fallback. A dask ``A`` does not use it: its iteration is
        orthonormalised on the small side (Notes), and ``Q`` is the ``"cholqr"`` result (the
        others span the same space; ``"qr"`` and ``"lu"`` may flip columns' signs).
    sketch : str
        Family of the test matrix (see :func:`sketchla.sketch_operator`); Gaussian by default.
    seed : None, int or sketchla.random.Generator

    Returns
    -------
    Q : array
        ``(m, l)`` with orthonormal columns, of ``A``'s namespace (NumPy for sparse or operator
        ``A``) and floating dtype. For a dask ``A``, a lazy dask array in ``A``'s row chunks
        (NumPy blocks; computing it reads only the kept ``m x l`` block, not ``A``); it
        equals the in-memory result for the same seed to rounding, for any chunking, and has the
        same bits with any scheduler.

    Notes
    -----
    Dask ``A`` (``m x n``, row blocks ``A_i``): the first power iteration takes two passes, as
    in memory (``Y = A Omega`` kept with ``Y^T Y``, then ``A^T Y R^-1``), each later one a
    single pass, ``W = sum_i A_i^T (A_i X)`` with ``X`` the left singular vectors of the
    previous ``W`` (which keeps the rounding of each column to its own size: an arbitrary
    orthonormal ``X`` would square the spectrum and lose what lies below ``sqrt(u) sigma_1``).
    The last pass keeps ``Y = A X`` with ``Y^T Y``; Cholesky QR twice of ``Y`` (one pass over
    ``Y``), or a direct TSQR when ``Y``'s scaled condition number passes ``0.1 / sqrt(u)``,
    orthonormalises it. Sums over the blocks follow a fixed tree.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lowrank import range_finder
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((500, 8)) @ rng.standard_normal((8, 300))  # rank 8
    >>> Q = range_finder(A, 8, seed=0)
    >>> Q.shape, bool(np.allclose(Q @ (Q.T @ A), A))
    ((500, 18), True)
    """
    matrix = Matrix.from_input(A, dask=True)
    k = check_rank(k, matrix.shape)
    oversampling, power_iters, sketch, normalizer = check_options(
        oversampling, power_iters, sketch, normalizer
    )
    generator = v.check_seed(seed)
    if matrix.kind == "dask":
        tall = tall_range(matrix, k + oversampling, power_iters, sketch, generator, rotate=True)
        return tall.basis.times(tall.rotation())
    return _range(matrix, k + oversampling, power_iters, normalizer, sketch, generator)


def check_options(
    oversampling: Any, power_iters: Any, sketch: Any, normalizer: Any = "cholqr"
) -> tuple[int, int, str, str]:
    """The sampling options shared by the low-rank routines, validated."""
    oversampling = v.check_int(oversampling, "oversampling", minimum=0)
    power_iters = v.check_int(power_iters, "power_iters", minimum=0)
    if not isinstance(normalizer, str) or normalizer not in NORMALIZERS:
        raise ValueError(f"normalizer must be one of {', '.join(NORMALIZERS)}, got {normalizer!r}")
    return oversampling, power_iters, check_family(sketch), normalizer


def _range(
    matrix: Matrix, width: int, power_iters: int, normalizer: str, sketch: str, generator: Any
) -> Any:
    """:func:`range_finder` on validated input, ``width`` columns (capped at ``min(m, n)``)."""
    width = min(width, min(matrix.shape))
    Y = matrix.times_sketch(matrix.test_matrix(sketch, width, generator))
    for _ in range(power_iters):
        Z = matrix.rmatmul(orthonormalize(Y, normalizer))
        Y = matrix.matmul(orthonormalize(Z, normalizer))
    return cholesky_qr(Y)[0]


@dataclass(frozen=True)
class TallRange:
    """The range of a tall dask ``A`` found blockwise: ``Y = A X = Q R`` with ``Q`` the lazy
    ``basis`` (``m x l``) and ``R`` upper triangular (``l x l``); ``gram = Y^T Y``; ``normal =
    A^T Y`` (``n x l``; ``None`` unless asked for, or after a TSQR); ``turn`` the orthogonal
    ``l x l`` matrix with ``X turn`` the in-memory iteration's ``X`` (``None``: the identity)."""

    basis: RowBasis
    R: np.ndarray
    gram: np.ndarray
    normal: np.ndarray | None
    turn: np.ndarray | None

    def rotation(self) -> np.ndarray:
        """``C`` with ``basis @ C`` the in-memory iteration's ``Q``: the orthogonal factor of
        the QR of ``R turn`` (``Q R turn = A X turn``), with a non-negative diagonal."""
        if self.turn is None:
            return np.eye(self.R.shape[0], dtype=self.R.dtype)
        return _positive_qr(self.R @ self.turn)[0]


def tall_range(
    matrix: Matrix,
    width: int,
    power_iters: int,
    sketch: str,
    generator: Any,
    *,
    normal: bool = False,
    rotate: bool = False,
) -> TallRange:
    """The range finder on a tall dask ``A`` (see the module): the power iterations (the first
    in two passes, each later one in one pass of ``A^T A X``), one pass keeping ``Y = A X`` (and
    summing ``A^T Y`` with ``normal``), then Cholesky QR twice of ``Y`` (one pass over ``Y``) or
    a direct TSQR. With ``rotate``, the rotation to the in-memory basis is tracked (``l x l``
    work per iteration)."""
    A = matrix.A
    width = min(width, min(matrix.shape))
    X = np.asarray(matrix.test_block(matrix.test_matrix(sketch, width, generator)))
    turn = None
    for iteration in range(power_iters):
        # the first as in memory, A^T of an orthonormalised A Omega (two passes); then X is
        # aligned, one pass each
        W = transpose_products(A, _first_basis(A, X)) if iteration == 0 else normal_products(A, X)
        # in memory: X <- Q of the QR of A^T A X (or of W, its columns times a triangular
        # matrix); here X <- U of W = U diag(s) V^T, and the in-memory X (= X turn) follows
        # from the QR of diag(s) V^T turn
        X, values, Vt = np.linalg.svd(W, full_matrices=False)
        if rotate:
            core = values[:, None] * Vt
            turn = _positive_qr(core if turn is None else core @ turn)[0]
    Y, gram, products = kept_products(A, X, normal=normal)
    factored = cholesky_qr_rows(Y, gram)
    if factored is None:
        basis, R = direct_tsqr(Y)
        products = None
    else:
        basis, R = factored
    return TallRange(basis, R, gram, products, turn)


def _first_basis(A: Any, Omega: np.ndarray) -> Any:
    """``A Omega R^-1``, lazily, with ``Y = A Omega`` kept (one pass) and ``R`` its Cholesky
    factor (from ``Y^T Y``: a well-conditioned basis, enough for ``A^T`` of it to be computed
    to the rounding of each column's size) or, when ``Y`` is too ill-conditioned for that, a
    direct TSQR's ``Q``. ``Omega`` is random, so ``A Omega``'s columns all have sizes near
    ``sigma_1``: ``A^T A Omega`` in one pass would lose what lies below ``sqrt(u) sigma_1``."""
    Y, gram, _ = kept_products(A, Omega, normal=False)
    first = gram_factor(gram)
    basis = direct_tsqr(Y)[0] if first is None else RowBasis(Y, np.linalg.inv(first)[None])
    return basis.times(np.eye(Omega.shape[1], dtype=gram.dtype))


def _positive_qr(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Householder QR of a small ``M`` with ``R``'s diagonal made non-negative."""
    Q, R = np.linalg.qr(M)
    signs = np.where(np.diag(R) < 0, -1, 1).astype(R.dtype)
    return Q * signs, R * signs[:, None]


def orthonormalize(Y: Any, normalizer: str) -> Any:
    """A block spanning what ``Y`` spans: orthonormal for ``"qr"`` (Householder) and
    ``"cholqr"`` (see :func:`cholesky_qr`); for ``"lu"`` the unit lower trapezoidal factor of a
    pivoted LU (rows permuted back); ``Y`` itself for ``"none"``."""
    xp = array_namespace(Y)
    if normalizer == "none":
        return Y
    if normalizer == "lu":
        lower = _permuted_lower(Y, xp)
        if lower is not None:
            return lower
    if normalizer == "cholqr":
        return cholesky_qr(Y)[0]
    return xp.linalg.qr(Y)[0]


def cholesky_qr(Y: Any) -> tuple[Any, Any]:
    """``Y = Q R`` for a tall ``Y``, by Cholesky QR twice (CholQR2: ``R_1 = chol(Y^T Y)``,
    ``Q_1 = Y R_1^-1``, the same again on ``Q_1``; Fukaya, Nakatsukasa, Yanagisawa & Yamamoto
    2014): two small Gram matrices and two products, 5-10x faster than a Householder QR of a
    ``4096 x 74`` block here, and as orthogonal (to ``O(u)``) when ``u kappa(Y)**2`` is small.
    Otherwise (the first factor's condition number above ``0.1 / sqrt(u)``, or a failed
    factorisation) a Householder QR."""
    xp = array_namespace(Y)
    u = unit_roundoff(Y.dtype)
    first = _cholesky_factor(Y, xp)
    if first is not None:
        values = xp.linalg.svdvals(first)
        if float(values[-1]) > 0 and float(values[0]) / float(values[-1]) < 0.1 / math.sqrt(u):
            Q = Y @ xp.linalg.inv(first)
            second = _cholesky_factor(Q, xp)
            if second is not None:
                return Q @ xp.linalg.inv(second), second @ first
    return xp.linalg.qr(Y)


def _cholesky_factor(Y: Any, xp: Any) -> Any:
    """The upper Cholesky factor of ``Y^T Y``, or ``None``."""
    try:
        L = xp.linalg.cholesky(xp.matrix_transpose(Y) @ Y)
    except (np.linalg.LinAlgError, RuntimeError):  # torch's LinAlgError is a RuntimeError
        return None
    return xp.matrix_transpose(L) if bool(xp.all(xp.isfinite(L))) else None


def _permuted_lower(Y: Any, xp: Any) -> Any:
    """``P L`` of ``Y = P L U`` on NumPy (SciPy) and Torch; ``None`` elsewhere (a QR then)."""
    name = backend_name(xp)
    if name == "numpy":
        import scipy.linalg

        return scipy.linalg.lu(Y, permute_l=True, check_finite=False)[0]
    if name == "torch":
        import torch

        P, L, _ = torch.linalg.lu(Y)
        return P @ L
    return None
