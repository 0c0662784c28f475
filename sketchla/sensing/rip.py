"""The restricted isometry constant of a measurement operator, estimated: :func:`rip_constant`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _validation as v
from .._array.namespace import namespace_for
from .operators import MeasurementOperator

__all__ = ["RIPEstimate", "rip_constant"]


@dataclass(frozen=True)
class RIPEstimate:
    """Extremes of ``||A(M)||^2 / ||M||_F^2`` found over rank-``rank`` matrices ``M``.

    Attributes
    ----------
    delta : float
        ``max(upper - 1, 1 - lower)``: a lower bound on the restricted isometry constant
        ``delta_rank`` (computing it exactly is NP-hard; the search finds matrices attaining
        these ratios, so the true constant is at least this).
    lower, upper : float
        The smallest and largest ratio found.
    rank : int
    """

    delta: float
    lower: float
    upper: float
    rank: int


def rip_constant(
    operator: MeasurementOperator,
    rank: int,
    *,
    starts: int = 4,
    iterations: int = 30,
    dtype: Any = None,
    xp: Any = None,
    device: Any = None,
    seed: Any = None,
) -> RIPEstimate:
    """Estimate the rank-``rank`` restricted isometry constant ``delta`` of ``operator``.

    ``delta_r`` is the smallest ``delta`` with ``(1 - delta) ||M||_F^2 <= ||A(M)||^2 <= (1 +
    delta) ||M||_F^2`` for every ``M`` of rank at most ``r``. The search runs the projected
    power method from ``starts`` random rank-``r`` matrices: ``M <- P_r(A*A(M))`` climbs to a
    large ratio and ``M <- P_r(c M - A*A(M))`` (``c`` the largest ratio found) descends to a
    small one, ``P_r`` the truncated SVD. Every ratio it reports is attained, so the result is a
    lower bound on ``delta_r``, usually tight to a few percent for random operators.

    Parameters
    ----------
    operator : MeasurementOperator
    rank : int
        ``r``, at most ``min(n1, n2)``.
    starts, iterations : int
        Random starting matrices per side, and projected power steps from each.
    dtype, xp, device
        Where to compute (default float64 NumPy).
    seed : None, int or sketchla.random.Generator
        For the starting matrices.

    Returns
    -------
    RIPEstimate

    Examples
    --------
    >>> from sketchla.sensing import GaussianMeasurements, rip_constant
    >>> A = GaussianMeasurements((30, 30), 3000, seed=0)
    >>> est = rip_constant(A, 2, seed=1)
    >>> bool(est.lower < 1 < est.upper and est.delta < 0.5)
    True
    """
    if not isinstance(operator, MeasurementOperator):
        raise TypeError(f"operator must be a MeasurementOperator, got {type(operator).__name__}")
    n1, n2 = operator.shape
    r = v.check_int(rank, "rank", minimum=1, maximum=min(n1, n2))
    starts = v.check_positive_int(starts, "starts")
    iterations = v.check_int(iterations, "iterations", minimum=0)
    xp = namespace_for(xp)
    dtype = v.check_dtype(dtype, xp, device=device)
    generator = v.check_seed(seed)

    def ratio(M: Any) -> float:
        return float(xp.sum(operator._apply(M) ** 2)) / float(xp.sum(M**2))

    def project(X: Any) -> Any:
        U, s, Vh = xp.linalg.svd(X, full_matrices=False)
        M = (U[:, :r] * s[:r]) @ Vh[:r, :]
        return M / xp.linalg.vector_norm(M)

    def gram(M: Any) -> Any:
        return operator._adjoint(operator._apply(M))

    def random_start() -> Any:
        left = generator.normal((n1, r), dtype=dtype, xp=xp, device=device)
        right = generator.normal((n2, r), dtype=dtype, xp=xp, device=device)
        M = left @ xp.matrix_transpose(right)
        return M / xp.linalg.vector_norm(M)

    upper, lower = 0.0, float("inf")
    for _ in range(starts):
        M = random_start()
        upper, lower = max(upper, ratio(M)), min(lower, ratio(M))
        for _ in range(iterations):
            M = project(gram(M))
            upper = max(upper, ratio(M))
    shift = upper
    for _ in range(starts):
        M = random_start()
        lower = min(lower, ratio(M))
        for _ in range(iterations):
            M = project(shift * M - gram(M))
            lower = min(lower, ratio(M))
    return RIPEstimate(delta=max(upper - 1.0, 1.0 - lower), lower=lower, upper=upper, rank=r)
