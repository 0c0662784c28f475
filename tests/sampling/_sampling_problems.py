"""Test matrices, dense references and tolerances shared by the sampling tests (leverage scores
and Lewis weights).

Every generator is seeded and returns a NumPy float64 array and its exact rank (cast it for the
float32 tests). Every reference is computed here, in float64, from LAPACK's SVD or with mpmath,
never with sketchla.

References. The leverage score of row ``i`` is computed as ``||a_i^T V_r diag(1 / s_r)||**2``
from the SVD ``A = U diag(s) V^T`` truncated to the known rank ``r``, not as ``||U[i]||**2``:
the rows of ``U`` are accurate only to ``u`` in absolute terms, so a row of score ``1e-24`` (a
heavy-tailed family's smallest) would carry a relative error ``u / sqrt(tau) ~ 1e-4``, while
``a_i^T V_r diag(1 / s_r)`` is accurate to a relative ``~ u kappa`` on every row (checked
against mpmath at 50 digits: 1e-10 at kappa 1.4e6, on rows of score 5e-8).

Tolerances (derived from the unit of the dtype under test, never fitted to one run):

* :func:`backward_error` ``= 16 eps (n + d)``: the normwise backward error allowed for a
  Householder QR or an SVD of an ``n x d`` matrix, relative to ``||A||_2`` (Higham, *Accuracy
  and Stability of Numerical Algorithms*, ch. 19; the constant of the low-rank tests).
* :func:`leverage_bound`: the computed scores are the exact ones of ``A + dA`` with
  ``||dA|| <= beta ||A||`` (``beta`` the backward error). The column space then turns by
  ``sin theta <= beta kappa`` (Wedin), and the rows of the computed orthonormal basis differ
  from those of an exact one by ``delta = beta (1 + kappa)`` (the loss of orthonormality plus the
  turn), so ``|tau_hat_i - tau_i| <= 2 sqrt(tau_i) delta + delta**2``. Their sum is the squared
  Frobenius norm of a basis orthonormal to ``beta``: ``|sum tau - r| <= 2 r beta``, with no
  ``kappa``.
* :func:`relative_score_error`: what the Lewis residual (a relative quantity on every row) may
  gain from rounding in the scores. The Gram route (``B^T B = L L^T``, ``tau_i = ||b_i^T
  L^{-T}||**2``) perturbs the quadratic form by ``||G^{-1/2} dG G^{-1/2}|| <= ||dG|| /
  sigma_min**2`` with ``||dG|| <= gamma_{n d + 2 d**2} ||B||**2`` (the product, the Cholesky
  factor and the solve; ``gamma_m <= 2 m u = m eps``): ``rho = eps (n + 2 d) d kappa**2`` on
  every row (for a full column rank only: a singular Gram matrix has no Cholesky factor). A
  backward-stable QR route gives ``(2 sqrt(tau_i) delta + delta**2) / tau_i`` with
  ``delta`` as above. A correct implementation may take either route, so the smaller bound is
  allowed.
* :func:`lewis_log_distance`: how far (in ``|log w - log w*|``) weights whose fixed-point
  residual is ``r`` can lie from the Lewis weights ``w*``:

  - for ``p < 4`` globally (Cohen & Peng 2015): ``W ~_a W'`` (entrywise within a factor ``a``)
    implies ``A^T W^{1-2/p} A ~_{a^|1-2/p|} A^T W'^{1-2/p} A`` and hence ``g(w) ~ g(w')`` and
    ``T(w) = g(w)^{p/2} ~_{a^|p/2-1|} T(w')``. With ``w^{2/p} = g(w) e^{f}``, ``|f| <= e' =
    -log(1 - r)``, ``|log w - log w*| <= (p/2) e' + |p/2 - 1| |log w - log w*|``, so
    ``||log w - log w*||_inf <= c_p e'`` with ``c_p = (p/2) / (1 - |p/2 - 1|)`` (1 for
    ``p <= 2``, ``p / (4 - p)`` above);
  - for every ``p``, to first order: ``F(v) = (2/p) v - log g(e^v)`` (``v = log w``) has the
    Jacobian ``J = (2/p) I + (1 - 2/p) K``, ``K = D^{-1} (P o P)`` (``P`` the projection of
    ``W^{1/2-1/p} A``, ``D = diag(P)``, ``sum D = rank``), similar through ``D^{1/2}`` to a
    symmetric matrix with eigenvalues between ``min(1, 2/p)`` and ``max(1, 2/p)``; so
    ``||D^{1/2} dv||_2 <= sqrt(rank) e' / min(1, 2/p)``. Row ``i`` of ``J dv = F`` reads
    ``dv_i = (p/2) F_i - (p/2 - 1) (K dv)_i``, and ``|(K dv)_i| <= ||D^{1/2} dv||_2`` (the
    weights ``P_ij**2 / P_ii`` sum to 1 and are at most ``P_jj``), hence
    ``||dv||_inf <= (p/2) e' (1 + |1 - 2/p| sqrt(rank) / min(1, 2/p))``. The second-order term
    is ``O(e')`` relative to this; the bound is used for ``e' <= 1e-3`` and widened by 1%.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sketchla._array import to_numpy
from sketchla.testing import eps

# -- families ----------------------------------------------------------------------------------


def haar(rows: int, columns: int, rng: np.random.Generator) -> np.ndarray:
    """``rows x columns`` with orthonormal columns, Haar distributed."""
    Q, R = np.linalg.qr(rng.standard_normal((rows, columns)))
    return Q * np.sign(np.diag(R))


def gaussian(n: int, d: int, seed: int) -> tuple[np.ndarray, int]:
    """I.i.d. standard normal entries."""
    return np.random.default_rng(seed).standard_normal((n, d)), min(n, d)


def heavy_tailed(n: int, d: int, seed: int) -> tuple[np.ndarray, int]:
    """Gaussian rows, each multiplied by a Student-t(2) draw: row norms over many decades, and
    scores down to ``1e-20`` and below."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) * rng.standard_t(2, size=(n, 1))
    return A, min(n, d)


