"""Low-rank adapter initialisations of a pretrained weight, and the layers that train them.

Each initialiser splits a weight ``W`` (``out x in``, as ``torch.nn.Linear`` stores it) into a
frozen residual and a small trainable part whose sum is ``W`` exactly (to rounding), so a model's
output does not change when its layers are swapped for adapters:

* :func:`pissa` (Meng, Wang & Zhang, "PiSSA: Principal Singular Values and Singular Vectors
  Adaptation", NeurIPS 2024): ``W = W_res + B A`` with ``B = U_r S_r^{1/2}``,
  ``A = S_r^{1/2} V_r^T`` from the top ``r`` singular triplets, here from sketchla's randomized
  SVD instead of a full SVD;
* :func:`svfit` (Sun et al., "SVFit", 2024): the same triplets, only the singular values ``s``
  trainable, ``W = W_res + U_r diag(s) V_r^T``;
* :func:`loldu` (Shi et al., "LoLDU", 2024): the pivoted ``W = P L D U``, ``W = W_res + c P L_r
  diag(d) U_r`` with the diagonal ``d`` and the scalar ``c`` trainable;
* :func:`corda` (Yang et al., "CorDA: Context-Oriented Decomposition Adaptation", NeurIPS
  2024): the SVD of ``W C`` with ``C`` the covariance of the layer's inputs
  (:func:`input_covariances`); the instruction-previewed mode trains the ``r`` largest
  components, the knowledge-preserved mode the ``r`` smallest.

:func:`apply_pissa` and its siblings swap a model's ``nn.Linear`` layers for
:class:`LowRankLinear`, :class:`SVFitLinear` or :class:`LoLDULinear`; :func:`export_lora`
writes a PiSSA or CorDA model in HuggingFace peft's LoRA layout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .. import _validation as v
from ..lowrank import rsvd

__all__ = [
    "CorDAInit",
    "LoLDUInit",
    "LoLDULinear",
    "LowRankInit",
    "LowRankLinear",
    "SVFitInit",
    "SVFitLinear",
    "apply_corda",
    "apply_loldu",
    "apply_pissa",
    "apply_svfit",
    "corda",
    "export_lora",
    "input_covariances",
    "loldu",
    "pissa",
    "svfit",
]

_METHODS = ("rsvd", "svd")
_CORDA_MODES = ("ipm", "kpm")


@dataclass(frozen=True)
class LowRankInit:
    """``W = residual + scaling * B @ A``: ``A`` ``(r, in)`` and ``B`` ``(out, r)`` trainable.

    Attributes
    ----------
    A, B : torch.Tensor
    residual : torch.Tensor
        ``(out, in)``, frozen.
    scaling : float
        LoRA's ``lora_alpha / r``; ``B A`` is divided by it so that ``scaling * B A`` is the
        principal part whatever its value.
    """

    A: torch.Tensor
    B: torch.Tensor
    residual: torch.Tensor
    scaling: float = 1.0

    @property
    def rank(self) -> int:
        return self.A.shape[0]

    def weight(self) -> torch.Tensor:
        """``residual + scaling * B @ A`` (the weight it was built from, to rounding)."""
        return self.residual + self.scaling * (self.B @ self.A)


@dataclass(frozen=True)
class CorDAInit(LowRankInit):
    """A :class:`LowRankInit` from :func:`corda`, with the singular values of ``W C`` it used
    (all of them, largest first) and the mode."""

    singular_values: torch.Tensor | None = None
    mode: str = "ipm"


@dataclass(frozen=True)
class SVFitInit:
    """``W = residual + U @ diag(s) @ Vh``; only ``s`` ``(r,)`` is trainable."""

    U: torch.Tensor
    s: torch.Tensor
    Vh: torch.Tensor
    residual: torch.Tensor

    @property
    def rank(self) -> int:
        return self.s.shape[0]

    def weight(self) -> torch.Tensor:
        return self.residual + (self.U * self.s) @ self.Vh


@dataclass(frozen=True)
class LoLDUInit:
    """``W = residual + scale * PL @ diag(d) @ U``; ``d`` ``(r,)`` and ``scale`` trainable.

    ``PL = P L[:, :r]`` (``out x r``, unit lower-triangular rows permuted by the pivoting) and
    ``U`` ``(r x in)`` (unit upper-triangular rows) are frozen.
    """

    PL: torch.Tensor
    d: torch.Tensor
    U: torch.Tensor
    residual: torch.Tensor
    scale: float = 1.0

    @property
    def rank(self) -> int:
        return self.d.shape[0]

    def weight(self) -> torch.Tensor:
        return self.residual + self.scale * ((self.PL * self.d) @ self.U)


# --------------------------------------------------------------------------------------------
# Initialisers
# --------------------------------------------------------------------------------------------


def pissa(
    W: Any,
    rank: int,
    *,
    scaling: float = 1.0,
    method: str = "rsvd",
    oversampling: int | None = None,
    power_iters: int = 4,
    seed: Any = None,
) -> LowRankInit:
    """PiSSA: the top ``rank`` singular triplets of ``W`` trainable, the rest frozen.

    Parameters
    ----------
    W : torch.Tensor or array
        ``(out, in)``. Half precisions are computed in float32 (as HuggingFace peft does); the
        factors and residual are returned in ``W``'s dtype, on its device.
    rank : int
        ``1 <= rank <= min(out, in)``.
    scaling : float
        LoRA's ``lora_alpha / r``: ``A`` and ``B`` carry ``S_r / scaling`` so that
        ``scaling * B A`` is the principal part.
    method : {"rsvd", "svd"}
        ``"rsvd"`` (default): :func:`sketchla.lowrank.rsvd` with ``oversampling`` extra columns
        (default ``max(10, rank)``) and ``power_iters`` power iterations: the accuracy knobs.
        Each power iteration sharpens the decay of the spectrum the sketch sees; on
        all-MiniLM-L6-v2's 37 attention, feed-forward and pooler weights the defaults put
        ``||W_res||_2`` within 0.2 % of the optimal ``sigma_{r+1}`` at rank 64 and within 2.1 %
        at rank 16 (worst layer; see the user guide). ``"svd"``: a full ``torch.linalg.svd``,
        exact and ``O(out in min(out, in))``.
    seed : None, int or sketchla.random.Generator
        For ``"rsvd"``.

    Returns
    -------
    LowRankInit
        ``A = S_r^{1/2} V_r^T``, ``B = U_r S_r^{1/2}`` (divided by ``sqrt(scaling)`` each),
        ``residual = W - scaling * B A``.

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import pissa
    >>> W = torch.randn(64, 32, dtype=torch.float64)
    >>> init = pissa(W, 8, seed=0)
    >>> init.A.shape, init.B.shape
    (torch.Size([8, 32]), torch.Size([64, 8]))
    >>> bool(torch.allclose(init.weight(), W))
    True
    """
    W, compute, dtype = _check_weight(W, "W")
    rank = _check_rank(rank, W.shape)
    scaling = v.check_number_above(scaling, "scaling")
    U, s, Vh = _top_triplets(compute, rank, method, oversampling, power_iters, seed)
    root = torch.sqrt(s / scaling)
    B, A = U * root, root[:, None] * Vh
    residual = compute - scaling * (B @ A)
    return LowRankInit(A.to(dtype), B.to(dtype), residual.to(dtype), scaling)


def svfit(
    W: Any,
    rank: int,
    *,
    method: str = "rsvd",
    oversampling: int | None = None,
    power_iters: int = 4,
    seed: Any = None,
) -> SVFitInit:
    """SVFit: the top ``rank`` singular values of ``W`` trainable, their vectors and the
    residual frozen.

    Parameters and accuracy as for :func:`pissa`.

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import svfit
    >>> W = torch.randn(64, 32, dtype=torch.float64)
    >>> init = svfit(W, 4, method="svd")
    >>> bool(torch.allclose(init.s, torch.linalg.svdvals(W)[:4]))
    True
    """
    W, compute, dtype = _check_weight(W, "W")
    rank = _check_rank(rank, W.shape)
    U, s, Vh = _top_triplets(compute, rank, method, oversampling, power_iters, seed)
    residual = compute - (U * s) @ Vh
    return SVFitInit(U.to(dtype), s.to(dtype), Vh.to(dtype), residual.to(dtype))


def loldu(W: Any, rank: int, *, scale: float = 1.0) -> LoLDUInit:
    """LoLDU: the pivoted LU factorization ``W = P L D U`` (``L`` unit lower, ``U`` unit upper
    triangular, ``D`` diagonal); its first ``rank`` components ``P L_r diag(d_r) U_r`` become
    trainable through ``d`` and a scalar ``scale``.

    Like the paper, the components are the LU's leading ones (row pivoting, columns in order),
    not the principal ones: LoLDU trains few parameters (``rank + 1`` per layer) on a fixed,
    cheap basis.

    Parameters
    ----------
    W : torch.Tensor or array
        ``(out, in)``.
    rank : int
    scale : float
        The initial value of the trainable scalar; ``d`` is divided by it.

    Raises
    ------
    ValueError
        When one of the first ``rank`` pivots is zero (the leading columns of ``W`` are rank
        deficient) and ``U_r`` is undefined.

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import loldu
    >>> W = torch.randn(16, 12, dtype=torch.float64)
    >>> init = loldu(W, 12)  # full rank: nothing is left in the residual
    >>> float(init.residual.abs().max()) < 1e-12
    True
    """
    W, compute, dtype = _check_weight(W, "W")
    rank = _check_rank(rank, W.shape)
    scale = v.check_number_above(scale, "scale")
    P, L, U = torch.linalg.lu(compute)
    pivots = torch.diagonal(U)[:rank]
    floor = torch.finfo(compute.dtype).eps * max(W.shape) * float(compute.abs().max())
    if bool((pivots.abs() <= floor).any()):
        raise ValueError(
            f"W's pivoted LU has a zero pivot among its first {rank} (the leading columns are "
            "rank deficient); choose a smaller rank"
        )
    PL = P @ L[:, :rank]
    U_r = U[:rank] / pivots[:, None]
    d = pivots / scale
    residual = compute - scale * ((PL * d) @ U_r)
    return LoLDUInit(PL.to(dtype), d.to(dtype), U_r.to(dtype), residual.to(dtype), scale)


def corda(
    W: Any,
    covariance: Any,
    rank: int,
    *,
    mode: str = "ipm",
    scaling: float = 1.0,
    damping: float = 0.01,
) -> CorDAInit:
    """CorDA: the adapter from the SVD of ``W C``, ``C`` the covariance of the layer's inputs.

    With ``C' = C + damping * mean(diag C) I`` (positive definite), ``W C' = U S V^T`` and
    ``W = U S V^T C'^{-1}``. Each component ``u_i s_i (C'^{-T} v_i)^T`` is ordered by how much
    the task's inputs excite it. ``mode="ipm"`` (instruction-previewed) makes the ``rank``
    largest trainable, ``mode="kpm"`` (knowledge-preserved) the ``rank`` smallest, freezing the
    components that carry the calibration data's knowledge.

    Parameters
    ----------
    W : torch.Tensor or array
        ``(out, in)``.
    covariance : torch.Tensor or array
        ``(in, in)``, symmetric positive semi-definite, e.g. from :func:`input_covariances`.
        Its scale does not matter (the damping is relative).
    rank : int
    mode : {"ipm", "kpm"}
    scaling : float
        As for :func:`pissa`.
    damping : float
        Relative ridge on ``C`` (HuggingFace peft's default 0.01); doubled, up to 2**10 times,
        while ``C'`` has no Cholesky factor.

    Returns
    -------
    CorDAInit
        ``B = U_r S_r^{1/2}``, ``A = S_r^{1/2} V_r^T C'^{-1}`` (divided by ``sqrt(scaling)``
        each), ``residual = W - scaling * B A``.

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import corda
    >>> W = torch.randn(32, 16, dtype=torch.float64)
    >>> X = torch.randn(500, 16, dtype=torch.float64)  # the layer's inputs
    >>> init = corda(W, X.T @ X / 500, 4, mode="kpm")
    >>> bool(torch.allclose(init.weight(), W))
    True
    """
    W, compute, dtype = _check_weight(W, "W")
    rank = _check_rank(rank, W.shape)
    if mode not in _CORDA_MODES:
        raise ValueError(f"mode must be one of {_CORDA_MODES}, got {mode!r}")
    scaling = v.check_number_above(scaling, "scaling")
    damping = v.check_number_above(damping, "damping")
    C = _as_tensor(covariance, "covariance", like=compute)
    n = W.shape[1]
    if C.shape != (n, n):
        raise ValueError(
            f"covariance must have shape ({n}, {n}) for W {tuple(W.shape)}, got {tuple(C.shape)}"
        )
    v.check_finite(C, "covariance")
    if not torch.allclose(C, C.T, rtol=1e-5, atol=1e-8 * float(C.abs().max())):
        raise ValueError("covariance must be symmetric")
    damped, factor = _damped_cholesky(C, damping)
    U, s, Vh = torch.linalg.svd(compute @ damped, full_matrices=False)
    picked = slice(0, rank) if mode == "ipm" else slice(s.shape[0] - rank, s.shape[0])
    # rows of Vh C'^{-1}: solve C' X = Vh^T through the Cholesky factor (C' symmetric)
    right = torch.cholesky_solve(Vh[picked].T, factor).T
    root = torch.sqrt(s[picked] / scaling)
    B, A = U[:, picked] * root, root[:, None] * right
    residual = compute - scaling * (B @ A)
    return CorDAInit(
        A.to(dtype),
        B.to(dtype),
        residual.to(dtype),
        scaling,
        singular_values=s.to(dtype),
        mode=mode,
    )


def input_covariances(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    target_modules: Any = None,
    forward: Callable[[nn.Module, Any], Any] | None = None,
) -> dict[str, torch.Tensor]:
    """The covariance ``C = (1/N) sum x x^T`` of the inputs of every targeted ``nn.Linear``,
    over the ``N`` input rows (tokens) that ``batches`` produce.

    Parameters
    ----------
    model : torch.nn.Module
    batches : iterable
        Calibration inputs; each is passed to ``forward(model, batch)`` (default
        ``model(batch)``) under ``torch.no_grad()``.
    target_modules : None, str or list of str
        As for :func:`apply_pissa`.
    forward : callable, optional

    Returns
    -------
    dict
        Module name to its ``(in, in)`` float64 covariance.
    """
    targets = _targets(model, target_modules)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    def hook(name: str):
        def record(_module, inputs, _output):
            x = inputs[0].detach()
            x = x.reshape(-1, x.shape[-1]).to(torch.float64)
            sums[name] = sums.get(name, 0) + x.T @ x
            counts[name] = counts.get(name, 0) + x.shape[0]

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in targets]
    try:
        with torch.no_grad():
            for batch in batches:
                forward(model, batch) if forward is not None else model(batch)
    finally:
        for handle in handles:
            handle.remove()
    if not counts:
        raise ValueError("batches produced no inputs for the targeted layers")
    return {name: sums[name] / counts[name] for name in sums}


# --------------------------------------------------------------------------------------------
# Adapter layers
# --------------------------------------------------------------------------------------------


class _AdapterLinear(nn.Module):
    """A frozen residual ``nn.Linear`` (weight and bias) plus a trainable low-rank part."""

    def __init__(self, residual: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.in_features, self.out_features = residual.shape[1], residual.shape[0]
        self.weight = nn.Parameter(residual.detach().clone(), requires_grad=False)
        self.bias = (
            None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        )

    def merged_weight(self) -> torch.Tensor:
        """The weight this layer computes with: residual plus the trainable part."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"


