"""Low-rank matrix completion by (robust) alternating minimization: :func:`complete`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .. import _validation as v
from .._array.kernels import kernel
from .._array.namespace import backend_name, is_cpu, to_numpy, unit_roundoff
from ..errors import ConvergenceWarning, SketchlaWarning
from ..lowrank import rsvd
from .halfstep import Placement, solve_targets
from .observations import Index, Observations, observations
from .result import CompletionResult

__all__ = ["METHODS", "PRECONDITIONERS", "complete"]

METHODS = ("robust_altmin", "altmin")
PRECONDITIONERS = ("shared", "sketch")

# Tests set this to run the device (Torch/CuPy batched) path on a CPU.
_DEVICE_PATH_ON_CPU = False


def complete(
    observed: Any,
    shape: Any = None,
    rank: int | str | None = None,
    *,
    max_rank: int | None = None,
    mask: Any = None,
    method: str = "robust_altmin",
    maxiter: int = 100,
    tol: float = 1e-9,
    ridge: float = 0.0,
    incoherence: float = 2.0,
    preconditioner: str = "shared",
    sketch_factor: float = 4.0,
    inner_tol: float = 0.1,
    inner_maxiter: int = 20,
    sample_splitting: bool = False,
    duplicates: str = "error",
    check_finite: bool = True,
    seed: Any = None,
    callback: Callable[[CompletionResult], Any] | None = None,
    progress: bool = False,
) -> CompletionResult:
    """Complete a partially observed matrix with a rank-``rank`` factorization ``U @ V.T``.

    Alternating minimization (Jain, Netrapalli & Sanghavi 2013): ``U`` starts from the top
    ``rank`` left singular vectors of the rescaled observations ``P_Ω(M) / p``, its rows clipped
    to keep it incoherent; then each iteration solves for every column of ``V`` given ``U`` and
    for every row of ``U`` given ``V``, each a small least-squares problem over that column's
    (row's) observations. ``method="robust_altmin"`` solves them inexactly by sketch-and-
    precondition (Gu, Song, Yin & Zhang, ICLR 2024), ``O(|Ω| k)`` per half-step instead of
    the exact ``O(|Ω| k^2)`` of ``method="altmin"``.

    Parameters
    ----------
    observed : (rows, cols, values), scipy.sparse matrix, MaskedArray, or dense array with mask
        The known entries. ``(rows, cols, values)``: three 1-D arrays (``shape`` required). A
        ``scipy.sparse`` matrix: its stored entries, explicit zeros included. A dense array:
        with ``mask`` (True where observed), or a ``numpy.ma.MaskedArray`` (masked = missing).
    shape : (int, int), optional
        ``(m, n)``; required with ``(rows, cols, values)``, checked otherwise.
    rank : int or "auto"
        The rank ``k``, at most ``min(m, n)``. ``"auto"``, for an unknown rank: a tenth of the
        observations is held out, ranks 1, 2, 4, ... (up to ``max_rank``) are fitted on the
        rest until two doublings in a row improve the held-out error by less than 1 %; a
        bisection then finds the smallest rank whose held-out error is within 10 % of the best
        (or within 1e-3 of the data's RMS), which is refitted on all observations.
    max_rank : int, optional
        The largest rank ``"auto"`` tries (default ``min(m, n)``).
    mask : boolean array, optional
        Which entries of a dense ``observed`` are known.
    method : {"robust_altmin", "altmin"}
        Inexact sketched solves, or exact ones (normal equations by Cholesky).
    maxiter : int
        Most outer iterations.
    tol : float
        Stop when the observed entries' relative residual ``||P_Ω(U V^T - M)|| / ||P_Ω(M)||``
        is at most ``max(tol, 100 u)``, or when one iteration changed it by at most that times
        its value (a plateau: noisy or not exactly low-rank data); ``u`` is the unit roundoff
        of the computation, float64 on the CPU, the input's dtype on a GPU.
    ridge : float
        ``λ >= 0``: minimize ``||P_Ω(U V^T - M)||^2 + λ (||U||_F^2 + ||V||_F^2)``. With
        ``λ = 0`` the fixed factor is orthonormalised before each half-step (the products are
        unchanged, the small problems better conditioned).
    incoherence : float
        ``μ`` of the initial clipping: rows of the initial ``U`` longer than ``2 μ sqrt(k / m)``
        are scaled down to that length before orthonormalisation (the average row has length
        ``sqrt(k / m)``).
    preconditioner : {"shared", "sketch"}
        Robust method: how each target's ``|Ω_t| x k`` problem ``min ||F_Ω x - b||`` is
        preconditioned. ``"sketch"`` is the paper's: a CountSketch of ``F_Ω`` to
        ``s = ceil(sketch_factor * k)`` rows and its triangular factor (``O(s k^2 + k^3)`` per
        target; targets with at most ``s`` observations are solved exactly). ``"shared"`` uses
        one preconditioner for every target, the QR factor of the whole fixed factor ``F``
        (applied once, by orthonormalising ``F``): for incoherent ``F`` and random ``Ω``, the
        sampled rows ``F_Ω`` of an orthonormal ``F`` are already well conditioned (the
        concentration the analysis rests on), so no per-target factorization is needed and a
        half-step costs ``O(|Ω| k)`` plus ``O((m + n) k^2)``.
    sketch_factor : float
        With ``preconditioner="sketch"``: the sketch has ``ceil(sketch_factor * k)`` rows.
    inner_tol, inner_maxiter : float, int
        Robust method: each target's conjugate-gradient iteration, started from the previous
        iterate, stops once the preconditioned gradient norm has fallen by ``inner_tol``, or
        after ``inner_maxiter`` steps.
    sample_splitting : bool
        Use disjoint random parts of the observations for the initialisation and for each
        half-step, as the analysis assumes (``2 maxiter + 1`` parts: each half-step sees only a
        fraction of the data; off by default, as in practice).
    duplicates : {"error", "mean"}
        An entry given more than once is an error, or observed as the mean of its values.
    check_finite : bool
        Refuse non-finite observed values.
    seed : None, int or sketchla.random.Generator
        For the initial range finder, the sketches and sample splitting.
    callback : callable, optional
        Called after each iteration with the current :class:`CompletionResult`.
    progress : bool
        Show a tqdm progress bar over the iterations.

    Returns
    -------
    CompletionResult
        ``U``, ``V`` (balanced factors), ``iterations``, ``train_rmse_history``, ``converged``;
        ``predict(rows, cols)`` and ``to_dense()``.

    Warns
    -----
    ConvergenceWarning
        When ``maxiter`` iterations end before the stopping rule holds (the best iterate is
        returned).
    SketchlaWarning
        When rows or columns have fewer than ``rank`` observations: their factor rows are the
        minimum-norm solutions (zero for an empty row or column), which the data do not
        determine.

    Notes
    -----
    Exact recovery needs an incoherent matrix and about ``C (m + n) k log(m + n)``
    observations; with too few, the iteration stalls and ``converged`` may still be True at a
    plateau: compare ``train_rmse_history[-1]`` against the noise you expect. The CPU kernels
    compute in float64 (float32 input returns float32 factors).

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.completion import complete
    >>> rng = np.random.default_rng(0)
    >>> M = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 200))
    >>> rows, cols = np.nonzero(rng.random(M.shape) < 0.3)
    >>> result = complete((rows, cols, M[rows, cols]), M.shape, rank=5, seed=0)
    >>> result.converged
    True
    >>> bool(np.linalg.norm(result.to_dense() - M) <= 1e-6 * np.linalg.norm(M))
    True
    """
    obs, xp, where = observations(
        observed, shape, mask=mask, duplicates=duplicates, check_finite=check_finite
    )
    m, n = obs.shape
    if rank is None:
        raise TypeError("rank is required (an int, or 'auto' for the rank schedule)")
    if isinstance(rank, str):
        if rank != "auto":
            raise ValueError(f"rank must be an int or 'auto', got {rank!r}")
        max_rank = v.check_int(
            min(m, n) if max_rank is None else max_rank, "max_rank", minimum=1, maximum=min(m, n)
        )
    else:
        k = v.check_int(rank, "rank", minimum=1, maximum=min(m, n))
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    maxiter = v.check_int(maxiter, "maxiter", minimum=1)
    inner_maxiter = v.check_int(inner_maxiter, "inner_maxiter", minimum=1)
    tol = _nonnegative(tol, "tol")
    ridge = _nonnegative(ridge, "ridge")
    incoherence = _positive(incoherence, "incoherence")
    inner_tol = _nonnegative(inner_tol, "inner_tol")
    if not inner_tol < 1:
        raise ValueError(f"inner_tol must be below 1, got {inner_tol}")
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(f"preconditioner must be one of {PRECONDITIONERS}, got {preconditioner!r}")
    sketch_factor = _positive(sketch_factor, "sketch_factor")
    if sketch_factor < 1:
        raise ValueError(f"sketch_factor must be at least 1 (s >= k rows), got {sketch_factor}")
    generator = v.check_seed(seed)
    init_generator, sketch_generator, split_generator, rank_generator = generator.spawn(4)
    solver = "sketch" if method == "robust_altmin" else "exact"
    placement = None
    if _DEVICE_PATH_ON_CPU or (backend_name(xp) in ("torch", "cupy") and not is_cpu(where)):
        placement = Placement(xp, where, getattr(xp, str(obs.dtype)))

    def fit(data: Observations, k: int, *, report: bool):
        """Alternating minimization of rank ``k`` on ``data``: ``(U, V, iterations, history,
        converged, inner)``; ``report``: warnings, progress bar and callback."""
        parts = _split(data, 2 * maxiter + 1, split_generator) if sample_splitting else None
        U, V = _initial_factors(parts[0] if parts else data, k, incoherence, init_generator)
        if placement is not None:
            U, V = placement.put(U), placement.put(V)
        sketch_size = math.ceil(sketch_factor * k) if preconditioner == "sketch" else 0
        scale = float(np.linalg.norm(data.values)) or 1.0
        flat = max(tol, 100 * unit_roundoff(obs.dtype if placement else np.float64))
        history = [_rmse(U, V, data, placement)]
        best = (history[0], U, V)
        inner: list[float] = []
        converged = False
        bar = _progress_bar(progress and report, maxiter)
        iterations = 0
        for it in range(maxiter):
            step_obs = (parts[2 * it + 1], parts[2 * it + 2]) if parts else (data, data)
            U, V, steps = iteration(
                U,
                V,
                step_obs[0].by_col,
                step_obs[1].by_row,
                solver=solver,
                ridge=ridge,
                sketch_size=sketch_size,
                inner_tol=inner_tol,
                inner_maxiter=inner_maxiter,
                generator=sketch_generator,
                placement=placement,
            )
            inner.extend(steps)
            iterations = it + 1
            history.append(_rmse(U, V, data, placement))
            if history[-1] <= best[0]:
                best = (history[-1], U, V)
            if bar is not None:
                bar.update()
                bar.set_postfix(train_rmse=f"{history[-1]:.3e}")
            if callback is not None and report:
                state = (U, V, iterations, history, False, inner)
                callback(_result(xp, where, obs, method, *state))
            now, before = history[-1], history[-2]
            if now * math.sqrt(data.size) <= flat * scale or abs(before - now) <= flat * before:
                converged = True
                break
        if bar is not None:
            bar.close()
        if not converged and report:
            warnings.warn(
                f"complete did not converge in {maxiter} iterations (relative residual on the "
                f"observed entries {best[0] * math.sqrt(data.size) / scale:.2e}, tol "
                f"{tol:.1e}); returning the best iterate",
                ConvergenceWarning,
                stacklevel=3,
            )
        return best[1], best[2], iterations, history, converged, inner

    if rank == "auto":
        k = _choose_rank(obs, fit, max_rank, rank_generator)
    _warn_underdetermined(obs, k)
    return _result(xp, where, obs, method, *fit(obs, k, report=True))


def _choose_rank(obs: Observations, fit: Callable, max_rank: int, generator: Any) -> int:
    """The rank schedule for an unknown ``k``: hold out a tenth of the observations, fit ranks
    1, 2, 4, ... on the rest until two doublings in a row improve the held-out error by less
    than 1 % (or ``max_rank``), then bisect for the smallest rank whose error is within 10 % of
    the best (or within 1e-3 of the held-out values' RMS)."""
    labels = generator.integers(10, shape=obs.size, dtype=np.int64)
    train, held = obs.subset(np.flatnonzero(labels != 0)), obs.subset(np.flatnonzero(labels == 0))
    errors: dict[int, float] = {}

    def error(k: int) -> float:
        if k not in errors:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SketchlaWarning)
                U, V, *_ = fit(train, k, report=False)
            errors[k] = _rmse(U, V, held)
        return errors[k]

    k, best, stale = 1, math.inf, 0
    while k <= max_rank and stale < 2:
        stale = 0 if error(k) < 0.99 * best else stale + 1
        best = min(best, error(k))
        k *= 2
    if k // 2 < max_rank and stale < 2:
        error(max_rank)
    # the smallest rank about as good as the best: within 10 %, or 1e-3 of the data's size
    enough = 1.1 * min(errors.values()) + 1e-3 * float(np.sqrt(np.mean(held.values**2)))
    good = min(r for r, e in errors.items() if e <= enough)
    bad = max((r for r in errors if r < good), default=0)
    while good - bad > 1:  # bisect, taking "good" as monotone in the rank
        middle = (good + bad) // 2
        good, bad = (middle, bad) if error(middle) <= enough else (good, middle)
    return good


