"""The packaged DCDM networks: trained by ``scripts/train_dcdm.py`` and shipped with sketchla
(no download). Each file holds the network's configuration, its weights and how it was trained,
and loads with ``torch.load(..., weights_only=True)``."""

from __future__ import annotations

from importlib import resources
from typing import Any

import torch

from .network import DCDMNet

__all__ = ["PACKAGED_MODELS", "load_model", "save_model"]

PACKAGED_MODELS = ("poisson2d", "poisson3d")


def load_model(name: str, *, device: Any = None, dtype: Any = torch.float32) -> DCDMNet:
    """A packaged network in evaluation mode.

    Parameters
    ----------
    name : {"poisson2d", "poisson3d"}
        Trained on the 2-D (5-point) or 3-D (7-point) Poisson matrix with Dirichlet boundaries.
    device, dtype : optional
        Where and in which precision it runs (default: CPU, float32).

    Examples
    --------
    >>> from sketchla.solvers.dcdm import load_model
    >>> load_model("poisson3d").dim
    3
    """
    if name not in PACKAGED_MODELS:
        raise ValueError(f"model must be one of {PACKAGED_MODELS}, got {name!r}")
    path = resources.files(__package__).joinpath("weights", f"{name}.pt")
    with resources.as_file(path) as file:
        saved = torch.load(file, weights_only=True, map_location="cpu")
    model = DCDMNet(**saved["config"])
    model.load_state_dict(saved["state"])
    model.training_info = saved["info"]
    layout = torch.channels_last_3d if model.dim == 3 else torch.channels_last
    # channels-last: the layout GPU convolution kernels prefer (no difference on this CPU)
    return model.to(device=device, dtype=dtype, memory_format=layout).eval()


def save_model(model: DCDMNet, path: Any, info: dict[str, Any]) -> None:
    """Write ``model`` in the packaged format (``info``: how it was trained, plain values)."""
    state = {k: t.detach().to("cpu", torch.float32).clone() for k, t in model.state_dict().items()}
    torch.save({"config": model.config(), "state": state, "info": dict(info)}, path)
