"""Training data and unsupervised training of a DCDM network (Kaneda et al., ICML 2023, section 4).

Data: right-hand sides ``b = Y (w * c) / ||Y (w * c)||`` with ``Y`` the Ritz vectors of a Lanczos
run on ``A`` started from ``A g`` (``g`` Gaussian), ``c ~ N(0, I)``, and ``w`` = ``low_weight``
(the paper: 9) on the ``low_fraction`` (the paper: 5500 of 10000) of Ritz vectors with the
smallest values, 1 on the rest: combinations of eigenvector approximations leaning to the low
end of the spectrum, the part a Krylov method resolves last.

Loss, for a batch of right-hand sides and ``q = f(b)``: the residual left by the best step along
``q``, ``||b - A q (q^T b) / (q^T A q)||^2``. It is invariant to rescaling ``q``, so the network
learns a direction, not a scale.

Replay (our addition): the 9x weight on the low end leaves the high end of the spectrum nearly
out of the loss, and a network trained on that data alone maps high-frequency residuals to
useless directions. DCDM then removes the smooth error in a few steps and stalls on the
oscillatory rest (measured: at 32^3, a relative residual of 6e-2 after 10 steps, 99 % of it on
eigenvalues above 8 of 12). So ``train`` can also learn from the residuals the solver meets:
every ``replay_every`` steps it runs the DCDM iteration with the current network for
``replay_depth`` steps on fresh right-hand sides (half from the data, half white noise) and
keeps the normalised residuals; half of every batch is then drawn from them.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch
from torch.nn import functional as F

from ... import _validation as v
from ..poisson import PoissonGrid

__all__ = [
    "TrainingData",
    "dcdm_loss",
    "lanczos_ritz",
    "solver_residuals",
    "stencil",
    "train",
]


def lanczos_ritz(A: PoissonGrid, steps: int, *, seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values and vectors of ``steps`` Lanczos steps on ``A`` (full reorthogonalisation).

    Parameters
    ----------
    A : PoissonGrid
        The system (anything with ``shape`` and ``matvec`` on NumPy vectors).
    steps : int
        Lanczos steps, at most ``n`` (the paper: 10 000 for ``64^3``).
    seed : int, optional
        Seeds the start ``A g``, ``g`` standard normal (as in the paper).

    Returns
    -------
    values : ndarray
        ``(steps,)`` Ritz values, ascending.
    vectors : ndarray
        ``(n, steps)`` unit Ritz vectors in float32, in the order of ``values``.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.solvers import PoissonGrid
    >>> from sketchla.solvers.dcdm import lanczos_ritz
    >>> A = PoissonGrid((16, 16))
    >>> values, vectors = lanczos_ritz(A, 40, seed=0)
    >>> bool(abs(values[-1] - (4 + 4 * np.cos(np.pi / 17))) < 1e-6)  # the largest eigenvalue
    True
    """
    n = A.shape[0]
    steps = v.check_int(steps, "steps", minimum=1)
    if steps > n:
        raise ValueError(f"steps must be at most n = {n}, got {steps}")
    rng = np.random.default_rng(seed)
    Q = np.empty((n, steps))
    alpha, beta = np.empty(steps), np.empty(max(steps - 1, 0))
    q = A.matvec(rng.standard_normal(n))
    q /= np.linalg.norm(q)
    for j in range(steps):
        Q[:, j] = q
        w = A.matvec(q)
        alpha[j] = q @ w
        for _ in range(2):  # classical Gram-Schmidt twice against every Lanczos vector
            w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        if j + 1 < steps:
            beta[j] = np.linalg.norm(w)
            if beta[j] <= 1e-12 * abs(alpha[j]):
                raise ValueError(f"the Krylov space of A is exhausted after {j + 1} steps")
            q = w / beta[j]
    values, vectors = scipy.linalg.eigh_tridiagonal(alpha, beta)
    return values, (Q @ vectors).astype(np.float32)


@dataclass
class TrainingData:
    """Draws normalised right-hand sides from Ritz vectors (see the module docstring).

    Build it with :meth:`from_ritz`; :meth:`batch` draws.

    Examples
    --------
    >>> import torch
    >>> from sketchla.solvers import PoissonGrid
    >>> from sketchla.solvers.dcdm import TrainingData, lanczos_ritz
    >>> A = PoissonGrid((8, 8))
    >>> data = TrainingData.from_ritz(*lanczos_ritz(A, 20, seed=0), A.grid_shape)
    >>> data.batch(4, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 1, 8, 8])
    """

    vectors: torch.Tensor  # (n, k), columns in ascending Ritz value
    weights: torch.Tensor  # (k,)
    grid_shape: tuple[int, ...]

    @classmethod
    def from_ritz(
        cls,
        values: np.ndarray,
        vectors: np.ndarray,
        grid_shape: Any,
        *,
        low_fraction: float = 0.55,
        low_weight: float = 9.0,
        min_value: float = 1e-8,
    ) -> TrainingData:
        """From :func:`lanczos_ritz`'s output: keep the vectors with values above
        ``min_value``; weight the lowest ``low_fraction`` of them by ``low_weight``."""
        keep = values > min_value
        vectors = np.asarray(vectors[:, keep], dtype=np.float32)
        weights = np.ones(vectors.shape[1], dtype=np.float32)
        weights[: round(low_fraction * vectors.shape[1])] = low_weight
        return cls(torch.from_numpy(vectors), torch.from_numpy(weights), tuple(grid_shape))

    def batch(self, size: int, generator: torch.Generator) -> torch.Tensor:
        """``(size, 1, *grid)`` right-hand sides of unit norm."""
        c = torch.randn(self.weights.shape[0], size, generator=generator) * self.weights[:, None]
        b = (self.vectors @ c).T
        b = b / torch.linalg.vector_norm(b, dim=1, keepdim=True)
        return b.reshape(size, 1, *self.grid_shape)