class LowRankLinear(_AdapterLinear):
    """``y = x W_res^T + b + scaling * x A^T B^T`` (a LoRA layer; PiSSA and CorDA init)."""

    def __init__(self, init: LowRankInit, bias: torch.Tensor | None = None) -> None:
        super().__init__(init.residual, bias)
        self.A = nn.Parameter(init.A.detach().clone())
        self.B = nn.Parameter(init.B.detach().clone())
        self.scaling = init.scaling
        self.rank = init.rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + self.scaling * F.linear(
            F.linear(x, self.A), self.B
        )

    def merged_weight(self) -> torch.Tensor:
        return self.weight + self.scaling * (self.B @ self.A)


class SVFitLinear(_AdapterLinear):
    """``y = x W_res^T + b + ((x V_r) * s) U_r^T``, only ``s`` trainable."""

    def __init__(self, init: SVFitInit, bias: torch.Tensor | None = None) -> None:
        super().__init__(init.residual, bias)
        self.register_buffer("U", init.U.detach().clone())
        self.register_buffer("Vh", init.Vh.detach().clone())
        self.s = nn.Parameter(init.s.detach().clone())
        self.rank = init.rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + F.linear(F.linear(x, self.Vh) * self.s, self.U)

    def merged_weight(self) -> torch.Tensor:
        return self.weight + (self.U * self.s) @ self.Vh


