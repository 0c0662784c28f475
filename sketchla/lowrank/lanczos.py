"""Restarted block Lanczos SVD: the top ``k`` singular triplets of ``A`` converged to a residual
tolerance, for spectra too flat for subspace iteration.

Subspace iteration (:func:`~sketchla.lowrank.rsvd` with power iterations) converges at the rate
``(sigma_{l+1} / sigma_k)**(2q)``: on a spectrum whose top singular values lie within a percent of
each other it barely moves. A Krylov method converges at a rate set by the square root of that
gap (Saad, *Numerical Methods for Large Eigenvalue Problems*, 2011, Section 6.6), which is why
ARPACK's ``svds`` wins there. This module is block Lanczos on the Gram operator ``M = A^T A`` (or
``A A^T``, on the smaller side), kept small by thick restarts, i.e. the block Krylov-Schur method
(Stewart, "A Krylov-Schur algorithm for large eigenproblems", SIMAX 2002; Zhou & Saad, "Block
Krylov-Schur method for large symmetric eigenvalue problems", Numer. Algorithms 2008):

1. The basis ``V`` grows by an orthonormal block ``Q`` (``b`` columns, fully re-orthogonalised
   against ``V``) at a time, and ``W = M V`` grows by ``M Q``; the next block is ``M Q``.
2. Once ``V`` has ``basis_size`` columns, Rayleigh-Ritz: ``H = V^T W``, ``H = S diag(theta) S^T``.
   The ``keep`` leading Ritz vectors ``V S`` (and ``W S``, with no product with ``A``) become the
   new basis, and the last ``M Q``, orthogonalised against the old basis, continues it: that is
   the residual direction of every Ritz pair, so the Krylov structure survives the restart.
3. Stop when ``||M y_i - theta_i y_i|| <= tol * theta_1`` for the top ``k`` pairs.

Finally ``P = A Y_k`` (``Y_k`` the top ``k`` Ritz vectors) and the SVD ``P = U diag(s) G^T`` give
``A ~ U diag(s) (Y_k G)^T``: the singular values are those of ``A`` on the converged subspace,
accurate to about ``(tol * sigma_1**2 / gap)**2`` relatively, which the default ``tol`` makes a few
units of roundoff.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace, device, kernel, to_numpy
from .._array.gram import one_blas_thread
from .._array.namespace import computed_on_host, is_array, numpy_dtype, unit_roundoff
from ..errors import ConvergenceWarning
from ._matrix import Matrix, check_rank
from .svd import SVDResult, _flip_signs

__all__ = ["lanczos_svd"]


def lanczos_svd(
    A: Any,
    k: int,
    *,
    tol: float | None = None,
    block_size: int = 4,
    basis_size: int | None = None,
    maxiter: int | None = None,
    seed: Any = None,
) -> SVDResult:
    """The top ``k`` singular triplets of ``A`` by restarted block Lanczos (block Krylov-Schur).

    Use it when the singular values themselves are wanted to full accuracy, or the spectrum is
    flat (a random sparse matrix, a graph's adjacency): there :func:`~sketchla.lowrank.rsvd`'s
    subspace iteration converges slowly, and this, like ARPACK's ``scipy.sparse.linalg.svds``,
    quickly. Per vector it is about three times cheaper than ``svds``: it multiplies by ``A`` a
    block at a time (one pass over a CSR ``A`` per block, numba on NumPy), not a vector.

    Parameters
    ----------
    A : array, scipy.sparse matrix or scipy.sparse.linalg.LinearOperator
        ``(m, n)``; only products with ``A`` and ``A.T`` are used.
    k : int
        The number of singular triplets, ``1 <= k <= min(m, n)``.
    tol : float, optional
        Stop when every one of the top ``k`` Ritz pairs ``(theta_i, y_i)`` of ``M = A^T A`` (or
        ``A A^T``) has ``||M y_i - theta_i y_i|| <= tol * ||A||_2**2``. Default ``sqrt(u)`` (``u``
        the unit roundoff): singular values then agree with a dense SVD's to a few roundoffs of
        ``sigma_1``, unless neighbours are closer than about ``sqrt(u) sigma_1``. At least
        ``100 u`` (below that the rounding of the products decides), below 1.
    block_size : int
        Columns multiplied by ``A`` at a time (default 4).
    basis_size : int, optional
        Columns of the Krylov basis before a restart; a restart keeps about half. Default
        ``max(4 k, 2 k + 4 block_size)``; at least ``2 (k + block_size)``. Larger bases need
        fewer products and more orthogonalisation.
    maxiter : int, optional
        Restarts allowed (default ``max(100, min(m, n) // block_size)``). A
        :class:`~sketchla.ConvergenceWarning` says when they ran out; the Ritz triplets of the
        last basis are returned.
    seed : None, int or sketchla.random.Generator
        The random start block.

    Returns
    -------
    SVDResult
        ``U`` (``m x k``), ``s`` (non-increasing), ``Vh`` (``k x n``), of ``A``'s namespace
        (NumPy for sparse or operator ``A``) and floating dtype; signs as :class:`SVDResult`.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sketchla.lowrank import lanczos_svd
    >>> A = sp.random_array((2000, 500), density=0.01, format="csr", rng=0)
    >>> U, s, Vh = lanczos_svd(A, 5, seed=0)
    >>> exact = np.linalg.svd(A.toarray(), compute_uv=False)[:5]
    >>> bool(np.allclose(s, exact, rtol=1e-12))
    True
    """
    if is_array(A) and computed_on_host(array_namespace(A)):  # JAX: in NumPy, then back
        xp = array_namespace(A)
        options = {"tol": tol, "block_size": block_size, "basis_size": basis_size}
        host = lanczos_svd(to_numpy(A), k, maxiter=maxiter, seed=seed, **options)
        return SVDResult(*(xp.asarray(x, device=device(A)) for x in host))
    matrix = Matrix.from_input(A)
    k = check_rank(k, matrix.shape)
    block = v.check_int(block_size, "block_size", minimum=1)
    dim = min(matrix.shape)
    basis = _check_basis(basis_size, k, block)
    dtype = numpy_dtype(matrix.dtype)
    tol = _check_tol(tol, dtype)
    if maxiter is None:
        maxiter = max(100, dim // block)
    maxiter = v.check_int(maxiter, "maxiter", minimum=1)
    generator = v.check_seed(seed)
    if dim <= basis:  # the Krylov space would be the whole space: a dense SVD is cheaper
        return _dense_svd(matrix, k)
    right = matrix.shape[1] <= matrix.shape[0]  # the basis lives in R^n (M = A^T A), else R^m
    gram = _gram_operator(matrix, right)
    if matrix.kind == "sparse":  # numba's threads do the work; idle BLAS threads only spin
        with one_blas_thread():
            Y = _krylov_schur(matrix, gram, dim, k, block, basis, tol, maxiter, generator)
    else:
        Y = _krylov_schur(matrix, gram, dim, k, block, basis, tol, maxiter, generator)
    return _triplets(matrix, Y, right)


def _krylov_schur(matrix, gram, dim, k, block, basis, tol, maxiter, generator) -> Any:
    """The top ``k`` Ritz vectors (``dim x k``, orthonormal) of the Gram operator, converged."""
    xp = matrix.xp
    keep = min(max(k, basis // 2), basis - block)
    options = {"dtype": matrix.dtype, "device": matrix.device}
    V, W = xp.empty((dim, basis), **options), xp.empty((dim, basis), **options)
    X = generator.normal((dim, block), xp=xp, **options)
    filled = 0
    for restart in range(maxiter + 1):
        while filled + block <= basis:
            Q = _orthonormal_extension(V[:, :filled], X, generator)
            X = gram(Q)
            V[:, filled : filled + block], W[:, filled : filled + block] = Q, X
            filled += block
        Vt = xp.matrix_transpose(V[:, :filled])
        H = Vt @ W[:, :filled]
        theta, S = xp.linalg.eigh((H + xp.matrix_transpose(H)) / 2)
        theta, S = xp.flip(theta), xp.flip(S, axis=1)[:, :keep]  # descending
        Y, WY = V[:, :filled] @ S, W[:, :filled] @ S
        residuals = xp.linalg.vector_norm(WY[:, :k] - Y[:, :k] * theta[:k], axis=0)
        if float(xp.max(residuals)) <= tol * max(float(theta[0]), 0.0):
            return Y[:, :k]
        if restart == maxiter:
            break
        X = X - V[:, :filled] @ (Vt @ X)  # the residual direction, before V is overwritten
        V[:, :keep], W[:, :keep] = Y, WY
        filled = keep
    warnings.warn(
        f"lanczos_svd stopped after maxiter={maxiter} restarts with the largest residual "
        f"{float(xp.max(residuals)):.2e} above tol * sigma_1**2 = {tol * float(theta[0]):.2e}; "
        "the singular values may be inaccurate (raise maxiter or basis_size)",
        ConvergenceWarning,
        stacklevel=3,
    )
    return Y[:, :k]


def _orthonormal_extension(V: Any, X: Any, generator: Any) -> Any:
    """An orthonormal basis of ``X``'s columns orthogonalised against the orthonormal ``V``
    (classical Gram-Schmidt twice, then Householder QR). A column that ``V`` and its neighbours
    already span (an invariant subspace was found, or ``X`` is zero) is replaced by a random one,
    so the block keeps its width."""
    xp = array_namespace(X)
    u = unit_roundoff(numpy_dtype(X.dtype))
    for _ in range(3):
        norms = xp.linalg.vector_norm(X, axis=0)
        for _ in range(2):  # "twice is enough" (Giraud, Langou & Rozloznik 2005)
            X = X - V @ (xp.matrix_transpose(V) @ X)
        Q, R = xp.linalg.qr(X)
        lost = xp.abs(xp.linalg.diagonal(R)) <= math.sqrt(u) * norms
        if not bool(xp.any(lost)):
            return Q
        fresh = generator.normal(X.shape, dtype=X.dtype, xp=xp, device=device(X))
        X = xp.where(lost, fresh, X)
    return Q


def _gram_operator(matrix: Matrix, right: bool):
    """``X -> A^T A X`` (``right``) or ``X -> A A^T X``; one pass over a CSR ``A``."""
    if matrix.kind == "sparse":
        A = matrix.A if right else matrix.A.T.tocsr()
        product = kernel("normal_product", matrix.xp)
        n = A.shape[1]
        return lambda X: product(A.indptr, A.indices, A.data, n, X, xp=matrix.xp)
    if right:
        return lambda X: matrix.rmatmul(matrix.matmul(X))
    return lambda X: matrix.matmul(matrix.rmatmul(X))


def _triplets(matrix: Matrix, Y: Any, right: bool) -> SVDResult:
    """``A ~ U diag(s) Vh`` from the converged Ritz vectors ``Y`` of ``A^T A`` (``right``) or
    ``A A^T``: the SVD of ``A Y`` (or ``A^T Y``), whose right factor rotates ``Y``."""
    xp = matrix.xp
    P = matrix.matmul(Y) if right else matrix.rmatmul(Y)
    U_P, s, Gt = xp.linalg.svd(P, full_matrices=False)
    rotated = Y @ xp.matrix_transpose(Gt)
    if right:
        U, Vh = _flip_signs(U_P, xp.matrix_transpose(rotated))
    else:
        U, Vh = _flip_signs(rotated, xp.matrix_transpose(U_P))
    return SVDResult(U, s, Vh)


def _dense_svd(matrix: Matrix, k: int) -> SVDResult:
    """The truncated SVD of ``A`` formed densely (``A`` is at most ``basis_size`` wide or tall)."""
    xp = matrix.xp
    m, n = matrix.shape
    eye = xp.eye(min(m, n), dtype=matrix.dtype, device=matrix.device)
    if matrix.kind == "dense":
        dense = matrix.A
    elif n <= m:
        dense = matrix.matmul(eye)
    else:
        dense = xp.matrix_transpose(matrix.rmatmul(eye))
    U, s, Vh = xp.linalg.svd(dense, full_matrices=False)
    U, Vh = _flip_signs(U[:, :k], Vh[:k, :])
    return SVDResult(U, s[:k], Vh)


def _check_basis(basis_size: Any, k: int, block: int) -> int:
    if basis_size is None:
        return max(4 * k, 2 * k + 4 * block)
    return v.check_int(basis_size, "basis_size", minimum=2 * (k + block))


def _check_tol(tol: Any, dtype: np.dtype) -> float:
    u = unit_roundoff(dtype)
    if tol is None:
        return math.sqrt(u)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)):
        raise TypeError(f"tol must be a number in [100 u, 1), got {tol!r}")
    if not 100 * u <= tol < 1:  # (NaN fails it too)
        raise ValueError(
            f"tol must be in [{100 * u:.1e}, 1) for {dtype} A (100 unit roundoffs: the rounding "
            f"of the products decides below), got {tol!r}"
        )
    return float(tol)
