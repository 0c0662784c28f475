"""Consumers of sketchla's primitives from the learned-model literature.

* :mod:`~sketchla.apps.peft`: low-rank adapter initialisations of a weight matrix (PiSSA, SVFit,
  LoLDU, CorDA) from a randomized SVD, and adapter layers that replace ``torch.nn.Linear``;
* :mod:`~sketchla.apps.projection`: SVD-free low-rank gradient projection on a fixed DCT basis
  and the :class:`LowRankAdam` optimizer (GaLore-style, with a DCT or an SVD projector);
* :mod:`~sketchla.apps.embeddings`: FastRP graph embeddings on a very sparse random projection.

The torch-based parts import torch on first use, so ``import sketchla.apps`` stays light.
"""

from typing import Any

__all__ = [
    "CorDAInit",
    "DCTProjector",
    "LoLDUInit",
    "LowRankAdam",
    "LowRankInit",
    "SVDProjector",
    "SVFitInit",
    "apply_corda",
    "apply_loldu",
    "apply_pissa",
    "apply_svfit",
    "corda",
    "dct_basis",
    "export_lora",
    "fastrp",
    "input_covariances",
    "loldu",
    "pissa",
    "svfit",
]

_LAZY = {
    "fastrp": "embeddings",
    "DCTProjector": "projection",
    "LowRankAdam": "projection",
    "SVDProjector": "projection",
    "dct_basis": "projection",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY.get(name, 'peft')}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