class LoLDULinear(_AdapterLinear):
    """``y = x W_res^T + b + scale * ((x U_r^T) * d) (P L_r)^T``, ``d`` and ``scale``
    trainable."""

    def __init__(self, init: LoLDUInit, bias: torch.Tensor | None = None) -> None:
        super().__init__(init.residual, bias)
        self.register_buffer("PL", init.PL.detach().clone())
        self.register_buffer("U", init.U.detach().clone())
        self.d = nn.Parameter(init.d.detach().clone())
        self.scale = nn.Parameter(
            torch.tensor(init.scale, dtype=init.d.dtype, device=init.d.device)
        )
        self.rank = init.rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = F.linear(F.linear(x, self.U) * self.d, self.PL)
        return F.linear(x, self.weight, self.bias) + self.scale * low

    def merged_weight(self) -> torch.Tensor:
        return self.weight + self.scale * ((self.PL * self.d) @ self.U)


# --------------------------------------------------------------------------------------------
# Swapping a model's layers
# --------------------------------------------------------------------------------------------


def apply_pissa(
    model: nn.Module,
    rank: int,
    *,
    target_modules: Any = None,
    freeze_others: bool = True,
    progress: bool = False,
    **options: Any,
) -> nn.Module:
    """Replace ``model``'s targeted ``nn.Linear`` layers by PiSSA-initialised
    :class:`LowRankLinear` adapters, in place; the model's outputs do not change.

    Parameters
    ----------
    model : torch.nn.Module
    rank : int
        At most ``min(out, in)`` of every targeted layer.
    target_modules : None, str or list of str
        ``None``: every ``nn.Linear``. Otherwise names matched as HuggingFace peft does: a
        module is targeted when its full name equals an entry or ends with ``"." + entry``; a
        single string is a regular expression that must match the full name.
    freeze_others : bool
        Set ``requires_grad=False`` on every parameter that is not an adapter's trainable one.
    progress : bool
        A tqdm progress bar over the layers.
    **options
        Passed to :func:`pissa` (``scaling``, ``method``, ``oversampling``, ``power_iters``,
        ``seed``).

    Returns
    -------
    torch.nn.Module
        ``model`` itself.

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import apply_pissa
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    >>> x = torch.randn(5, 32)
    >>> before = model(x)
    >>> model = apply_pissa(model, 8, seed=0)
    >>> bool(torch.allclose(model(x), before, atol=1e-5))
    True
    >>> sum(p.numel() for p in model.parameters() if p.requires_grad)  # 8 (32 + 64) + 8 (64 + 10)
    1360
    """
    seed = v.check_seed(options.pop("seed", None))

    def build(layer: nn.Linear) -> nn.Module:
        return LowRankLinear(pissa(layer.weight.detach(), rank, seed=seed, **options), layer.bias)

    return _swap(model, target_modules, build, rank, freeze_others, progress)