def coherent(n: int, d: int, seed: int) -> tuple[np.ndarray, int]:
    """An identity block on top of ``1e-3`` times Gaussian noise: the first ``min(n, d)`` rows
    have leverage ``~ 1``, the rest ``~ 1e-6``."""
    A = 1e-3 * np.random.default_rng(seed).standard_normal((n, d))
    k = min(n, d)
    A[:k, :k] += np.eye(k)
    return A, k


def rank_deficient(n: int, d: int, seed: int, rank: int | None = None) -> tuple[np.ndarray, int]:
    """A product of Gaussian ``n x r`` and ``r x d`` factors: rank exactly ``r`` (default
    ``max(1, min(n, d) // 2)``), the singular values beyond ``r`` at rounding level."""
    r = max(1, min(n, d) // 2) if rank is None else rank
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, r)) @ rng.standard_normal((r, d)), r


def ill_conditioned(n: int, d: int, seed: int, kappa: float = 1e6) -> tuple[np.ndarray, int]:
    """``U diag(s) V^T``, ``U`` and ``V`` Haar, ``s`` log-spaced from 1 down to ``1 / kappa``."""
    rng = np.random.default_rng(seed)
    k = min(n, d)
    sigma = np.logspace(0, -math.log10(kappa), k)
    return (haar(n, k, rng) * sigma) @ haar(d, k, rng).T, k


FAMILIES: dict[str, Callable[[int, int, int], tuple[np.ndarray, int]]] = {
    "gaussian": gaussian,
    "heavy-tailed": heavy_tailed,
    "coherent": coherent,
    "rank-deficient": rank_deficient,
    "ill-conditioned": ill_conditioned,
}

#: Families whose rank is well defined in float32: ``kappa = 1e6`` is not (``kappa u > 0.06``
#: puts the smallest singular values at the rank threshold ``max(n, d) u sigma_1``).
FLOAT32_FAMILIES = ("gaussian", "heavy-tailed", "coherent", "rank-deficient")


def with_zero_rows(A: np.ndarray, rows) -> np.ndarray:
    """``A`` with rows of zeros inserted before the given (original) row indices."""
    return np.insert(A, list(rows), 0.0, axis=0)


