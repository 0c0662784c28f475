"""The M-FAC optimizer (Frantar, Kurtic & Alistarh, NeurIPS 2021, section 5): each step
preconditions the gradient by the inverse of the empirical Fisher of the last ``ngrads``
gradients, ``u = (damp I + G^T G / m)^-1 g``, with the sliding-window model."""

from __future__ import annotations

from typing import Any

import torch

from .. import _validation as v
from . import _woodbury as wb
from .sliding import SlidingWindowIHVP

__all__ = ["MFAC"]


class MFAC(torch.optim.Optimizer):
    """M-FAC: a step along ``F^-1 g``, ``F = damp I + (1/m) sum_i g_i g_i^T`` over the last
    ``m = ngrads`` gradients (this step's included).

    All parameters, in every group, share one model ``F`` over their concatenation (a full
    second-order model, not one per layer); each group has its own ``lr``, ``momentum`` and
    ``weight_decay``. One step: ``g = grad + weight_decay * p`` for every parameter, ``g``
    enters the window, ``u = F^-1 g``; with momentum ``mu``, ``b = mu b + (1 - mu) u`` (the
    reference implementation's average, ``b = 0`` at first) and ``u = b``; then
    ``p -= lr * u``. A parameter without a gradient counts as a zero gradient.

    Parameters
    ----------
    params : iterable of tensors or of dicts (parameter groups)
        On one device, of one floating dtype.
    lr : float
        Step size (the paper's default 1e-3).
    momentum : float
        In ``[0, 1)``.
    weight_decay : float
        Added to the gradient, ``weight_decay * p``, before preconditioning.
    ngrads : int
        The window ``m`` (the paper's default 1024; memory ``m d`` floats on the parameters'
        device).
    damp : float
        ``lambda`` (the paper's default 1e-5).
    block_size : int, optional
        Columns per pass block of the window (see :class:`SlidingWindowIHVP`).

    Notes
    -----
    A step costs two passes over the window (``4 m d`` flops) and a Cholesky factorisation of
    an ``m x m`` matrix (``m^3 / 3``). :meth:`state_dict` holds the window, so a resumed run
    continues exactly as an uninterrupted one.

    Examples
    --------
    >>> import torch
    >>> from sketchla.mfac import MFAC
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Linear(4, 2)  # logistic regression on a separable problem
    >>> x = torch.randn(512, 4)
    >>> y = (x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) > 0).long()
    >>> optimizer = MFAC(model.parameters(), lr=1e-2, ngrads=16, damp=1e-3)
    >>> for epoch in range(3):
    ...     for start in range(0, 512, 32):
    ...         optimizer.zero_grad()
    ...         batch = slice(start, start + 32)
    ...         torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
    ...         _ = optimizer.step()
    >>> accuracy = (model(x).argmax(dim=1) == y).float().mean()
    >>> bool(accuracy > 0.95)
    True
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        ngrads: int = 1024,
        damp: float = 1e-5,
        *,
        block_size: int | None = None,
    ):
        defaults = {
            "lr": v.check_real(lr, "lr", minimum=0),
            "momentum": v.check_real(momentum, "momentum", minimum=0, below=1),
            "weight_decay": v.check_real(weight_decay, "weight_decay", minimum=0),
        }
        ngrads = v.check_int(ngrads, "ngrads", minimum=1)
        damp = wb.check_damp(damp)
        self._frozen = False
        super().__init__(params, defaults)
        tensors = [p for group in self.param_groups for p in group["params"]]
        first = tensors[0]
        for p in tensors:
            if p.device != first.device or p.dtype != first.dtype:
                raise ValueError(
                    "MFAC's parameters must share one device and dtype, got "
                    f"{first.dtype} on {first.device} and {p.dtype} on {p.device}"
                )
        if not first.dtype.is_floating_point:
            raise TypeError(f"MFAC's parameters must be floating point, got {first.dtype}")
        d = sum(p.numel() for p in tensors)
        self._window = SlidingWindowIHVP(
            ngrads, d, damp, xp="torch", dtype=first.dtype, device=first.device,
            block_size=block_size,
        )  # fmt: skip
        self._frozen = True

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Parameter groups are fixed at construction: the window's dimension depends on them."""
        if self._frozen:
            raise ValueError(
                "MFAC's window spans the parameters given at construction; create a new "
                "optimizer to add parameters"
            )
        for name, below in (("lr", None), ("momentum", 1), ("weight_decay", None)):
            if name in param_group:
                v.check_real(param_group[name], name, minimum=0, below=below)
        super().add_param_group(param_group)

    @property
    def window(self) -> SlidingWindowIHVP:
        """The sliding-window model of the inverse Fisher."""
        return self._window

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One M-FAC step; ``closure`` (optional) re-evaluates the loss with gradients."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        pieces = []
        for group in self.param_groups:
            decay = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    pieces.append(torch.zeros(p.numel(), dtype=p.dtype, device=p.device))
                    continue
                if p.grad.is_sparse:
                    raise TypeError("MFAC does not support sparse gradients")
                grad = p.grad.add(p, alpha=decay) if decay else p.grad
                pieces.append(grad.reshape(-1))
        g = torch.cat(pieces)
        if not bool(torch.isfinite(g).all()):
            raise ValueError("the gradient holds NaN or infinity; MFAC's window is unchanged")
        u = self._window.update_ihvp(g)
        offset = 0
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            for p in group["params"]:
                step = u[offset : offset + p.numel()].view_as(p)
                offset += p.numel()
                if mu:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    buffer = state["momentum_buffer"]
                    buffer.mul_(mu).add_(step, alpha=1 - mu)
                    step = buffer
                p.add_(step, alpha=-lr)
        return loss

    def state_dict(self) -> dict[str, Any]:
        """torch's optimizer state plus the window (``"mfac_window"``: a copy of the gradients,
        and the live Gram matrix). As with torch's optimizers, save or copy the dict to keep
        it."""
        state = super().state_dict()
        state["mfac_window"] = self._window.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` of an MFAC optimizer over the same parameters."""
        state = dict(state_dict)
        window = state.pop("mfac_window", None)
        if window is None:
            raise ValueError("state_dict is not an MFAC state: it has no 'mfac_window'")
        self._window.check_state(window)  # before anything changes
        super().load_state_dict(state)
        self._window.load_state_dict(window)

    def __getstate__(self) -> dict[str, Any]:
        # torch's Optimizer pickles only defaults, state and param_groups: keep the window
        state = super().__getstate__()
        state["_window"], state["_frozen"] = self._window, self._frozen
        return state
