"""Test problems shared by the completion tests: incoherent low-rank matrices, uniform samples
of their entries, per-target least-squares references, and the unit roundoffs the tolerances
are built from.

Every generator is seeded and returns NumPy float64 arrays.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

from sketchla.completion.observations import Index, observations
from sketchla.errors import SketchlaWarning

U64 = float(np.finfo(np.float64).eps) / 2  # unit roundoff of float64
U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32

#: Recovery tolerance of a noise-free float64 problem: the iteration stops at ``tol = 1e-9`` on
#: the observed entries' relative residual, and a converged, well-sampled incoherent problem's
#: held-out error is of the same order (measured 1e-10 to 1e-9), so 1e-6 leaves three orders of
#: magnitude for the held-out entries' amplification.
FLOAT64_BOUND = 1e-6

#: Float32 data are the float64 matrix rounded entrywise (relative error ``u32`` each), so no
#: rank-``k`` fit is exact: the completion carries that perturbation times the problem's
#: sensitivity, O(1) for these well-sampled incoherent problems (measured: total error 0.4 to
#: 0.6 ``eps32``), plus the float32 rounding of the returned ``U``, ``V`` and of the ``k``-term
#: products of ``to_dense`` (at most ``(k + 2) u32`` relative). ``128 u32 = 64 eps32``
#: (7.6e-6) leaves a factor of 100 over the measurement.
FLOAT32_BOUND = 128 * U32


def low_rank(m: int, n: int, k: int, seed: int) -> np.ndarray:
    """``G @ H`` with standard normal ``G`` (``m x k``) and ``H`` (``k x n``): rank ``k`` and,
    with high probability, incoherent (its singular vectors spread over all coordinates)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, k)) @ rng.standard_normal((k, n))


def sample_size(m: int, n: int, k: int, C: float) -> int:
    """``C (m + n) k log(m + n)``, the sample size exact recovery needs, capped at ``m n``."""
    return min(math.ceil(C * (m + n) * k * math.log(m + n)), m * n)


def uniform_entries(m: int, n: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct entries ``(rows, cols)`` drawn uniformly, in random order."""
    rng = np.random.default_rng(seed + 10_000)
    linear = rng.choice(m * n, size=count, replace=False)
    rows, cols = np.unravel_index(linear, (m, n))
    return rows.astype(np.int64), cols.astype(np.int64)


def completion_problem(m: int, n: int, k: int, C: float, seed: int):
    """``(M, rows, cols)``: a rank-``k`` matrix and ``sample_size(m, n, k, C)`` uniform
    entries."""
    M = low_rank(m, n, k, seed)
    rows, cols = uniform_entries(m, n, sample_size(m, n, k, C), seed)
    return M, rows, cols


def relative_error(estimate, truth) -> float:
    estimate = np.asarray(estimate, dtype=np.float64)
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


def held_out(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Boolean mask of the entries *not* in ``(rows, cols)``."""
    mask = np.ones(shape, dtype=bool)
    mask[rows, cols] = False
    return mask


@contextlib.contextmanager
def quiet():
    """Ignore sketchla's warnings (the suite turns them into errors) in tests whose subject is
    not the warning: properties that hold whether or not an iteration converged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SketchlaWarning)
        yield


# -- half-step problems --------------------------------------------------------------------


def orthonormal_factor(p: int, k: int, seed: int) -> np.ndarray:
    """Orthonormal ``p x k`` factor, the Q of a Gaussian matrix: incoherent with high
    probability, so its uniformly sampled rows are well conditioned."""
    rng = np.random.default_rng(seed)
    return np.linalg.qr(rng.standard_normal((p, k)))[0]


def target_index(p: int, counts, seed: int) -> Index:
    """An :class:`Index` of ``len(counts)`` targets, target ``t`` observing ``counts[t]``
    distinct uniformly drawn positions of a ``p``-row factor (standard normal values), built
    through :func:`observations` as the half-step for ``V`` sees it (``by_col``)."""
    rng = np.random.default_rng(seed)
    positions = [rng.choice(p, size=int(c), replace=False) for c in counts]
    targets = [np.full(int(c), t) for t, c in enumerate(counts)]
    rows = np.concatenate(positions).astype(np.int64)
    cols = np.concatenate(targets).astype(np.int64)
    values = rng.standard_normal(rows.shape[0])
    obs, _, _ = observations((rows, cols, values), (p, len(counts)))
    return obs.by_col


def target_problem(F: np.ndarray, index: Index, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Target ``t``'s least-squares problem ``(A, b)``: ``min ||A x - b||``."""
    lo, hi = index.ptr[t], index.ptr[t + 1]
    return F[index.positions[lo:hi]], index.values[lo:hi]


def minimum_norm(A: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    if A.shape[0] == 0:
        return np.zeros(k)
    return np.linalg.lstsq(A, b, rcond=None)[0]


def sketched_gram(A: np.ndarray, buckets: np.ndarray, signs: np.ndarray, s: int) -> np.ndarray:
    """``(S A)^T (S A)`` for the CountSketch ``S`` that sends row ``q`` of ``A`` to row
    ``buckets[q]`` of ``s`` with sign ``signs[q]``."""
    SA = np.zeros((s, A.shape[1]))
    np.add.at(SA, buckets, signs[:, None] * A)
    return SA.T @ SA


def normal_equations_bound(A: np.ndarray) -> float:
    """Relative forward error allowed for a solve of ``min ||A x - b||`` (full-rank ``A``)
    through its ``k x k`` normal equations: a backward-stable solve of ``A^T A x = A^T b`` errs
    by ``cond(A^T A) u = cond(A)^2 u`` times a modest constant, taken as ``16 k`` for forming
    ``A^T A`` and ``A^T b`` and for the Cholesky factorization."""
    k = A.shape[1]
    return 16 * k * U64 * np.linalg.cond(A) ** 2
