"""Shared helpers: optional libraries and device synchronisation for fair GPU timings."""

from __future__ import annotations

import importlib


def optional(module: str):
    """Import ``module`` or skip the benchmark (asv skips on ``NotImplementedError``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise NotImplementedError(f"{module} is not installed") from None


def cuda_torch():
    """torch, when a CUDA device is present (else the benchmark is skipped)."""
    torch = optional("torch")
    if not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")
    return torch


def cuda_cupy():
    """cupy, when a CUDA device is present (else the benchmark is skipped)."""
    cupy = optional("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            raise NotImplementedError("no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError:
        raise NotImplementedError("no CUDA device") from None
    return cupy
