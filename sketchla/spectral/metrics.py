"""Per-layer spectral metrics (the heavy-tailed self-regularisation quantities WeightWatcher
reports), and the two consumers of per-layer exponents from the learned-model literature.

With ``lambda_i`` the ESD of a layer (:func:`~sketchla.spectral.esd`, WeightWatcher's
convention: squared singular values, not divided by ``N``):

* ``alpha``, ``xmin``, ``ks_distance``, ``sigma``, ``n_tail``: the power-law fit of the tail;
* ``lambda_max`` and ``sv_max = sqrt(lambda_max)``, the top singular value;
* ``alpha_weighted = alpha log10(lambda_max)``;
* ``log_norm = log10(sum_i lambda_i)`` (the squared Frobenius norm),
  ``log_spectral_norm = log10(lambda_max)``, ``log_alpha_norm = log10(sum_i lambda_i^alpha)``;
* ``stable_rank = sum_i lambda_i / lambda_max``;
* ``mp_softrank = lambda_+ / lambda_max`` and ``num_spikes``, the eigenvalues above
  ``lambda_+`` plus the Tracy-Widom margin, with ``lambda_+`` the Marchenko-Pastur bulk edge
  of a random matrix of the layer's shape and Frobenius norm. WeightWatcher fits the noise
  level to a kernel density of the ESD instead, so these two differ from its values; the
  others match (see the tests).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validation as v
from .powerlaw import fit_powerlaw

__all__ = [
    "alpha_pruning_sparsities",
    "spectral_metrics",
    "tempbalance_learning_rates",
    "top_singular_value",
]


def spectral_metrics(evals: Any, shape: tuple[int, int], *, xmin: str | float = "ks") -> dict:
    """The metrics of the module docstring for one layer, from its ESD ``evals`` and the shape
    ``(N, M)`` of its matrices.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.spectral import esd, spectral_metrics
    >>> W = np.random.default_rng(0).standard_normal((200, 100))
    >>> metrics = spectral_metrics(esd(W), W.shape)
    >>> stable_rank = np.sum(W**2) / np.linalg.norm(W, 2) ** 2
    >>> bool(np.isclose(metrics["stable_rank"], stable_rank))
    True
    """
    lam = np.sort(np.asarray(evals, dtype=np.float64))
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"evals must be a non-empty 1-D array, got shape {lam.shape}")
    N, M = max(shape), min(shape)
    fit = fit_powerlaw(lam, xmin=xmin)
    lambda_max = float(lam[-1])
    total = float(np.sum(lam))
    Q = N / M
    scaled = lam * (lam.size / total)  # unit mean: a random matrix's MP law has sigma^2 = 1
    bulk_max = (1 + 1 / math.sqrt(Q)) ** 2
    tracy_widom = math.sqrt(bulk_max ** (2 / 3) * M ** (-2 / 3) / math.sqrt(Q))
    # log10(sum lambda^alpha) without overflowing lambda^alpha
    log_alpha_norm = fit.alpha * math.log10(lambda_max) + math.log10(
        float(np.sum((lam / lambda_max) ** fit.alpha))
    )
    return {
        "alpha": fit.alpha,
        "xmin": fit.xmin,
        "ks_distance": fit.ks_distance,
        "sigma": fit.sigma,
        "n_tail": fit.n_tail,
        "lambda_max": lambda_max,
        "sv_max": math.sqrt(lambda_max),
        "alpha_weighted": fit.alpha * math.log10(lambda_max),
        "log_norm": math.log10(total),
        "log_spectral_norm": math.log10(lambda_max),
        "log_alpha_norm": log_alpha_norm,
        "stable_rank": total / lambda_max,
        "mp_softrank": bulk_max / float(scaled[-1]),
        "num_spikes": int(np.sum(scaled > bulk_max + tracy_widom)),
    }


def top_singular_value(W: Any, *, seed: Any = None) -> float:
    """``||W||_2`` by randomized power iteration (:func:`sketchla.lowrank.estimate_norm`),
    for when the full ESD is not needed."""
    from ..lowrank import estimate_norm

    return float(estimate_norm(W, seed=seed).estimate)


def tempbalance_learning_rates(
    alphas: Any, base_lr: float, *, min_ratio: float = 0.5, max_ratio: float = 1.5
) -> np.ndarray:
    """Layer-wise learning rates of TempBalance (Zhou et al., NeurIPS 2023): a linear map of
    each layer's alpha from ``[min alpha, max alpha]`` onto ``[min_ratio, max_ratio] base_lr``,
    so heavier-tailed (better-trained, smaller alpha) layers get smaller rates.

    Examples
    --------
    >>> from sketchla.spectral import tempbalance_learning_rates
    >>> tempbalance_learning_rates([2.0, 3.0, 4.0], 0.1).round(3).tolist()
    [0.05, 0.1, 0.15]
    """
    a = _check_alphas(alphas)
    if not (0 < min_ratio <= max_ratio < math.inf):
        raise ValueError(
            f"need 0 < min_ratio <= max_ratio, got min_ratio={min_ratio!r}, max_ratio={max_ratio!r}"
        )
    base = float(base_lr)
    if not base > 0:
        raise ValueError(f"base_lr must be positive, got {base_lr!r}")
    spread = a.max() - a.min()
    if spread == 0:
        return np.full(a.shape, base * (min_ratio + max_ratio) / 2)
    return base * (min_ratio + (a - a.min()) / spread * (max_ratio - min_ratio))


def alpha_pruning_sparsities(
    alphas: Any, sizes: Any, target_sparsity: float, *, epsilon: float = 0.3
) -> np.ndarray:
    """Layer-wise sparsities of AlphaPruning (Lu et al., NeurIPS 2024; the reference code's
    ``ww_sparsity``): alpha mapped linearly onto ``[1 - epsilon, 1 + epsilon]`` (heavier-tailed
    layers, of smaller alpha, get the smaller factor), then scaled so that the
    parameter-weighted mean sparsity is the target ``s``. A layer pushed above sparsity 1 is an
    error (lower ``epsilon`` or ``s``), not silently clipped.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.spectral import alpha_pruning_sparsities
    >>> s = alpha_pruning_sparsities([2.0, 3.0, 4.0], [100, 100, 100], 0.5, epsilon=0.2)
    >>> s.round(2).tolist(), round(float(np.average(s, weights=[100, 100, 100])), 12)
    ([0.4, 0.5, 0.6], 0.5)
    """
    a = _check_alphas(alphas)
    n = np.asarray(sizes, dtype=np.float64)
    if n.shape != a.shape or not np.all(np.isfinite(n) & (n > 0)):
        raise ValueError("sizes must be positive and finite, one per alpha")
    s = float(target_sparsity)
    if not 0 <= s < 1:
        raise ValueError(f"target_sparsity must lie in [0, 1), got {target_sparsity!r}")
    eps = float(epsilon)
    if not 0 <= eps < 1:
        raise ValueError(f"epsilon must lie in [0, 1), got {epsilon!r}")
    spread = a.max() - a.min()
    factor = np.ones_like(a) if spread == 0 else 1 - eps + (a - a.min()) / spread * 2 * eps
    sparsities = factor * (s / np.average(factor, weights=n))
    if sparsities.max() > 1:
        raise ValueError(
            f"target_sparsity={s!r} with epsilon={eps!r} asks a layer for sparsity "
            f"{sparsities.max():.3f} > 1: lower epsilon or the target"
        )
    return sparsities


def _check_alphas(alphas: Any) -> np.ndarray:
    a = np.asarray(alphas, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"alphas must be a non-empty 1-D array, got shape {a.shape}")
    v.check_finite(a, "alphas")
    return a
