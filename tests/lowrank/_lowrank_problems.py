"""Test matrices of prescribed spectra and the references and tolerances shared by the low-rank
tests.

Every generator is seeded and returns NumPy float64 arrays (cast them for float32 tests); the
truth is computed in float64 with LAPACK (``np.linalg.norm(..., 2)``, ``np.linalg.svd``).

Tolerances (all derived from the unit of the dtype under test, never fitted to one run):

* :func:`recovery_tolerance` for ``||A - U diag(s) Vh||_2`` on an exactly low-rank ``A``: every
  step (the products, Householder QR, the LAPACK SVD of the small ``B``) is backward stable with
  an error ``gamma_{c (m + n)} ||A||``, linear in the dimensions (Higham, *Accuracy and Stability
  of Numerical Algorithms*, ch. 19). LAPACK's own SVD reconstructs such matrices only to
  ``4.4 eps (m + n) ||A||`` (worst of 20000 with ``m, n <= 20``; ``~45 eps ||A||`` at 20 x 20),
  and ``rsvd`` chains three such steps: we allow ``16 eps (m + n) ||A||_2``. Measured for
  ``rsvd`` (9000 random problems with ``m, n <= 60``, ranks and conditioning up to ``1e3``
  drawn, plus shapes up to 600): at most ``3.6 eps (m + n) ||A||`` in float64 and ``0.12`` in
  float32. This presumes ``l = k + p > r`` or a power iteration: with ``l = r = min(m, n)`` and
  ``power_iters=0`` the square Gaussian sketch's condition enters (measured
  ``16 eps (m + n) ||A||`` in float32 at 47 x 45, rank 45, against LAPACK's ``0.008``).
* :func:`orthonormality_tolerance` for ``||U^T U - I||_2``: Householder QR keeps ``l`` columns
  orthonormal to about ``eps sqrt(l)`` (and the SVD's factors likewise); we allow
  ``16 eps sqrt(l)`` with ``l = min(k + p, min(m, n))`` the width of the sketch, ``>= k``.
  Measured: at most ``5.9 eps sqrt(l)``.
"""

from __future__ import annotations

import math

import numpy as np

from sketchla._array import to_numpy
from sketchla.testing import eps

# -- spectra ---------------------------------------------------------------------------------


def spectrum(kind: str, count: int, k: int = 10) -> np.ndarray:
    """``count`` singular values, ``sigma_1 = 1``, non-increasing:

    * ``"slow"``: ``1 / i`` (the hard case of Halko et al., section 7);
    * ``"fast"``: ``exp(-(i - 1) / 3)``;
    * ``"flat"``: flat-then-drop, ``1`` for ``i <= k`` and ``1e-2`` beyond (a gap at ``k``);
    * ``"poly2"``: ``1 / i**2``.
    """
    i = np.arange(1, count + 1, dtype=np.float64)
    if kind == "slow":
        return 1.0 / i
    if kind == "fast":
        return np.exp(-(i - 1) / 3)
    if kind == "flat":
        return np.where(i <= k, 1.0, 1e-2)
    if kind == "poly2":
        return 1.0 / i**2
    raise ValueError(kind)


def haar(rows: int, columns: int, rng: np.random.Generator) -> np.ndarray:
    """``rows x columns`` with orthonormal columns, Haar distributed (QR of a Gaussian matrix,
    signs fixed by ``R``'s diagonal)."""
    Q, R = np.linalg.qr(rng.standard_normal((rows, columns)))
    return Q * np.sign(np.diag(R))


def with_spectrum(m: int, n: int, sigma, seed: int):
    """``(A, U, sigma, V)`` with ``A = U diag(sigma) V^T``, ``U`` (``m x r``) and ``V``
    (``n x r``) random orthonormal, ``r = len(sigma) <= min(m, n)``."""
    sigma = np.asarray(sigma, dtype=np.float64)
    rng = np.random.default_rng(seed)
    U = haar(m, sigma.size, rng)
    V = haar(n, sigma.size, rng)
    return (U * sigma) @ V.T, U, sigma, V


def low_rank(m: int, n: int, r: int, seed: int, kappa: float = 10.0):
    """An exactly rank-``r`` ``A`` (``(A, U, sigma, V)``), singular values log-spaced from 1
    down to ``1 / kappa`` (distinct when ``kappa > 1``)."""
    return with_spectrum(m, n, np.logspace(0, -math.log10(kappa), r), seed)


def symmetric(n: int, eigenvalues, seed: int):
    """``(A, V)``: ``A = V diag(eigenvalues) V^T``, ``V`` (``n x r``) random orthonormal."""
    w = np.asarray(eigenvalues, dtype=np.float64)
    V = haar(n, w.size, np.random.default_rng(seed))
    return (V * w) @ V.T, V


# -- references ------------------------------------------------------------------------------


def f64(x) -> np.ndarray:
    """Any backend's array as NumPy float64 (for the exact checks)."""
    return np.asarray(to_numpy(x), dtype=np.float64)