def apply_svfit(
    model: nn.Module,
    rank: int,
    *,
    target_modules: Any = None,
    freeze_others: bool = True,
    progress: bool = False,
    **options: Any,
) -> nn.Module:
    """As :func:`apply_pissa`, with :class:`SVFitLinear` layers (:func:`svfit`)."""
    seed = v.check_seed(options.pop("seed", None))

    def build(layer: nn.Linear) -> nn.Module:
        return SVFitLinear(svfit(layer.weight.detach(), rank, seed=seed, **options), layer.bias)

    return _swap(model, target_modules, build, rank, freeze_others, progress)


def apply_loldu(
    model: nn.Module,
    rank: int,
    *,
    target_modules: Any = None,
    freeze_others: bool = True,
    progress: bool = False,
    scale: float = 1.0,
) -> nn.Module:
    """As :func:`apply_pissa`, with :class:`LoLDULinear` layers (:func:`loldu`)."""

    def build(layer: nn.Linear) -> nn.Module:
        return LoLDULinear(loldu(layer.weight.detach(), rank, scale=scale), layer.bias)

    return _swap(model, target_modules, build, rank, freeze_others, progress)


def apply_corda(
    model: nn.Module,
    rank: int,
    batches: Iterable[Any],
    *,
    mode: str = "ipm",
    target_modules: Any = None,
    freeze_others: bool = True,
    progress: bool = False,
    forward: Callable[[nn.Module, Any], Any] | None = None,
    **options: Any,
) -> nn.Module:
    """As :func:`apply_pissa`, with CorDA-initialised :class:`LowRankLinear` layers: the input
    covariances come from running ``batches`` through the model first
    (:func:`input_covariances`).

    ``options`` go to :func:`corda` (``scaling``, ``damping``).
    """
    if mode not in _CORDA_MODES:
        raise ValueError(f"mode must be one of {_CORDA_MODES}, got {mode!r}")
    covariances = input_covariances(model, batches, target_modules=target_modules, forward=forward)
    names = {id(module): name for name, module in model.named_modules()}

    def build(layer: nn.Linear) -> nn.Module:
        C = covariances[names[id(layer)]]
        return LowRankLinear(
            corda(layer.weight.detach(), C, rank, mode=mode, **options), layer.bias
        )

    return _swap(model, target_modules, build, rank, freeze_others, progress)