def as_dtype(A: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(A, dtype=np.dtype(dtype))


# -- references --------------------------------------------------------------------------------


def f64(x) -> np.ndarray:
    """Any backend's array (or a scipy.sparse matrix) as NumPy float64."""
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.asarray(to_numpy(x), dtype=np.float64)


def singular_values(A) -> np.ndarray:
    return np.linalg.svd(f64(A), compute_uv=False)


def condition(A, rank: int) -> float:
    """``sigma_1 / sigma_rank`` in float64 (1 for a zero matrix)."""
    if rank == 0:
        return 1.0
    s = singular_values(A)
    return float(s[0] / s[rank - 1])


def leverage(A, rank: int) -> np.ndarray:
    """``tau_i = ||a_i^T V_r diag(1 / s_r)||**2`` in float64 (see the module docstring)."""
    A = f64(A)
    if rank == 0:
        return np.zeros(A.shape[0])
    _, s, Vh = np.linalg.svd(A, full_matrices=False)
    return np.sum((A @ (Vh[:rank].T / s[:rank])) ** 2, axis=1)


def ridge_leverage(A, lam: float) -> np.ndarray:
    """``a_i^T (A^T A + lam I)^{-1} a_i`` as ``||a_i^T V diag((s**2 + lam)**-1/2)||**2`` (the rows
    of ``A`` lie in the span of its right singular vectors)."""
    A = f64(A)
    _, s, Vh = np.linalg.svd(A, full_matrices=False)
    return np.sum((A @ (Vh.T / np.sqrt(s**2 + lam))) ** 2, axis=1)


def lewis_g(A, w, p: float, rank: int) -> np.ndarray:
    """``g_i(w) = a_i^T (A^T W^{1-2/p} A)^+ a_i`` on the rows with ``w_i > 0`` (in float64):
    the leverage of the rows of ``W^{1/2-1/p} A`` over ``w_i^{1-2/p}``."""
    A, w = f64(A), f64(w)
    keep = w > 0
    B = A[keep] * (w[keep] ** (0.5 - 1 / p))[:, None]
    return leverage(B, rank) / w[keep] ** (1 - 2 / p)


def lewis_residual(A, w, p: float, rank: int) -> float:
    """``max_i |w_i^{2/p} / g_i(w) - 1|`` over the rows with ``w_i > 0``, in float64."""
    w = f64(w)
    keep = w > 0
    return float(np.max(np.abs(w[keep] ** (2 / p) / lewis_g(A, w, p, rank) - 1)))


def scaled(A, w, p: float) -> np.ndarray:
    """``W^{1/2-1/p} A`` on the rows with ``w_i > 0``."""
    A, w = f64(A), f64(w)
    keep = w > 0
    return A[keep] * (w[keep] ** (0.5 - 1 / p))[:, None]


def lewis_reference(A, p: float, rank: int, tol: float = 1e-13, maxiter: int = 2000):
    """The Lewis weights by Cohen and Peng's plain iteration ``w <- g(w)^{p/2}`` from ``w = 1``
    (a contraction by ``|p/2 - 1|`` in ``log w``, for ``p < 4``), in float64 with the scores of
    :func:`leverage`; zero rows get 0. Stops at a fixed-point residual ``tol``."""
    assert p < 4, "the plain iteration contracts for p < 4 only"
    A = f64(A)
    keep = np.sum(A * A, axis=1) > 0
    w = np.ones(int(keep.sum()))
    for _ in range(maxiter):
        g = lewis_g(A[keep], w, p, rank)
        if np.max(np.abs(w ** (2 / p) / g - 1)) <= tol:
            break
        w = g ** (p / 2)
    else:
        raise AssertionError("the reference iteration did not converge")
    full = np.zeros(A.shape[0])
    full[keep] = w
    return full


def lewis_mpmath(A, p: float, digits: int = 50) -> np.ndarray:
    """The Lewis weights of a small full-column-rank ``A`` at ``digits`` decimal digits: the
    relaxed map ``log w <- (1 - a) log w + a (p/2) log g(w)`` (``a = 4 / (p + 2)``, which has the
    same fixed point for any ``a``) iterated from the leverage scores until the residual
    ``max_i |w_i^{2/p} / g_i(w) - 1|`` is below ``10**-(digits - 10)``. Returns float64."""
    import mpmath as mp

    A = f64(A)
    n, d = A.shape
    with mp.workdps(digits):
        rows = [[mp.mpf(float(x)) for x in row] for row in A]
        p_ = mp.mpf(p)
        a = mp.mpf(4) / (p_ + 2)
        threshold = mp.mpf(10) ** -(digits - 10)

        pairs = [(j, k) for j in range(d) for k in range(j, d)]
        outer = [[row[j] * row[k] for j, k in pairs] for row in rows]

        def g(w):
            c = [wi ** (1 - 2 / p_) for wi in w]
            M = mp.matrix(d, d)
            for t, (j, k) in enumerate(pairs):
                M[j, k] = M[k, j] = mp.fsum(ci * o[t] for ci, o in zip(c, outer, strict=True))
            Minv = mp.inverse(M)
            m = [Minv[j, k] * (1 if j == k else 2) for j, k in pairs]
            return [mp.fsum(mt * o for mt, o in zip(m, orow, strict=True)) for orow in outer]

        w = g([mp.mpf(1)] * n)  # the leverage scores
        for _ in range(5000):
            gw = g(w)
            residual = max(abs(wi ** (2 / p_) / gi - 1) for wi, gi in zip(w, gw, strict=True))
            if residual < threshold:
                return np.array([float(x) for x in w])
            w = [
                mp.exp((1 - a) * mp.log(wi) + a * (p_ / 2) * mp.log(gi))
                for wi, gi in zip(w, gw, strict=True)
            ]
    raise AssertionError("the mpmath iteration did not converge")


# -- tolerances --------------------------------------------------------------------------------


def backward_error(shape, dtype) -> float:
    """``16 eps (n + d)`` (see the module docstring)."""
    n, d = shape
    return 16 * eps(dtype) * (n + d)


def leverage_bound(tau: np.ndarray, shape, kappa: float, dtype) -> np.ndarray:
    """``2 sqrt(tau) delta + delta**2``, ``delta = beta (1 + kappa)``: the absolute error allowed
    on each exact score (see the module docstring)."""
    delta = backward_error(shape, dtype) * (1 + kappa)
    return 2 * np.sqrt(np.maximum(tau, 0)) * delta + delta**2


def sum_bound(rank: int, shape, dtype) -> float:
    """``2 r beta``: the error allowed on the sum of exact scores."""
    return 2 * max(rank, 1) * backward_error(shape, dtype)


def relative_score_error(B, rank: int, dtype) -> float:
    """The relative error allowed on each score of ``B`` (the smaller of the Gram and QR
    routes' bounds; see the module docstring)."""
    B = f64(B)
    n, d = B.shape
    kappa = condition(B, rank)
    gram = eps(dtype) * (n + 2 * d) * d * kappa**2 if rank == d else math.inf
    tau_min = float(np.min(leverage(B, rank)))
    delta = backward_error((n, d), dtype) * (1 + kappa)
    qr = (2 * math.sqrt(tau_min) * delta + delta**2) / tau_min if tau_min > 0 else math.inf
    return min(gram, qr)


def log_residual(residual: float) -> float:
    """``e' = -log(1 - r)``: the largest ``|log(w_i^{2/p} / g_i)|`` for a residual ``r``."""
    return -math.log1p(-residual) if residual < 1 else math.inf


def lewis_log_distance(p: float, e: float, rank: int) -> float:
    """The largest ``|log w_i - log w*_i|`` for weights with ``|log(w_i^{2/p} / g_i(w))| <= e``
    on every row (see the module docstring): the smaller of the global bound (``p < 4``) and
    the first-order one (``e <= 1e-3``)."""
    bounds = [math.inf]
    if p < 4:
        bounds.append((1.0 if p <= 2 else p / (4 - p)) * e)
    if e <= 1e-3:
        spread = abs(1 - 2 / p) * math.sqrt(rank) / min(1.0, 2 / p)
        bounds.append(1.01 * (p / 2) * e * (1 + spread))
    return min(bounds)
