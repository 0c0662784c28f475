"""Shared helpers: optional libraries and device synchronisation for fair GPU timings."""

from __future__ import annotations

import importlib
import os

# both sides of the dask benchmarks run with one BLAS thread, as sketchla's own dask passes do:
# the threads scheduler runs a block per core, and BLAS threads on top oversubscribe the cores
from sketchla._array.gram import one_blas_thread  # noqa: F401

# asv_bench/smoke.py sets this: the smoke run checks that every benchmark runs, and the
# suites whose full size takes minutes per call (an O(n^3) peer, a 10^6-node graph) shrink.
SMOKE = os.environ.get("SKETCHLA_BENCH_SMOKE") == "1"


def size(full: int, smoke: int) -> int:
    """``full`` in a real run, ``smoke`` in the smoke run."""
    return smoke if SMOKE else full


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
