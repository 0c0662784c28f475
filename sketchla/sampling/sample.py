"""Row sampling for l_p subspace embeddings: keep row ``i`` with probability ``q_i`` and rescale
it by ``q_i^{-1/p}``, so that ``||S A x||_p^p`` is an unbiased estimate of ``||A x||_p^p`` for
every ``x`` (Woodruff & Yasuda 2023, Section 1).

Two schemes draw the rows:

* independent (Bernoulli, ``replace=False``): row ``i`` is kept with ``q_i = min(1, c s_i)``,
  ``c`` chosen so that ``sum q_i = m`` (the expected sample size);
* with replacement (``replace=True``): ``m`` draws from ``pi_i = s_i / sum s``, each scaled by
  ``(m pi_i)^{-1/p}``.

The importances ``s_i`` are given, or computed by a named scheme: ``"sensitivity"`` (the exact
sensitivities: small ``n``), ``"lewis"`` (l_p Lewis weights), ``"root_leverage"``
(``tau_i^{p/2}``), ``"augmented"`` (a sensitivity bound plus ``tau_i``, Munteanu & Omlor 2024),
or ``"uniform"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._array import array_namespace, to_numpy
from ._input import check_exponent, check_input_matrix
from .leverage import leverage_scores
from .lewis import lewis_weights
from .sensitivity import sensitivities

__all__ = ["SCHEMES", "SampledRows", "importances", "sample_rows"]

SCHEMES = ("sensitivity", "lewis", "root_leverage", "augmented", "uniform")

#: Fixed-point residual of the Lewis weights a scheme computes: a sample needs importances
#: within a constant factor (1 % costs 5 to 10 rounds at p = 1 instead of about 20).
SCHEME_TOL = 1e-2


@dataclass(frozen=True)
class SampledRows:
    """The rows kept (``indices``, NumPy ``int64``; repeated with replacement) and the factor
    each is multiplied by (``weights``, NumPy ``float64``): the sampled matrix is
    ``weights[:, None] * A[indices]``, see :meth:`apply`."""

    indices: np.ndarray
    weights: np.ndarray

    def apply(self, A: Any) -> Any:
        """``diag(weights) A[indices]`` for a dense array of any backend or a sparse matrix."""
        if sp.issparse(A):
            return sp.csr_array(sp.diags(self.weights) @ sp.csr_array(A)[self.indices])
        xp = array_namespace(A)
        index = xp.asarray(self.indices, device=A.device)
        weights = xp.asarray(self.weights, dtype=A.dtype, device=A.device)
        return xp.take(A, index, axis=0) * xp.reshape(weights, (-1, 1))

    def __len__(self) -> int:
        return int(self.indices.shape[0])


def importances(A: Any, scheme: str, p: float) -> np.ndarray:
    """The scheme's importance of each row of ``A`` (NumPy float64, ``(n,)``)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES} or an array, got {scheme!r}")
    if scheme == "uniform":
        return np.ones(A.shape[0])
    if scheme == "sensitivity":
        values = sensitivities(A, p, method="exact")
    elif scheme == "lewis":  # sampling needs them within a constant factor, not to sqrt(u)
        values = lewis_weights(A, p, tol=SCHEME_TOL).weights
    elif scheme == "root_leverage":
        values = leverage_scores(A) ** (p / 2)
    else:
        values = sensitivities(A, p, method="augmented")
    return np.asarray(to_numpy(values), dtype=np.float64)


def sample_rows(
    A: Any,
    probs: Any,
    *,
    p: float = 2.0,
    m: int | None = None,
    replace: bool = False,
    seed: Any = None,
) -> SampledRows:
    """Sample rows of ``A`` by importance, rescaled for l_p: ``||S A x||_p^p ~ ||A x||_p^p``.

    Parameters
    ----------
    A : array or scipy.sparse matrix
        ``(n, d)``.
    probs : str or array
        A scheme (``"sensitivity"``, ``"lewis"``, ``"root_leverage"``, ``"augmented"``,
        ``"uniform"``), or ``n`` non-negative importances (any scale; not all zero).
    p : float
        The norm the sample preserves (``p >= 1``): rows are rescaled by ``q_i^{-1/p}``, and the
        schemes are computed for it.
    m : int, optional
        Expected sample size (exact with replacement). Default ``min(n, ceil(10 d log(d + 1)))``.
    replace : bool
        ``False``: independent Bernoulli draws; ``True``: ``m`` draws with replacement.
    seed : None, int or sketchla.random.Generator

    Returns
    -------
    SampledRows

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sampling import sample_rows
    >>> A = np.random.default_rng(0).standard_normal((20000, 3))
    >>> rows = sample_rows(A, "lewis", p=1, m=2000, seed=0)
    >>> x = np.ones(3)
    >>> ratio = np.abs(rows.apply(A) @ x).sum() / np.abs(A @ x).sum()
    >>> bool(abs(ratio - 1) < 0.1)
    True
    """
    A = check_input_matrix(A)
    p = check_exponent(p)
    n, d = A.shape
    if isinstance(probs, str):
        if probs not in SCHEMES:
            raise ValueError(f"probs must be one of {SCHEMES} or an array, got {probs!r}")
        scores = importances(A, probs, p)
    else:
        scores = np.asarray(to_numpy(v.check_vector(probs, "probs", length=n)), np.float64)
        if np.any(scores < 0):
            raise ValueError("probs must be non-negative")
    total = float(scores.sum())
    if not total > 0:
        raise ValueError("probs must have a positive entry (every importance is zero)")
    if m is None:
        m = min(n, math.ceil(10 * d * math.log(d + 1)))
    m = v.check_int(m, "m", minimum=1)
    if not isinstance(replace, (bool, np.bool_)):
        raise TypeError(f"replace must be True or False, got {replace!r}")
    generator = v.check_seed(seed)
    if replace:
        pi = scores / total
        indices = np.asarray(generator.choice(n, m, replace=True, p=pi), dtype=np.int64)
        weights = (m * pi[indices]) ** (-1.0 / p)
        return SampledRows(indices, weights)
    if m > int(np.count_nonzero(scores)):
        raise ValueError(
            f"m must be at most the number of rows with positive importance "
            f"({int(np.count_nonzero(scores))}) for sampling without replacement, got {m}"
        )
    q = inclusion_probabilities(scores, m)
    keep = np.asarray(generator.uniform(n), dtype=np.float64) < q
    indices = np.flatnonzero(keep).astype(np.int64)
    return SampledRows(indices, q[indices] ** (-1.0 / p))


def inclusion_probabilities(scores: np.ndarray, m: int) -> np.ndarray:
    """``q_i = min(1, c s_i)`` with ``sum q_i = m`` (``m`` at most the nonzero count): the rows
    whose scaled score exceeds 1 are capped, and ``c`` is found for the rest, largest first."""
    order = np.argsort(scores)[::-1]
    sorted_scores = scores[order]
    tail = np.cumsum(sorted_scores[::-1])[::-1]  # tail[j] = sum of sorted_scores[j:]
    q = np.empty_like(scores)
    for capped in range(m + 1):  # the first `capped` rows get q = 1
        c = (m - capped) / tail[capped] if capped < scores.shape[0] and tail[capped] > 0 else 0
        if capped == scores.shape[0] or c * sorted_scores[capped] <= 1:
            break
    q_sorted = np.minimum(1.0, c * sorted_scores)
    q_sorted[:capped] = 1.0
    q[order] = q_sorted
    return q