def export_lora(model: nn.Module, *, prefix: str = "base_model.model.") -> tuple[dict, dict]:
    """The :class:`LowRankLinear` layers of ``model`` in HuggingFace peft's LoRA layout.

    Returns
    -------
    state_dict : dict
        ``{prefix}{name}.lora_A.weight`` (``A``), ``{prefix}{name}.lora_B.weight`` (``B``) and
        ``{prefix}{name}.base_layer.weight`` (the residual: PiSSA and CorDA change the base
        weights, so they must be saved with the adapter, as peft does on conversion).
    config : dict
        ``r``, ``lora_alpha`` (``scaling * r``) and ``target_modules`` for a ``LoraConfig``.

    With peft installed, ``LoraConfig(**config, init_lora_weights=False)`` on the original
    model followed by ``set_peft_model_state_dict`` (and loading the base weights) reproduces
    the adapted model.
    """
    state: dict[str, torch.Tensor] = {}
    ranks, scalings, names = set(), set(), []
    for name, module in model.named_modules():
        if isinstance(module, _AdapterLinear) and not isinstance(module, LowRankLinear):
            raise TypeError(
                f"layer {name!r} is a {type(module).__name__}: only LowRankLinear (PiSSA, CorDA) "
                "layers have LoRA's form"
            )
        if isinstance(module, LowRankLinear):
            state[f"{prefix}{name}.lora_A.weight"] = module.A.detach()
            state[f"{prefix}{name}.lora_B.weight"] = module.B.detach()
            state[f"{prefix}{name}.base_layer.weight"] = module.weight.detach()
            if module.bias is not None:
                state[f"{prefix}{name}.base_layer.bias"] = module.bias.detach()
            ranks.add(module.rank)
            scalings.add(module.scaling)
            names.append(name)
    if not names:
        raise ValueError("model has no LowRankLinear layers to export")
    if len(ranks) > 1 or len(scalings) > 1:
        raise ValueError(
            "the adapters have different ranks or scalings: one LoraConfig cannot hold them"
        )
    (r,), (scaling,) = ranks, scalings
    return state, {"r": r, "lora_alpha": scaling * r, "target_modules": names}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _swap(model, target_modules, build, rank, freeze_others, progress) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    targets = _targets(model, target_modules)
    for name, layer in targets:  # every check before any layer changes
        if rank > min(layer.weight.shape):
            raise ValueError(
                f"rank must be at most min(out, in) = {min(layer.weight.shape)} for layer {name!r} "
                f"of shape {tuple(layer.weight.shape)}, got {rank}"
            )
        v.check_finite(layer.weight.detach(), f"layer {name!r}'s weight")
    if freeze_others:
        for parameter in model.parameters():
            parameter.requires_grad_(False)
    if progress:
        from tqdm.auto import tqdm

        targets = tqdm(targets, desc="adapters", unit="layer")
    for name, layer in targets:
        adapter = build(layer)
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, adapter)
    return model


