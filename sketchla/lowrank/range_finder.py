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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace
from .._array.namespace import backend_name, unit_roundoff
from ..sketch.factory import check_family
from ._matrix import Matrix, check_rank

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
    A : array, scipy.sparse matrix or scipy.sparse.linalg.LinearOperator
        ``(m, n)``; only products with ``A`` and ``A.T`` are used.
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
        Cholesky QR with the same fallback.
    sketch : str
        Family of the test matrix (see :func:`sketchla.sketch_operator`); Gaussian by default.
    seed : None, int or sketchla.random.Generator

    Returns
    -------
    Q : array
        ``(m, l)`` with orthonormal columns, of ``A``'s namespace (NumPy for sparse or operator
        ``A``) and floating dtype.

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
    matrix = Matrix.from_input(A)
    k = check_rank(k, matrix.shape)
    oversampling, power_iters, sketch, normalizer = check_options(
        oversampling, power_iters, sketch, normalizer
    )
    return _range(matrix, k + oversampling, power_iters, normalizer, sketch, v.check_seed(seed))


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
