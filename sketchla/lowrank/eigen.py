"""Symmetric low-rank eigendecompositions.

``reigh``: a symmetric ``A ~ U diag(w) U^T`` from the range finder, ``Q^T A Q = V diag(w) V^T``,
``U = Q V`` (Halko, Martinsson & Tropp 2011, Algorithm 5.3), keeping the ``k`` eigenvalues of
largest magnitude.

``nystrom``: a positive semidefinite ``A ~ U diag(w) U^T`` from one product ``Y = A Omega``, the
Nyström approximation ``Y (Omega^T Y)^+ Y^T``, computed stably with a shift (Tropp, Yurtsever,
Udell & Cevher, "Fixed-rank approximation of a positive-semidefinite matrix from streaming data",
NeurIPS 2017, Algorithm 3): ``nu = sqrt(n) eps(||Y||)``, ``Y_nu = Y + nu Omega``,
``C = chol(Omega^T Y_nu)``, ``B = Y_nu C^-1``, ``B = U S V^T``, ``w = max(S**2 - nu, 0)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validation as v
from .._array.namespace import unit_roundoff
from ._matrix import Matrix, check_rank
from .range_finder import _range, check_options, orthonormalize

__all__ = ["EighResult", "nystrom", "reigh"]


@dataclass(frozen=True)
class EighResult:
    """``A ~ eigenvectors @ diag(eigenvalues) @ eigenvectors.T``; ``eigenvectors`` (``n x k``)
    orthonormal, ``eigenvalues`` ordered by decreasing magnitude (``reigh``) or decreasing value
    (``nystrom``, all non-negative)."""

    eigenvalues: Any
    eigenvectors: Any

    def __iter__(self):  # w, U = reigh(...)
        return iter((self.eigenvalues, self.eigenvectors))


def reigh(
    A: Any,
    k: int,
    *,
    oversampling: int = 10,
    power_iters: int = 2,
    normalizer: str = "cholqr",
    sketch: str = "gaussian",
    seed: Any = None,
) -> EighResult:
    """The ``k`` eigenpairs of largest magnitude of a symmetric ``A``, by the range finder.

    Parameters
    ----------
    A : array, scipy.sparse matrix or scipy.sparse.linalg.LinearOperator
        ``(n, n)``, symmetric (not checked: only products are used; a non-symmetric ``A`` is
        treated as ``(A + A.T) / 2`` on the range found).
    k, oversampling, power_iters, normalizer, sketch, seed
        As for :func:`~sketchla.lowrank.rsvd`.

    Returns
    -------
    EighResult

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lowrank import reigh
    >>> rng = np.random.default_rng(0)
    >>> V = np.linalg.qr(rng.standard_normal((300, 5)))[0]
    >>> A = V @ np.diag([5.0, -4.0, 3.0, 2.0, 1.0]) @ V.T
    >>> w, U = reigh(A, 5, seed=0)
    >>> np.round(w, 12).tolist()
    [5.0, -4.0, 3.0, 2.0, 1.0]
    """
    matrix = _square(A)
    k = check_rank(k, matrix.shape)
    oversampling, power_iters, sketch, normalizer = check_options(
        oversampling, power_iters, sketch, normalizer
    )
    Q = _range(matrix, k + oversampling, power_iters, normalizer, sketch, v.check_seed(seed))
    xp = matrix.xp
    T = xp.matrix_transpose(Q) @ matrix.matmul(Q)
    T = (T + xp.matrix_transpose(T)) / 2
    w, V = xp.linalg.eigh(T)
    order = xp.argsort(-xp.abs(w), stable=True)[:k]
    return EighResult(xp.take(w, order), Q @ xp.take(V, order, axis=1))


def nystrom(
    A: Any,
    k: int,
    *,
    oversampling: int = 10,
    power_iters: int = 0,
    sketch: str = "gaussian",
    seed: Any = None,
) -> EighResult:
    """The rank-``k`` Nyström approximation of a positive semidefinite ``A``.

    Parameters
    ----------
    A : array, scipy.sparse matrix or scipy.sparse.linalg.LinearOperator
        ``(n, n)``, symmetric positive semidefinite (not checked).
    k : int
        The rank kept.
    oversampling : int
        Extra columns of the test matrix.
    power_iters : int
        Subspace iterations on the test matrix first (``Omega <- orth(A Omega)``), for slowly
        decaying spectra; 0 (default) reads ``A`` once.
    sketch : str
        Family of the test matrix; Gaussian by default.
    seed : None, int or sketchla.random.Generator

    Returns
    -------
    EighResult
        Eigenvalues non-negative, decreasing.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lowrank import nystrom
    >>> rng = np.random.default_rng(0)
    >>> F = rng.standard_normal((300, 6))
    >>> w, U = nystrom(F @ F.T, 6, seed=0)  # PSD of rank 6
    >>> bool(np.allclose(U @ np.diag(w) @ U.T, F @ F.T))
    True
    """
    matrix = _square(A)
    k = check_rank(k, matrix.shape)
    oversampling, power_iters, sketch, _ = check_options(oversampling, power_iters, sketch)
    xp = matrix.xp
    n = matrix.shape[0]
    width = min(k + oversampling, n)
    S = matrix.test_matrix(sketch, width, v.check_seed(seed))
    Omega = orthonormalize(matrix.test_block(S), "qr")
    for _ in range(power_iters):
        Omega = orthonormalize(matrix.matmul(Omega), "qr")
    Y = matrix.matmul(Omega)
    eps = 2 * unit_roundoff(Y.dtype)
    nu = math.sqrt(n) * eps * float(xp.linalg.vector_norm(Y))  # the shift: of order eps ||A||
    if nu == 0.0:  # A Omega = 0: A is zero (it is PSD and Omega has full rank)
        zeros = xp.zeros((k,), dtype=Y.dtype, device=matrix.device)
        return EighResult(zeros, Omega[:, :k])
    Y_nu = Y + nu * Omega
    core = xp.matrix_transpose(Omega) @ Y_nu
    core = (core + xp.matrix_transpose(core)) / 2
    try:
        C = xp.linalg.cholesky(core)  # lower: core = C C^T
    except (np.linalg.LinAlgError, RuntimeError) as exc:  # torch's LinAlgError: RuntimeError
        raise ValueError("A must be positive semidefinite (Omega^T A Omega is not)") from exc
    B = xp.matrix_transpose(xp.linalg.solve(C, xp.matrix_transpose(Y_nu)))  # Y_nu C^-T
    U, s, _ = xp.linalg.svd(B, full_matrices=False)
    w = xp.maximum(s[:k] * s[:k] - nu, xp.zeros_like(s[:k]))
    return EighResult(w, U[:, :k])


def _square(A: Any) -> Matrix:
    matrix = Matrix.from_input(A)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"A must be square, got shape {matrix.shape}")
    return matrix