def _targets(model: nn.Module, target_modules: Any) -> list[tuple[str, nn.Linear]]:
    if isinstance(target_modules, str):
        pattern = re.compile(target_modules)
        match = lambda name: pattern.fullmatch(name) is not None  # noqa: E731
    elif target_modules is None:
        match = lambda name: True  # noqa: E731
    else:
        entries = list(target_modules)
        if not entries or not all(isinstance(e, str) for e in entries):
            raise TypeError("target_modules must be None, a regular expression or a list of names")
        match = lambda name: any(name == e or name.endswith("." + e) for e in entries)  # noqa: E731
    found = [
        (name, module)
        for name, module in model.named_modules()
        if type(module) is nn.Linear and name and match(name)
    ]
    if not found:
        raise ValueError(
            f"target_modules={target_modules!r} matches no torch.nn.Linear in the model"
        )
    return found


def _top_triplets(W, rank, method, oversampling, power_iters, seed):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if method == "svd":
        U, s, Vh = torch.linalg.svd(W, full_matrices=False)
        return U[:, :rank], s[:rank], Vh[:rank]
    if oversampling is None:
        oversampling = max(10, rank)
    oversampling = min(oversampling, min(W.shape) - rank)
    result = rsvd(W, rank, oversampling=oversampling, power_iters=power_iters, seed=seed)
    return result.U, result.s, result.Vh