def iteration(
    U: np.ndarray,
    V: np.ndarray,
    by_col: Index,
    by_row: Index,
    *,
    solver: str,
    ridge: float,
    sketch_size: int,
    inner_tol: float,
    inner_maxiter: int,
    generator: Any,
    placement: Placement | None = None,
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """One iteration: every column of ``V`` from ``U``, then every row of ``U`` from ``V``.

    Returns the new ``(U, V)`` and, for the sketched solver, the mean inner steps of each
    half-step over the targets it iterated on."""
    inner = []
    for side in ("V", "U"):
        fixed, free = (U, V) if side == "V" else (V, U)
        index = by_col if side == "V" else by_row
        if not ridge and placement is not None:  # same product, orthonormal fixed factor
            fixed, R = placement.xp.linalg.qr(fixed)
            free = free @ placement.xp.matrix_transpose(R)
        elif not ridge:
            fixed, R = _orthonormal(fixed)
            free = free @ R.T
        new, steps = solve_targets(
            fixed,
            index,
            solver=solver,
            ridge=ridge,
            x0=free,
            sketch_size=sketch_size,
            orthonormal=not ridge,
            inner_tol=inner_tol,
            inner_maxiter=inner_maxiter,
            generator=generator,
            placement=placement,
        )
        if steps is not None:
            iterated = index.counts > max(sketch_size, U.shape[1] - 1)
            inner.append(float(steps[iterated].mean()) if iterated.any() else 0.0)
        U, V = (fixed, new) if side == "V" else (new, fixed)
    return U, V, inner


def _initial_factors(obs: Observations, k: int, incoherence: float, generator: Any):
    """Top-``k`` singular pairs of ``P_Ω(M) / p``; ``U``'s rows clipped, then orthonormal."""
    m, n = obs.shape
    p = obs.size / (m * n)
    scaled = sp.csr_matrix((obs.values / p, (obs.rows, obs.cols)), shape=(m, n))
    svd = rsvd(scaled, k, seed=generator)
    U, s, Vh = svd.U, svd.s, svd.Vh
    limit = 2 * incoherence * math.sqrt(k / m)
    lengths = np.linalg.norm(U, axis=1)
    too_long = lengths > limit
    if too_long.any():
        U = U.copy()
        U[too_long] *= (limit / lengths[too_long])[:, None]
    Q, R = np.linalg.qr(U)
    # V from the same SVD, in Q's basis: U diag(s) Vh = Q R diag(s) Vh
    V = (R @ (s[:, None] * Vh)).T
    return Q, np.ascontiguousarray(V)


def _orthonormal(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``F = Q R`` with orthonormal ``Q``: Cholesky QR, twice (CholeskyQR2; Fukaya et al. 2014),
    BLAS-3 and accurate for ``cond(F)`` up to about ``u^-1/2``; Householder QR beyond."""
    Q, R = F, np.eye(F.shape[1])
    for _ in range(2):
        try:
            L = np.linalg.cholesky(Q.T @ Q)
        except np.linalg.LinAlgError:
            return np.linalg.qr(F)
        Q = scipy.linalg.solve_triangular(L, Q.T, lower=True).T
        R = L.T @ R
    return np.ascontiguousarray(Q), R


def _rmse(U: Any, V: Any, obs: Observations, placement: Placement | None = None) -> float:
    if placement is not None:
        xp = placement.xp
        rows, cols, values = placement.entries(obs)
        fitted = kernel("entries_of_product", xp)(U, V, rows, cols, xp=xp)
        return float(xp.sqrt(xp.mean((fitted - values) ** 2)))
    fitted = kernel("entries_of_product", np)(U, V, obs.rows, obs.cols, xp=np)
    return float(np.sqrt(np.mean((fitted - obs.values) ** 2)))


def _split(obs: Observations, n_parts: int, generator: Any) -> list[Observations]:
    labels = generator.integers(n_parts, shape=obs.size, dtype=np.int64)
    return [obs.subset(np.flatnonzero(labels == part)) for part in range(n_parts)]


def _balanced(U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Qu, Ru = np.linalg.qr(U)
    Qv, Rv = np.linalg.qr(V)
    W, s, Zh = np.linalg.svd(Ru @ Rv.T)
    root = np.sqrt(s)
    return Qu @ (W * root), Qv @ (Zh.T * root)


def _result(
    xp, where, obs, method, U, V, iterations, history, converged, inner
) -> CompletionResult:
    U, V = _balanced(to_numpy(U).astype(np.float64), to_numpy(V).astype(np.float64))
    U, V = U.astype(obs.dtype), V.astype(obs.dtype)
    return CompletionResult(
        xp.asarray(U, device=where),
        xp.asarray(V, device=where),
        iterations,
        tuple(history),
        converged,
        method,
        tuple(inner),
    )


def _warn_underdetermined(obs: Observations, k: int) -> None:
    rows = int(np.count_nonzero(obs.by_row.counts < k))
    cols = int(np.count_nonzero(obs.by_col.counts < k))
    if rows or cols:
        warnings.warn(
            f"{rows} row(s) and {cols} column(s) have fewer than rank={k} observations; their "
            "factors are minimum-norm solutions (zero where nothing is observed), which the "
            "data do not determine",
            SketchlaWarning,
            stacklevel=3,
        )


def _progress_bar(progress: bool, total: int) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="complete", unit="it")


def _nonnegative(x: Any, name: str) -> float:
    x = _real(x, name)
    if not x >= 0:
        raise ValueError(f"{name} must be >= 0, got {x}")
    return x


def _positive(x: Any, name: str) -> float:
    x = _real(x, name)
    if not x > 0:
        raise ValueError(f"{name} must be > 0, got {x}")
    return x


def _real(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    return x
