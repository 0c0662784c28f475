"""One-shot Optimal Brain Surgeon pruning with M-FAC's inverse Fisher (Frantar, Kurtic &
Alistarh, NeurIPS 2021, section 6; Hassibi & Stork 1993; Singh & Alistarh's WoodFisher 2020).

With the loss locally quadratic, ``dL = delta^T F delta / 2`` for ``F`` the empirical Fisher of
``m`` gradients, removing weight ``q`` alone costs ``rho_q = w_q^2 / (2 [F^-1]_qq)`` after the
best change of the other weights. The weights of smallest ``rho`` are removed, and the rest
change by the joint OBS update of :meth:`StaticIHVP.obs_update` (exact for the removed set in
the quadratic model) or WoodFisher's sum of single-weight updates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import _validation as v
from .static import StaticIHVP

__all__ = ["PruneResult", "collect_gradients", "obs_prune"]

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass(frozen=True)
class PruneResult:
    """What :func:`obs_prune` did.

    Attributes
    ----------
    masks : dict of str to bool tensor
        Per pruned parameter (by name), ``True`` where the weight is kept.
    sparsity : float
        The fraction of the pruned parameters' entries now zero.
    predicted_loss_increase : float
        The quadratic model's cost of the removal: ``w_Q^T ([F^-1]_QQ)^-1 w_Q / 2`` for the
        removed set ``Q`` with the joint update; otherwise the sum of ``rho_q``, which ignores
        their interaction (and, without an update, what each removal costs with its own best
        update, not the cost of removing without one).
    scores : dict of str to tensor
        ``rho_q`` of every entry, by parameter name.
    """

    masks: dict[str, torch.Tensor]
    sparsity: float
    predicted_loss_increase: float
    scores: dict[str, torch.Tensor]


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weights (not biases) of the model's linear and convolution layers, by name."""
    return {
        f"{name}.weight" if name else "weight": module.weight
        for name, module in model.named_modules()
        if isinstance(module, _WEIGHTED)
    }


def _select(model: nn.Module, parameters: Iterable[str] | None) -> dict[str, nn.Parameter]:
    if parameters is None:
        chosen = prunable_parameters(model)
    else:
        named = dict(model.named_parameters())
        names = [parameters] if isinstance(parameters, str) else list(parameters)
        missing = [n for n in names if n not in named]
        if missing:
            raise ValueError(f"parameters names no parameter of the model: {missing}")
        chosen = {n: named[n] for n in names}
    if not chosen:
        raise ValueError("the model has no parameters to prune (no linear or convolution layer)")
    return chosen


def collect_gradients(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    batches: Iterable[Any],
    *,
    parameters: Iterable[str] | None = None,
) -> torch.Tensor:
    """One gradient per batch of the chosen parameters, stacked: the ``m x d`` matrix ``G``
    that :func:`obs_prune` and :class:`StaticIHVP` take.

    ``loss_fn(model, batch)`` returns a scalar loss; ``parameters`` names them (default: the
    weights of the linear and convolution layers, in module order). The model's ``.grad``
    fields are not touched.
    """
    params = list(_select(model, parameters).values())
    rows = []
    for batch in batches:
        loss = loss_fn(model, batch)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        rows.append(
            torch.cat(
                [
                    (torch.zeros_like(p) if g is None else g).reshape(-1)
                    for g, p in zip(grads, params, strict=True)
                ]
            ).detach()
        )
    if not rows:
        raise ValueError("batches must yield at least one batch")
    return torch.stack(rows)


