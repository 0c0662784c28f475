"""The deep conjugate direction method (Kaneda, Akar, Chen, Trevino Kala, Hyde & Teran, ICML
2023): conjugate directions proposed by a network from the residual.

``dcdm_solve`` needs torch for a network model (the default is a packaged network; a plain
callable needs no torch). The network, its training and the packaged models import torch and
load on first use, so ``import sketchla`` stays light.
"""

from typing import Any

from .solve import dcdm_solve

__all__ = [
    "PACKAGED_MODELS",
    "DCDMNet",
    "MultilevelNet",
    "TrainingData",
    "dcdm_loss",
    "dcdm_solve",
    "lanczos_ritz",
    "load_model",
    "save_model",
    "solver_residuals",
    "stencil",
    "train",
]

_LAZY = {
    "DCDMNet": "network",
    "MultilevelNet": "network",
    "PACKAGED_MODELS": "models",
    "load_model": "models",
    "save_model": "models",
    "TrainingData": "training",
    "dcdm_loss": "training",
    "lanczos_ritz": "training",
    "solver_residuals": "training",
    "stencil": "training",
    "train": "training",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
