"""Test problems and references shared by the least-squares tests.

Every generator is seeded and returns NumPy float64 arrays ``(A, b)``; the references are
LAPACK (``scipy.linalg.lstsq``), Householder QR, ``pinv`` and an exact solution in mpmath.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import scipy.linalg

from sketchla.errors import ConvergenceWarning
from sketchla.lstsq import lstsq
from sketchla.testing import eps

U64 = float(np.finfo(np.float64).eps) / 2  # unit roundoff of float64


def conditioned(n: int, d: int, kappa: float, seed: int, noise: float = 1e-3):
    """``A = U diag(s) V^T`` with orthonormal ``U``, ``V`` and ``s`` log-spaced from 1 to
    ``1 / kappa`` (so ``||A|| = 1``, ``cond(A) = kappa``); ``b = A x + noise * g`` with ``x``
    and ``g`` standard normal: a nonzero residual of size about ``noise * sqrt(n)``."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    s = np.logspace(0, -np.log10(kappa), d)
    A = (U * s) @ V.T
    rng = np.random.default_rng(seed + 100)
    b = A @ rng.standard_normal(d) + noise * rng.standard_normal(n)
    return A, b


def gaussian(n: int, d: int, seed: int, k: int | None = None):
    """Standard normal ``A`` and ``b`` (``(n, k)`` when ``k`` is given): a large residual."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    b = rng.standard_normal(n if k is None else (n, k))
    return A, b


def coherent_scaled(n: int, d: int, seed: int, heavy: int = 5, scale: float = 1e4):
    """Gaussian ``A`` whose first ``heavy`` rows are multiplied by ``scale``: those rows carry
    almost all the leverage (a uniformly sampled sketch would miss them)."""
    A, b = gaussian(n, d, seed)
    A[:heavy] *= scale
    b[:heavy] *= scale
    return A, b


def coherent_identity(n: int, d: int, seed: int, blocks: int = 2):
    """``blocks`` stacked ``d x d`` identity blocks (times ``sqrt(n)``) on top of a small
    Gaussian matrix: each column's mass sits on ``blocks`` rows."""
    rng = np.random.default_rng(seed)
    heavy = np.tile(np.sqrt(n) * np.eye(d), (blocks, 1))
    A = np.vstack([heavy, 1e-2 * rng.standard_normal((n - blocks * d, d))])
    b = rng.standard_normal(n) + A @ rng.standard_normal(d)
    return A, b


def rank_deficient(n: int, d: int, rank: int, seed: int):
    """A Gaussian ``(n, rank) @ (rank, d)`` product: rank ``rank`` exactly."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d))
    return A, rng.standard_normal(n)


def relative(x, reference) -> float:
    """``||x - reference|| / ||reference||`` (Frobenius for several right-hand sides)."""
    x = np.asarray(x, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    return float(np.linalg.norm(x - reference) / np.linalg.norm(reference))


def backward_stable_level(A, b, x, unit: float) -> float:
    """The relative forward error a backward-stable solver guarantees (up to a modest
    constant): ``u (kappa + kappa**2 ||r|| / (||A|| ||x||))`` at the solution ``x``."""
    A = np.asarray(A, dtype=np.float64)
    s = np.linalg.svd(A, compute_uv=False)
    s = s[s > s[0] * 1e-13]
    kappa = s[0] / s[-1]
    r = np.asarray(b, dtype=np.float64) - A @ np.asarray(x, dtype=np.float64)
    rho = np.linalg.norm(r) / (s[0] * np.linalg.norm(x))
    return float(unit * (kappa + kappa**2 * rho))


def householder(A, b):
    """LAPACK Householder QR (``geqrf``) and a triangular solve: the classical
    backward-stable least-squares solver."""
    Q, R = np.linalg.qr(A)
    return scipy.linalg.solve_triangular(R, Q.T @ b)


def exact_lstsq(A, b, dps: int = 60):
    """The least-squares solution of the double-precision data ``(A, b)`` to about
    ``dps - 2 log10(cond A)`` digits: the normal equations formed exactly in integer
    arithmetic (every double is an integer times a power of two), then solved in mpmath at
    ``dps`` digits. Small problems only (``n * d**2`` Python integer products)."""
    M = np.column_stack([np.asarray(A, dtype=np.float64), np.asarray(b, dtype=np.float64)])
    pairs = [[float(v).as_integer_ratio() for v in row] for row in M]
    denominator = max(q for row in pairs for _, q in row)  # all powers of two
    columns = list(zip(*[[p * (denominator // q) for p, q in row] for row in pairs], strict=True))
    d = M.shape[1] - 1
    gram = [[sum(map(int.__mul__, columns[i], columns[j])) for j in range(d)] for i in range(d)]
    rhs = [sum(map(int.__mul__, columns[i], columns[d])) for i in range(d)]
    with mpmath.workdps(dps):
        x = mpmath.lu_solve(mpmath.matrix(gram), mpmath.matrix(rhs))
        return np.array([float(v) for v in x])


def lstsq_recording(A, b, **options):
    """``(result, caught)``: ``lstsq``'s result and the ConvergenceWarnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = lstsq(A, b, **options)
    return result, caught


def lapack(A, b):
    return scipy.linalg.lstsq(np.asarray(A, np.float64), np.asarray(b, np.float64))[0]


def agreement_bound(A, b, x_ref, dtype) -> float:
    """Relative distance allowed between two backward-stable solutions in ``dtype``:
    ``8 eps (sqrt(d) + kappa + kappa**2 ||r|| / (||A|| ||x||))``. The ``sqrt(d)`` term covers
    the rounding of a well-conditioned solve (measured: up to ``5 eps (1 + kappa)`` at
    ``kappa = 1``, d = 20); at ``kappa >= 100`` the measured distance is below ``0.1 eps``
    times the sensitivity, so the margin there is large (the tight forward-error checks are
    the mpmath ones in ``test_lstsq_accuracy``). Several right-hand sides: the worst column."""
    d = A.shape[1]
    columns = [x_ref] if np.ndim(x_ref) == 1 else list(np.asarray(x_ref).T)
    rhs = [b] if np.ndim(b) == 1 else list(np.asarray(b).T)
    level = max(backward_stable_level(A, bj, xj, 1.0) for bj, xj in zip(rhs, columns, strict=True))
    return 8 * eps(dtype) * (math.sqrt(d) + level)
