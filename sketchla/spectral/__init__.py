"""Spectral analysis of weight matrices: empirical spectral densities, power-law fits of their
tails, FARMS's aspect-ratio-free ESD, per-layer metrics, and whole-model reports.

``esd``, ``fit_powerlaw``, ``farms`` and the metrics work on arrays of any library;
``analyze`` reads torch modules, state dicts and ``.safetensors`` / ``.pt`` checkpoints.
"""

from typing import Any

from .esd import esd, weight_matrices
from .farms import farms, farms_esd
from .metrics import (
    alpha_pruning_sparsities,
    spectral_metrics,
    tempbalance_learning_rates,
    top_singular_value,
)
from .powerlaw import PowerLawFit, fit_powerlaw, hill_estimator

__all__ = [
    "PowerLawFit",
    "SpectralReport",
    "alpha_pruning_sparsities",
    "analyze",
    "esd",
    "farms",
    "farms_esd",
    "fit_powerlaw",
    "hill_estimator",
    "spectral_metrics",
    "tempbalance_learning_rates",
    "top_singular_value",
    "weight_matrices",
]

_LAZY = {"SpectralReport": "report", "analyze": "report"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