def _check_weight(W: Any, name: str):
    """``W`` as a torch tensor, the float32/float64 tensor to compute with, and the dtype to
    return."""
    W = _as_tensor(W, name)
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(
            f"{name} must be a non-empty 2-D (out, in) matrix, got shape {tuple(W.shape)}"
        )
    if not W.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {W.dtype}")
    compute = W if W.dtype in (torch.float32, torch.float64) else W.to(torch.float32)
    v.check_finite(compute, name)
    return W, compute.detach(), W.dtype


def _as_tensor(x: Any, name: str, like: torch.Tensor | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"{name} must be a torch tensor or an array, got {type(x).__name__}"
            ) from None
    if like is not None:
        if x.device != like.device:
            raise ValueError(f"{name} is on {x.device} but the weight on {like.device}")
        x = x.to(like.dtype)
    return x


def _check_rank(rank: Any, shape: tuple[int, int]) -> int:
    return v.check_positive_int(rank, "rank", maximum=min(shape))


def _damped_cholesky(C: torch.Tensor, damping: float) -> tuple[torch.Tensor, torch.Tensor]:
    mean_diagonal = float(torch.diagonal(C).mean())
    if not mean_diagonal > 0:
        raise ValueError(
            "covariance must have a positive diagonal (the layer's inputs are all zero)"
        )
    identity = torch.eye(C.shape[0], dtype=C.dtype, device=C.device)
    for _ in range(11):
        damped = C + damping * mean_diagonal * identity
        factor, info = torch.linalg.cholesky_ex(damped)
        if int(info) == 0:
            return damped, factor
        damping *= 2.0
    raise ValueError(
        "covariance is not positive semi-definite (no Cholesky factor even when damped)"
    )
