"""M-FAC (Frantar, Kurtic & Alistarh, NeurIPS 2021): inverse-Hessian-vector products with the
empirical Fisher of a window of gradients, ``F = damp I + G^T G / m``, without forming ``F``.

:class:`StaticIHVP` and :class:`SlidingWindowIHVP` are plain linear algebra on any array
library. The optimizer :class:`MFAC` and the pruner :func:`obs_prune` need torch, imported on
first use so ``import sketchla`` stays light.
"""

from typing import Any

from .sliding import SlidingWindowIHVP
from .static import OBSUpdate, StaticIHVP

__all__ = [
    "MFAC",
    "OBSUpdate",
    "PruneResult",
    "SlidingWindowIHVP",
    "StaticIHVP",
    "collect_gradients",
    "obs_prune",
]

_LAZY = {
    "MFAC": "optimizer",
    "PruneResult": "pruning",
    "collect_gradients": "pruning",
    "obs_prune": "pruning",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