def stencil(A: PoissonGrid, device: Any = None, dtype: Any = torch.float32):
    """``A`` as a differentiable batched map on ``(batch, 1, *grid)`` tensors.

    Examples
    --------
    >>> import torch
    >>> from sketchla.solvers import PoissonGrid
    >>> from sketchla.solvers.dcdm import stencil
    >>> A = PoissonGrid((4, 5))
    >>> x = torch.randn(2, 1, 4, 5, dtype=torch.float64)
    >>> y = stencil(A, dtype=torch.float64)(x)
    >>> bool(torch.allclose(y[1].reshape(-1), torch.from_numpy(A.matvec(x[1].reshape(-1).numpy()))))
    True
    """
    dim = len(A.grid_shape)
    diagonal = torch.as_tensor(A.diagonal, dtype=dtype, device=device)
    fluid = torch.as_tensor(A.fluid, dtype=dtype, device=device)
    cross = torch.zeros((1, 1) + (3,) * dim, dtype=dtype, device=device)
    centre = (0, 0) + (1,) * dim
    for axis in range(dim):
        for offset in (0, 2):
            index = list(centre)
            index[2 + axis] = offset
            cross[tuple(index)] = 1.0
    conv = F.conv3d if dim == 3 else F.conv2d

    def apply(x: torch.Tensor) -> torch.Tensor:
        return diagonal * x - fluid * conv(fluid * x, cross, padding=1)

    return apply


def dcdm_loss(q: torch.Tensor, b: torch.Tensor, apply_A) -> torch.Tensor:
    """Mean over the batch of ``||b - A q (q^T b) / (q^T A q)||^2`` (scale-invariant in ``q``).

    Examples
    --------
    >>> import torch
    >>> from sketchla.solvers import PoissonGrid
    >>> from sketchla.solvers.dcdm import dcdm_loss, stencil
    >>> apply_A = stencil(PoissonGrid((6, 6)), dtype=torch.float64)
    >>> b = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    >>> q = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    >>> bool(torch.isclose(dcdm_loss(q, b, apply_A), dcdm_loss(-7 * q, b, apply_A)))
    True
    """
    Aq = apply_A(q)
    dims = tuple(range(1, q.ndim))
    step = (q * b).sum(dims, keepdim=True) / (q * Aq).sum(dims, keepdim=True)
    return ((b - step * Aq) ** 2).sum(dims).mean()


def solver_residuals(
    model: torch.nn.Module, apply_A, b: torch.Tensor, depth: int, n_orth: int = 2
) -> torch.Tensor:
    """Normalised residuals of ``depth`` DCDM steps from ``x = 0`` on a batch of right-hand
    sides, ``(depth * batch, 1, *grid)``: the paper's iteration (``dcdm_solve`` with
    ``safeguard=False``), batched; the residuals it stalls on are the ones to learn from.
    Residuals that are not finite (a step that broke down) are left out.

    Examples
    --------
    >>> import torch
    >>> from sketchla.solvers import PoissonGrid
    >>> from sketchla.solvers.dcdm import solver_residuals, stencil
    >>> apply_A = stencil(PoissonGrid((6, 6)))
    >>> solver_residuals(lambda r: r, apply_A, torch.randn(2, 1, 6, 6), depth=3).shape
    torch.Size([6, 1, 6, 6])
    """
    dims = tuple(range(1, b.ndim))

    def dot(u, w):
        return (u * w).sum(dims, keepdim=True)

    r = b.clone()
    previous: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    out = []
    with torch.no_grad():
        for _ in range(depth):
            r = r / torch.linalg.vector_norm(r.flatten(1), dim=1).reshape(-1, *(1,) * (b.ndim - 1))
            out.append(r)
            q = model(r)
            for p, Ap, pAp in previous[-n_orth:] if n_orth else ():
                q = q - dot(q, Ap) / pAp * p
            Aq = apply_A(q)
            qAq = dot(q, Aq)
            r = r - dot(q, r) / qAq * Aq
            previous.append((q, Aq, qAq))
    out = torch.cat(out)
    return out[torch.isfinite(out).flatten(1).all(dim=1)]


