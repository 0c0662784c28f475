"""Regression with an l_inf guarantee (Song, Ye, Yin & Zhang, ICML 2023).

For a dense sketch ``S`` with ``m = c * eps**-2 * d * log(n / delta)**3`` rows (Gaussian, or a
subsampled randomized Hadamard transform), the sketch-and-solve solution
``x' = argmin ||S A x - S b||`` satisfies, with probability at least ``1 - delta``,

    ||x' - x*||_inf <= (eps / sqrt(d)) * ||A x* - b||_2 * ||A^+||_2,

every coordinate of ``x'`` is accurate, not only their norm (an l_2 guarantee spreads its error
as it likes). Sparse sketches (CountSketch) and leverage-score sampling provably lack this
property (Price, Song & Woodruff 2017): it comes from the dense sketch's "oblivious coordinate
embedding", ``|g^T S^T S h - g^T h| <= (eps / sqrt(d)) ||g|| ||h||`` for fixed ``g, h``.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _validation as v
from .result import LstsqResult
from .solve import lstsq

__all__ = ["linf_sketch_size", "lstsq_linf"]

LINF_SKETCHES = ("srht", "gaussian")


def linf_sketch_size(n: int, d: int, *, eps: float, delta: float, c: float = 1.0) -> int:
    """The sketch size ``ceil(c * eps**-2 * d * log(n / delta)**3)`` of the l_inf guarantee.

    Examples
    --------
    >>> from sketchla.lstsq import linf_sketch_size
    >>> linf_sketch_size(10**6, 10, eps=0.5, delta=0.01, c=1e-3)
    251
    """
    n = v.check_positive_int(n, "n")
    d = v.check_positive_int(d, "d")
    eps, delta, c = _check_parameters(eps, delta, c)
    return math.ceil(c * d * math.log(n / delta) ** 3 / eps**2)


def lstsq_linf(
    A: Any,
    b: Any,
    *,
    eps: float,
    delta: float,
    sketch: str = "srht",
    c: float = 1.0,
    seed: Any = None,
) -> LstsqResult:
    """Sketch-and-solve least squares with an entrywise (l_inf) error guarantee.

    Parameters
    ----------
    A : array
        ``(n, d)`` with ``n > d``, dense (any backend) or ``scipy.sparse``.
    b : array
        ``(n,)`` or ``(n, k)``.
    eps : float
        Accuracy, in ``(0, 1]``.
    delta : float
        Failure probability, in ``(0, 1)``.
    sketch : {"srht", "gaussian"}
        A dense sketch; the guarantee does not hold for sparse ones.
    c : float
        The constant of the size rule ``m = c * eps**-2 * d * log(n / delta)**3`` (the theory's
        constant is unspecified; ``c = 1`` is safe and usually far larger than needed). When
        ``m >= n`` no sketch can help and the problem is solved to working accuracy by
        :func:`lstsq` (which satisfies the bound trivially).
    seed : None, int or sketchla.random.Generator

    Returns
    -------
    LstsqResult
        ``x`` satisfies ``||x - x*||_inf <= (eps / sqrt(d)) ||A x* - b|| ||A^+||`` with
        probability at least ``1 - delta``.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.lstsq import lstsq_linf
    >>> rng = np.random.default_rng(0)
    >>> A, b = rng.standard_normal((50_000, 5)), rng.standard_normal(50_000)
    >>> result = lstsq_linf(A, b, eps=0.5, delta=0.1, c=0.01, seed=1)
    >>> result.method, result.sketch_size
    ('sketch_and_solve', 452)
    """
    if not isinstance(sketch, str) or sketch not in LINF_SKETCHES:
        raise ValueError(
            f"sketch must be one of {', '.join(LINF_SKETCHES)} (dense sketches: the l_inf "
            f"guarantee fails for sparse ones), got {sketch!r}"
        )
    shape = getattr(A, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(f"A must be 2-D, got {type(A).__name__} of shape {shape}")
    n, d = shape
    if n <= d:
        raise ValueError(f"lstsq_linf needs a tall A (n > d), got shape {tuple(shape)}")
    m = linf_sketch_size(n, d, eps=eps, delta=delta, c=c)
    if m <= d:
        raise ValueError(
            f"the size rule gives m = {m} sketch rows for d = {d} columns; a sketch needs more "
            f"rows than columns: increase c (now {c})"
        )
    if m >= n:  # no sketch this large helps: the solution itself, to working accuracy
        return lstsq(A, b, seed=seed)
    return lstsq(A, b, method="sketch_and_solve", sketch=sketch, sketch_size=m, seed=seed)


def _check_parameters(eps: Any, delta: Any, c: Any) -> tuple[float, float, float]:
    for name, value in (("eps", eps), ("delta", delta), ("c", c)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a real number, got {value!r}")
    if not 0 < eps <= 1:
        raise ValueError(f"eps must be in (0, 1], got {eps!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if not 0 < c < math.inf:
        raise ValueError(f"c must be a positive finite number, got {c!r}")
    return float(eps), float(delta), float(c)
