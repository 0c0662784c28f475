"""Reproducible sensing experiments: a planted low-rank matrix, its measurements, one descent,
the error history, and fits of its rate (:func:`run_sensing_experiment`, :func:`fit_linear_rate`,
:func:`fit_power_law`, :func:`plot_error_histories`)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validation as v
from .._array.namespace import namespace_for, to_numpy
from ..errors import SketchlaWarning
from .gd import SensingResult, asymmetric_gd, symmetric_gd
from .operators import MeasurementOperator, degrees_of_freedom, measurement_operator

__all__ = [
    "PARAMETERIZATIONS",
    "SensingExperiment",
    "fit_linear_rate",
    "fit_power_law",
    "planted_low_rank",
    "plot_error_histories",
    "run_sensing_experiment",
]

PARAMETERIZATIONS = ("symmetric", "asymmetric")


@dataclass(frozen=True)
class SensingExperiment:
    """One run of :func:`run_sensing_experiment`.

    Attributes
    ----------
    truth : array
        The planted ``M*`` (top singular value 1).
    operator : MeasurementOperator
    result : SensingResult
        The descent, with ``error_history`` = ``||estimate - M*||_F^2`` per step.
    parameterization : str
    rank, k : int
        ``r`` of ``M*`` and the columns of the factors.
    init_scale, step : float
    """

    truth: Any
    operator: MeasurementOperator
    result: SensingResult
    parameterization: str
    rank: int
    k: int
    init_scale: float
    step: float

    @property
    def errors(self) -> np.ndarray:
        """``||estimate_t - M*||_F^2`` for ``t = 0, 1, ...`` as a NumPy array."""
        return np.asarray(self.result.error_history, dtype=np.float64)

    @property
    def label(self) -> str:
        extra = "" if self.result.one_step_at is None else ", one step"
        return f"{self.parameterization}, k={self.k}, α={self.init_scale:g}{extra}"


def planted_low_rank(
    shape: Any,
    rank: int,
    *,
    symmetric: bool = False,
    condition_number: float = 2.0,
    seed: Any = None,
    dtype: Any = None,
    xp: Any = None,
    device: Any = None,
) -> Any:
    """A random rank-``rank`` matrix ``U diag(s) V^T`` with Haar-random orthonormal ``U, V``
    (``V = U`` when ``symmetric``: PSD) and singular values from 1 down to
    ``1 / condition_number``, evenly spaced.

    Examples
    --------
    >>> import numpy as np
    >>> M = planted_low_rank((30, 30), 3, symmetric=True, seed=0)
    >>> s = np.linalg.svd(M, compute_uv=False)
    >>> np.round(s[:4], 12).tolist(), bool(np.allclose(M, M.T))
    ([1.0, 0.75, 0.5, 0.0], True)
    """
    n1, n2 = v.check_shape(shape, "shape")
    r = v.check_int(rank, "rank", minimum=1, maximum=min(n1, n2))
    if symmetric and n1 != n2:
        raise ValueError(f"a symmetric matrix needs a square shape, got {(n1, n2)}")
    condition = v.check_real(condition_number, "condition_number", minimum=1)
    xp = namespace_for(xp)
    dtype = v.check_dtype(dtype, xp, device=device)
    generator = v.check_seed(seed)
    # orthonormal bases from QR on the host, then moved: the same matrix on every backend
    U = _orthonormal(to_numpy(generator.normal((n1, r))))
    W = U if symmetric else _orthonormal(to_numpy(generator.normal((n2, r))))
    s = np.linspace(1.0, 1.0 / condition, r)
    return xp.asarray((U * s) @ W.T, dtype=dtype, device=device)


def _orthonormal(Z: np.ndarray) -> np.ndarray:
    Q, R = np.linalg.qr(Z)
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def run_sensing_experiment(
    n: int,
    rank: int,
    k: int,
    *,
    parameterization: str = "asymmetric",
    n2: int | None = None,
    operator: str | MeasurementOperator = "gaussian",
    measurements: int | None = None,
    init_scale: float = 1e-2,
    step: float | None = None,
    iterations: int = 1000,
    one_step: bool | int = False,
    one_step_tol: float = 1e-2,
    condition_number: float = 2.0,
    seed: Any = 0,
    dtype: Any = None,
    xp: Any = None,
    device: Any = None,
) -> SensingExperiment:
    """Plant a rank-``rank`` matrix, measure it, and run ``iterations`` steps of descent.

    Parameters
    ----------
    n, n2 : int
        The matrix is ``n x n2`` (``n2 = n`` by default; symmetric problems are square).
    rank, k : int
        ``r`` of the planted matrix and the columns of the factors (``k > r``:
        over-parameterized).
    parameterization : {"asymmetric", "symmetric"}
        ``F G^T`` (:func:`asymmetric_gd`) or ``X X^T`` of a PSD ``M*`` (:func:`symmetric_gd`).
    operator : str or MeasurementOperator
        A kind for :func:`measurement_operator` (``"gaussian"``, ``"rank_one"``, ``"srft"``,
        ...) or a ready operator.
    measurements : int, optional
        ``m``; default ``min(n n2, 5 r (n + n2))``. Fewer than the planted matrix's degrees of
        freedom warns (:class:`~sketchla.errors.SketchlaWarning`): no method can recover it.
    init_scale, step, one_step, one_step_tol
        As in :func:`asymmetric_gd`; ``step`` defaults to 0.1 (symmetric) or 0.2 (asymmetric),
        the top singular value of ``M*`` being 1.
    iterations : int
        Steps to run: every one (``tol=0``), so histories of different runs align.
    condition_number : float
        Of the planted matrix (:func:`planted_low_rank`).
    seed : int or sketchla.random.Generator
        Fixes the matrix, the operator and the start.
    dtype, xp, device
        Where to compute (default float64 NumPy).

    Returns
    -------
    SensingExperiment

    Examples
    --------
    >>> from sketchla.sensing import fit_linear_rate, run_sensing_experiment
    >>> exp = run_sensing_experiment(20, 2, 2, iterations=600, init_scale=0.1)
    >>> bool(exp.errors[-1] < 1e-20 and fit_linear_rate(exp.errors) > 0.05)
    True
    """
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"parameterization must be one of {PARAMETERIZATIONS}, got {parameterization!r}"
        )
    symmetric = parameterization == "symmetric"
    n = v.check_positive_int(n, "n")
    n2 = n if n2 is None else v.check_positive_int(n2, "n2")
    if symmetric and n2 != n:
        raise ValueError(f"a symmetric problem is square: n2 must equal n={n}, got {n2}")
    r = v.check_int(rank, "rank", minimum=1, maximum=min(n, n2))
    k = v.check_int(k, "k", minimum=1, maximum=min(n, n2))
    generator = v.check_seed(seed)
    streams = generator.spawn(3)
    truth = planted_low_rank(
        (n, n2), r, symmetric=symmetric, condition_number=condition_number,
        seed=streams[0], dtype=dtype, xp=xp, device=device,
    )  # fmt: skip
    if isinstance(operator, MeasurementOperator):
        if operator.shape != (n, n2):
            raise ValueError(f"operator must act on {(n, n2)} matrices, got {operator.shape}")
        A = operator
    else:
        m = min(n * n2, 5 * r * (n + n2)) if measurements is None else measurements
        A = measurement_operator(operator, (n, n2), m, seed=streams[1])
    dof = degrees_of_freedom((n, n2), r, symmetric=symmetric)
    if A.m < dof:
        warnings.warn(
            f"m={A.m} measurements are fewer than the {dof} degrees of freedom of a rank-{r} "
            f"{'symmetric ' if symmetric else ''}{n} x {n2} matrix: it cannot be recovered",
            SketchlaWarning,
            stacklevel=2,
        )
    y = A(truth)
    step = (0.1 if symmetric else 0.2) if step is None else step
    options = dict(init_scale=init_scale, step=step, maxiter=iterations, tol=0.0, truth=truth)
    if symmetric:
        if one_step is not False:
            raise ValueError("the one-step modification is for the asymmetric parameterization")
        result = symmetric_gd(A, y, k, seed=streams[2], **options)
    else:
        result = asymmetric_gd(
            A, y, k, one_step=one_step, one_step_tol=one_step_tol, seed=streams[2], **options
        )
    return SensingExperiment(
        truth=truth,
        operator=A,
        result=result,
        parameterization=parameterization,
        rank=r,
        k=k,
        init_scale=float(init_scale),
        step=float(step),
    )


def fit_linear_rate(
    errors: Sequence[float], *, start: int | None = None, floor: float = 1e-24
) -> float:
    """The rate ``rho`` of ``errors_t ~ C exp(-rho t)``, by least squares on ``log errors``.

    Fitted over ``t >= start`` (default: the second half of the steps above ``floor``) and only
    where ``errors_t > floor``, which keeps rounding-level plateaus out of the fit.

    Examples
    --------
    >>> import numpy as np
    >>> round(fit_linear_rate(3 * np.exp(-0.05 * np.arange(400))), 6)
    0.05
    """
    e = _positive_history(errors)
    above = np.nonzero(e > floor)[0]
    if start is None:
        start = int(above[len(above) // 2]) if above.size else 0
    t = above[above >= start]
    if t.size < 3:
        raise ValueError(f"fewer than 3 errors above floor={floor} from start={start}")
    return float(-np.polyfit(t, np.log(e[t]), 1)[0])


def fit_power_law(errors: Sequence[float], *, start: int | None = None, stop: int | None = None):
    """The exponent ``p`` of ``errors_T ~ C T^p`` (``T = t + 1``), by least squares on
    log-log axes over ``start <= t < stop`` (default: the last two thirds of the run).

    Examples
    --------
    >>> import numpy as np
    >>> T = np.arange(1, 2001)
    >>> round(fit_power_law(5.0 / T**2), 6)
    -2.0
    """
    e = _positive_history(errors)
    start = len(e) // 3 if start is None else int(start)
    stop = len(e) if stop is None else int(stop)
    t = np.arange(start, stop)
    if t.size < 3:
        raise ValueError(f"fewer than 3 errors in [{start}, {stop})")
    return float(np.polyfit(np.log(t + 1.0), np.log(e[t]), 1)[0])


def _positive_history(errors: Sequence[float]) -> np.ndarray:
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"errors must be a non-empty 1-D sequence, got shape {e.shape}")
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError("errors must be finite and >= 0")
    return np.maximum(e, np.finfo(np.float64).tiny)


def plot_error_histories(
    experiments: Sequence[SensingExperiment],
    *,
    labels: Sequence[str] | None = None,
    ax: Any = None,
    loglog: bool = False,
):
    """Plot ``||estimate_t - M*||_F^2`` against ``t`` for several experiments (matplotlib).

    Returns the axes. ``loglog=True`` shows power laws as lines (the symmetric over-
    parameterized ``1/T^2``); the default semi-log axes show linear rates as lines.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    labels = [e.label for e in experiments] if labels is None else list(labels)
    if len(labels) != len(experiments):
        raise ValueError(f"labels must have {len(experiments)} entries, got {len(labels)}")
    for experiment, label in zip(experiments, labels, strict=True):
        errors = experiment.errors
        t = np.arange(1, errors.size + 1) if loglog else np.arange(errors.size)
        ax.plot(t, errors, label=label)
        if experiment.result.one_step_at is not None:
            ax.axvline(experiment.result.one_step_at, color="0.7", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    if loglog:
        ax.set_xscale("log")
    ax.set_xlabel("iteration t")
    ax.set_ylabel(r"$\|\hat M_t - M^*\|_F^2$")
    ax.legend(fontsize="small")
    return ax