@torch.no_grad()
def obs_prune(
    model: nn.Module,
    gradients: torch.Tensor,
    sparsity: float,
    *,
    damp: float = 1e-5,
    scope: str = "global",
    update: str | None = "joint",
    parameters: Iterable[str] | None = None,
    block_size: int | None = None,
) -> PruneResult:
    """Prune ``model`` in place to ``sparsity`` by Optimal Brain Surgeon with M-FAC.

    Parameters
    ----------
    model : torch.nn.Module
    gradients : tensor, shape (m, d)
        ``m`` gradients of the pruned parameters, concatenated in their order (see
        :func:`collect_gradients`), on the parameters' device.
    sparsity : float
        The fraction of entries to remove, in ``[0, 1]`` (already-zero entries count).
    damp : float
        ``lambda`` of ``F = damp I + G^T G / m``.
    scope : {"global", "layer"}
        One threshold over all pruned parameters, or ``sparsity`` within each.
    update : {"joint", "independent", None}
        The change of the kept weights: the joint OBS update, WoodFisher's sum of single-weight
        updates, or none (pruning by the scores alone).
    parameters : iterable of str, optional
        Names of the parameters to prune (default: weights of linear and convolution layers).
    block_size : int, optional
        See :class:`StaticIHVP`.

    Returns
    -------
    PruneResult

    Examples
    --------
    >>> import torch
    >>> from sketchla.mfac import collect_gradients, obs_prune
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    >>> x, y = torch.randn(256, 8), torch.randint(0, 2, (256,))
    >>> batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 256, 16)]
    >>> loss = lambda net, b: torch.nn.functional.cross_entropy(net(b[0]), b[1])
    >>> G = collect_gradients(model, loss, batches)
    >>> result = obs_prune(model, G, 0.5, damp=1e-4)
    >>> round(result.sparsity, 2)
    0.5
    >>> sorted(result.masks)
    ['0.weight', '2.weight']
    """
    chosen = _select(model, parameters)
    fraction = v.check_real(sparsity, "sparsity", minimum=0, maximum=1)
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    if update not in ("joint", "independent", None):
        raise ValueError(f"update must be 'joint', 'independent' or None, got {update!r}")
    params = list(chosen.values())
    sizes = [p.numel() for p in params]
    d = sum(sizes)
    if not isinstance(gradients, torch.Tensor) or gradients.ndim != 2:
        raise TypeError("gradients must be a 2-D torch tensor (m x d); see collect_gradients")
    if gradients.shape[1] != d:
        raise ValueError(
            f"gradients must have {d} columns (the pruned parameters' entries), got "
            f"{gradients.shape[1]}"
        )
    if gradients.device != params[0].device:
        raise ValueError(
            f"gradients are on {gradients.device} but the parameters on {params[0].device}"
        )
    weights = torch.cat([p.detach().reshape(-1) for p in params])  # the parameters' dtype
    w = weights.to(gradients.dtype)
    model_inverse = StaticIHVP(gradients, damp, block_size=block_size)
    diagonal = model_inverse.diag().double()
    if not bool((diagonal > 0).all()):
        raise ValueError(
            f"damp = {damp!r} is too small for these gradients: the diagonal of F^-1 lost all "
            "accuracy (kappa(F) beyond 1e16); increase damp"
        )
    scores = w.double() ** 2 / (2 * diagonal)

    removed = torch.zeros(d, dtype=torch.bool, device=w.device)
    if scope == "global":
        count = round(fraction * d)
        removed[torch.argsort(scores, stable=True)[:count]] = True
    else:
        for piece, start in zip(scores.split(sizes), _starts(sizes), strict=True):
            count = round(fraction * piece.numel())
            removed[start + torch.argsort(piece, stable=True)[:count]] = True
    index = torch.nonzero(removed).reshape(-1)

    if update is None:
        new_w, predicted = weights.clone(), float(scores[index].sum())
    else:
        step = model_inverse.obs_update(w, index, joint=update == "joint")
        new_w, predicted = weights + step.delta.to(weights.dtype), step.loss_increase
    new_w[index] = 0
    masks, scores_by_name = {}, {}
    for (name, p), piece, keep, score in zip(
        chosen.items(), new_w.split(sizes), (~removed).split(sizes), scores.split(sizes),
        strict=True,
    ):  # fmt: skip
        p.copy_(piece.reshape(p.shape).to(p.dtype))
        masks[name] = keep.reshape(p.shape)
        scores_by_name[name] = score.reshape(p.shape).to(p.dtype)
    zeros = sum(int((p == 0).sum()) for p in params)
    return PruneResult(masks, zeros / d, predicted, scores_by_name)


def _starts(sizes: list[int]) -> list[int]:
    starts, total = [], 0
    for size in sizes:
        starts.append(total)
        total += size
    return starts
