"""The packaged DCDM networks: trained by ``scripts/train_dcdm.py`` and shipped with sketchla
(no download). Each file holds the network's configuration, its weights and how it was trained,
and loads with ``torch.load(..., weights_only=True)``."""

from __future__ import annotations

from importlib import resources
from typing import Any

import torch
from torch import nn

from .network import DCDMNet, MultilevelNet

__all__ = ["PACKAGED_MODELS", "load_model", "save_model"]

PACKAGED_MODELS = ("poisson2d", "poisson3d", "poisson3d-paper")

_ARCHITECTURES = {"paper": DCDMNet, "multilevel": MultilevelNet}


def load_model(name: str, *, device: Any = None, dtype: Any = torch.float32) -> nn.Module:
    """A packaged network in evaluation mode.

    Parameters
    ----------
    name : {"poisson2d", "poisson3d", "poisson3d-paper"}
        Trained on the 2-D (5-point) or 3-D (7-point) Poisson matrix with Dirichlet boundaries.
        ``"poisson3d"`` is a :class:`MultilevelNet` (the 3-D default of :func:`dcdm_solve`:
        its iterations grow at most 1.5x per doubling of the grid); ``"poisson3d-paper"``
        and ``"poisson2d"`` are the paper's :class:`DCDMNet`.
    device, dtype : optional
        Where and in which precision it runs (default: CPU, float32).

    Examples
    --------
    >>> from sketchla.solvers.dcdm import load_model
    >>> load_model("poisson3d").dim
    3
    >>> type(load_model("poisson3d-paper")).__name__
    'DCDMNet'
    """
    if name not in PACKAGED_MODELS:
        raise ValueError(f"model must be one of {PACKAGED_MODELS}, got {name!r}")
    path = resources.files(__package__).joinpath("weights", f"{name}.pt")
    with resources.as_file(path) as file:
        saved = torch.load(file, weights_only=True, map_location="cpu")
    model = build_model(saved["config"])
    model.load_state_dict(saved["state"])
    model.training_info = saved["info"]
    layout = torch.channels_last_3d if model.dim == 3 else torch.channels_last
    # channels-last: the layout GPU convolution kernels prefer (no difference on this CPU)
    return model.to(device=device, dtype=dtype, memory_format=layout).eval()


def build_model(config: dict[str, Any]) -> nn.Module:
    """An untrained network from a saved configuration (``architecture`` defaults to the
    paper's)."""
    config = dict(config)
    architecture = config.pop("architecture", "paper")
    if architecture not in _ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}")
    return _ARCHITECTURES[architecture](**config)


def save_model(model: nn.Module, path: Any, info: dict[str, Any]) -> None:
    """Write ``model`` (a :class:`DCDMNet` or :class:`MultilevelNet`) in the packaged format
    (``info``: how it was trained, plain values)."""
    state = {k: t.detach().to("cpu", torch.float32).clone() for k, t in model.state_dict().items()}
    torch.save({"config": model.config(), "state": state, "info": dict(info)}, path)