def reconstruct(U, s, Vh) -> np.ndarray:
    """``U diag(s) Vh`` in float64."""
    return (f64(U) * f64(s)) @ f64(Vh)


def spectral(X) -> float:
    """``||X||_2`` in float64 (LAPACK SVD)."""
    return float(np.linalg.norm(f64(X), 2))


def orthonormality(U) -> float:
    """``||U^T U - I||_2`` in float64."""
    U = f64(U)
    return spectral(U.T @ U - np.eye(U.shape[1]))


def projector_distance(P, Q) -> float:
    """``||P P^T - Q Q^T||_2`` for orthonormal ``P`` and ``Q``: the sine of the largest angle
    between the subspaces (``1`` when they differ in dimension)."""
    P, Q = f64(P), f64(Q)
    return spectral(P @ P.T - Q @ Q.T)


def flip_signs(U, Vh=None):
    """The library's sign convention applied to a reference: the entry of largest magnitude in
    each column of ``U`` positive."""
    U = f64(U)
    signs = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])])
    signs[signs == 0] = 1.0
    return (U * signs, None if Vh is None else f64(Vh) * signs[:, None])


def align_columns(U, reference) -> np.ndarray:
    """``U`` with each column's sign chosen to match ``reference`` (eigenvectors have no sign
    convention)."""
    U, reference = f64(U), f64(reference)
    signs = np.sign(np.sum(U * reference, axis=0))
    signs[signs == 0] = 1.0
    return U * signs


def optimal_rank(sigma, tol: float) -> int:
    """The smallest ``r`` with ``sqrt(sum_{j > r} sigma_j**2) <= tol ||A||_F``: the rank a
    truncated SVD needs to meet the relative Frobenius tolerance."""
    squares = np.sort(np.asarray(sigma, dtype=np.float64))[::-1] ** 2
    tails = np.append(np.cumsum(squares[::-1])[::-1], 0.0)  # tails[r] = sum_{j > r}
    return int(np.argmax(tails <= tol**2 * squares.sum()))


def hmt_expected_bound(sigma, k: int, p: int) -> float:
    """Halko, Martinsson & Tropp (2011), Theorem 10.6: with a Gaussian test matrix of
    ``k + p`` columns (``p >= 2``) and no power iteration,
    ``E ||A - Q Q^T A|| <= (1 + sqrt(k / (p - 1))) sigma_{k+1}
    + e sqrt(k + p) / p * sqrt(sum_{j > k} sigma_j**2)``."""
    sigma = np.asarray(sigma, dtype=np.float64)
    tail = math.sqrt(float(np.sum(sigma[k:] ** 2)))
    return (1 + math.sqrt(k / (p - 1))) * sigma[k] + math.e * math.sqrt(k + p) / p * tail


# -- tolerances ------------------------------------------------------------------------------


def recovery_tolerance(shape, dtype) -> float:
    """``16 eps (m + n)``: relative (to ``||A||_2``) error allowed for the exact recovery of an
    exactly low-rank matrix (see the module docstring)."""
    m, n = shape
    return 16 * eps(dtype) * (m + n)


def orthonormality_tolerance(width: int, dtype) -> float:
    """``16 eps sqrt(width)`` for ``||U^T U - I||_2`` (see the module docstring)."""
    return 16 * eps(dtype) * math.sqrt(width)


def nystrom_tolerance(n: int, width: int, rank: int, frobenius: float, dtype) -> float:
    """Absolute error allowed for the shifted Nyström approximation of an exactly rank-``rank``
    PSD matrix from ``width > rank`` test vectors.

    The algorithm (Tropp et al. 2017, Alg. 3) forms the Nyström approximation of ``A + nu I``,
    ``nu = sqrt(n) eps ||Y||_F <= sqrt(n) eps ||A||_F`` (``Y = A Omega``, ``Omega``
    orthonormal), and subtracts ``nu``. By HMT's Theorem 9.1 applied to ``(A + nu I)^(1/2)``
    split at ``rank``, what that leaves is ``nu (1 + ||Omega_2 Omega_1^+||**2)``, and for a
    Gaussian test matrix ``||Omega_2 Omega_1^+|| ~ (sqrt(n) + sqrt(width)) /
    (sqrt(width) - sqrt(rank))`` (the extreme singular values of Gaussian blocks). So we allow
    ``nu_max (1 + (sqrt(n) + sqrt(width))**2 / (sqrt(width) - sqrt(rank))**2)``. Measured over
    400 random problems (n <= 400): at most 0.35 times that, median 0.11: the shift, not the
    rounding, sets the accuracy (``~1500 eps ||A||`` at n = 400, rank 6, width 18)."""
    nu = math.sqrt(n) * eps(dtype) * frobenius
    ratio = (math.sqrt(n) + math.sqrt(width)) ** 2 / (math.sqrt(width) - math.sqrt(rank)) ** 2
    return nu * (1 + ratio)