def train(
    model: torch.nn.Module,
    A: PoissonGrid,
    data: TrainingData,
    *,
    steps: int,
    batch_size: int = 10,
    lr: float = 1e-4,
    final_lr: float | None = None,
    replay_every: int | None = None,
    replay_depth: int = 12,
    replay_size: int = 480,
    schedule_steps: int | None = None,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = 60.0,
    device: Any = None,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` with Adam on the DCDM loss; resumable.

    Parameters
    ----------
    model : torch.nn.Module
        The direction network (trained in place).
    A : PoissonGrid
        The system the right-hand sides belong to.
    data : TrainingData
        Right-hand-side generator for ``A``'s grid.
    steps : int
        Optimiser steps in all (a resumed run continues to this count).
    batch_size, lr : int, float
        The paper: 10 and ``1e-4``.
    final_lr : float, optional
        When given, the learning rate follows a cosine from ``lr`` down to ``final_lr`` over
        ``steps`` (a function of the step, so a resumed run follows the same schedule).
    schedule_steps : int, optional
        The length of the cosine schedule (default ``steps``): a run can stop before its
        schedule ends.
    replay_every : int, optional
        Refresh the replay buffer of solver residuals every this many steps (see the module
        docstring); ``None`` trains on the data alone, as the paper.
    replay_depth, replay_size : int
        DCDM steps per refresh (on 2 right-hand sides) and the buffer's capacity.
    seed : int
        Seeds the batches (the model's initialisation is the caller's).
    checkpoint : path, optional
        Saved every ``checkpoint_every`` seconds and at the end (model, optimiser, step, random
        state, losses); when the file exists, training resumes from it.
    device : torch device, optional
        Where to train (default: the model's).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of float
        The loss of every step so far.

    Examples
    --------
    >>> import torch
    >>> from sketchla.solvers import PoissonGrid
    >>> from sketchla.solvers.dcdm import DCDMNet, TrainingData, lanczos_ritz, train
    >>> A = PoissonGrid((8, 8))
    >>> data = TrainingData.from_ritz(*lanczos_ritz(A, 32, seed=0), A.grid_shape)
    >>> _ = torch.manual_seed(0)
    >>> losses = train(DCDMNet(dim=2, channels=4), A, data, steps=3, progress=False)
    >>> len(losses)
    3
    """
    from tqdm.auto import tqdm

    steps = v.check_int(steps, "steps", minimum=0)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    replay_depth = v.check_int(replay_depth, "replay_depth", minimum=1)
    replay_size = v.check_int(replay_size, "replay_size", minimum=1)
    if replay_every is not None:
        replay_every = v.check_int(replay_every, "replay_every", minimum=1)
    if schedule_steps is not None:
        schedule_steps = v.check_int(schedule_steps, "schedule_steps", minimum=1)
    for name, value in (("lr", lr), ("final_lr", final_lr)):
        if value is not None and not (isinstance(value, (int, float)) and 0 < value < math.inf):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if tuple(data.grid_shape) != tuple(A.grid_shape):
        raise ValueError(f"data is for the grid {data.grid_shape}, A for {A.grid_shape}")
    if next(iter(model.parameters()), None) is None:
        raise ValueError("model has no parameters to train")
    if device is None:
        device = next(model.parameters()).device
    # channels-last: oneDNN's 3-D convolutions train up to 4x faster in it (8 channels, 32^3)
    layout = torch.channels_last_3d if len(A.grid_shape) == 3 else torch.channels_last
    model.to(device=device, memory_format=layout)
    apply_A = stencil(A, device=device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    replay: torch.Tensor | None = None
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = torch.load(path, weights_only=True, map_location=device)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"].cpu())
        losses = list(state["losses"])
        replay = state.get("replay", replay)

    def save() -> None:
        if path is None:
            return
        state = {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "generator": generator.get_state(),
            "losses": losses,
            "replay": replay,
        }
        torch.save(state, path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)  # a crash never leaves half a checkpoint

    last_save = time.monotonic()
    model.train()
    bar = tqdm(total=steps, initial=len(losses), disable=not progress, desc="dcdm train")
    while len(losses) < steps:
        if final_lr is not None:
            done = min(len(losses) / max(schedule_steps or steps, 1), 1.0)
            phase = math.cos(math.pi * done)
            for group in optimiser.param_groups:
                group["lr"] = final_lr + 0.5 * (lr - final_lr) * (1.0 + phase)
        if replay_every is not None and len(losses) % replay_every == 0:
            model.eval()
            fresh = torch.cat([data.batch(1, generator), data.batch(1, generator)])
            fresh[1] = torch.randn(fresh[1].shape, generator=generator)
            found = solver_residuals(model, apply_A, fresh.to(device), replay_depth)
            replay = found if replay is None else torch.cat([found, replay])[:replay_size]
            model.train()
        b = data.batch(batch_size, generator).to(device)
        if replay is not None:
            half = batch_size // 2
            pick = torch.randint(len(replay), (half,), generator=generator).to(device)
            b = torch.cat([b[: batch_size - half], replay[pick]])
        b = b.contiguous(memory_format=layout)
        loss = dcdm_loss(model(b), b, apply_A)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the loss became {loss.item()} at step {len(losses)}")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if time.monotonic() - last_save > checkpoint_every:
            save()
            last_save = time.monotonic()
    bar.close()
    save()
    model.eval()
    return losses
