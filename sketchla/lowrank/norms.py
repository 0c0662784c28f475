"""Randomized estimates of a spectral norm: of ``A`` (``estimate_norm``) and of the error of a
low-rank approximation, ``||A - U diag(s) Vh||`` (``estimate_error``, the idea of fbpca's
``diffsnorm``), by power iteration on ``A^T A`` from a random start.

The power estimate is a lower bound that converges to ``||A||``. An upper bound that holds with
a stated probability comes from the same random start (Halko, Martinsson & Tropp 2011, Lemma 4.1,
after Dixon 1983): for ``r`` independent Gaussian vectors ``omega_i``,
``||A|| <= alpha sqrt(2 / pi) max_i ||A omega_i||`` with probability at least
``1 - alpha**-r``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import _validation as v
from ._matrix import Matrix

__all__ = ["NormEstimate", "estimate_error", "estimate_norm"]

_BOUND_VECTORS = 10  # r of the certified bound: failure probability alpha**-10


@dataclass(frozen=True)
class NormEstimate:
    """``estimate`` (a lower bound on ``||A||``, from the power iteration) and ``upper_bound``,
    which holds with probability at least ``confidence`` over the random start."""

    estimate: float
    upper_bound: float
    confidence: float
    iterations: int

    def __float__(self) -> float:
        return self.estimate


def estimate_norm(
    A: Any, *, power_iters: int = 20, rtol: float = 1e-4, alpha: float = 10.0, seed: Any = None
) -> NormEstimate:
    """The spectral norm ``||A||_2`` by randomized power iteration, with a certified bound.

    Parameters
    ----------
    A : array, scipy.sparse matrix or scipy.sparse.linalg.LinearOperator
        Only products with ``A`` and ``A.T`` are used.
    power_iters : int
        At most this many iterations (each a product with ``A`` and one with ``A.T``).
    rtol : float
        Stop when the estimate changes by less than ``rtol`` relatively.
    alpha : float
        The bound's factor: ``upper_bound = alpha sqrt(2 / pi) max_i ||A omega_i||`` over 10
        Gaussian vectors, which fails with probability ``alpha**-10`` at most.
    seed : None, int or sketchla.random.Generator

    Returns
    -------
    NormEstimate

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lowrank import estimate_norm
    >>> A = np.diag([3.0, 2.0, 1.0])
    >>> result = estimate_norm(A, seed=0)
    >>> round(result.estimate, 6), result.upper_bound >= 3.0
    (3.0, True)
    """
    matrix = Matrix.from_input(A)
    power_iters = v.check_int(power_iters, "power_iters", minimum=1)
    rtol = v.check_number_above(rtol, "rtol")
    alpha = v.check_number_above(alpha, "alpha", above=1.0)
    products = (matrix.matmul, matrix.rmatmul)
    return _power(products, matrix, power_iters, rtol, alpha, v.check_seed(seed))


def estimate_error(
    A: Any,
    U: Any,
    s: Any,
    Vh: Any,
    *,
    power_iters: int = 20,
    rtol: float = 1e-4,
    alpha: float = 10.0,
    seed: Any = None,
) -> NormEstimate:
    """``||A - U diag(s) Vh||_2`` by randomized power iteration on the difference, which is
    never formed (products with ``A``, ``U`` and ``Vh`` only); see :func:`estimate_norm`.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lowrank import estimate_error, rsvd
    >>> A = np.diag([4.0, 3.0, 2.0, 1.0])
    >>> U, s, Vh = rsvd(A, 2, seed=0)
    >>> round(estimate_error(A, U, s, Vh, seed=0).estimate, 6)  # sigma_3
    2.0
    """
    matrix = Matrix.from_input(A)
    xp = matrix.xp
    m, n = matrix.shape
    U = v.check_matrix(U, "U", xp=xp)
    Vh = v.check_matrix(Vh, "Vh", xp=xp)
    s = v.check_vector(s, "s", length=U.shape[1], xp=xp)
    if U.shape[0] != m or Vh.shape != (U.shape[1], n):
        raise ValueError(
            f"U, s, Vh must have shapes ({m}, k), (k,), (k, {n}) for A of shape {(m, n)}, got "
            f"{tuple(U.shape)}, {tuple(s.shape)}, {tuple(Vh.shape)}"
        )
    power_iters = v.check_int(power_iters, "power_iters", minimum=1)
    rtol = v.check_number_above(rtol, "rtol")
    alpha = v.check_number_above(alpha, "alpha", above=1.0)
    column = xp.reshape(s, (-1, 1))

    def forward(X):
        return matrix.matmul(X) - U @ (column * (Vh @ X))

    def backward(Y):
        return matrix.rmatmul(Y) - xp.matrix_transpose(Vh) @ (column * (xp.matrix_transpose(U) @ Y))

    return _power((forward, backward), matrix, power_iters, rtol, alpha, v.check_seed(seed))


def _power(products, matrix: Matrix, power_iters, rtol, alpha, generator) -> NormEstimate:
    """Power iteration on ``M^T M`` from a block of ``r`` Gaussian vectors (the bound's), the
    vectors kept orthonormal; the estimate is the largest ``||M z||`` over the block's unit
    Ritz vectors, a lower bound on ``||M||``."""
    forward, backward = products
    xp = matrix.xp
    # a stream of its own: with the seed of the rsvd whose error it checks, the first child
    # would be rsvd's own test matrix, whose range the approximation has captured
    S = matrix.test_matrix("gaussian", _BOUND_VECTORS, generator.spawn(2)[1])
    Omega = matrix.test_block(S) * math.sqrt(_BOUND_VECTORS)  # standard normal entries
    sampled = forward(Omega)
    largest = float(xp.max(xp.linalg.vector_norm(sampled, axis=0)))
    upper = alpha * math.sqrt(2 / math.pi) * largest
    Z = xp.linalg.qr(Omega)[0]  # orthonormal: n x min(n, 10)
    estimate, iterations = 0.0, 0
    Y = forward(Z)
    while iterations < power_iters:
        iterations += 1
        # Rayleigh-Ritz on the block: the top singular value of M Z, Z orthonormal
        previous, estimate = estimate, float(xp.linalg.svdvals(Y)[0])
        if estimate == 0.0 or abs(estimate - previous) <= rtol * estimate:
            break
        Z = xp.linalg.qr(backward(Y))[0]
        Y = forward(Z)
    return NormEstimate(estimate, max(upper, estimate), 1 - alpha**-_BOUND_VECTORS, iterations)
