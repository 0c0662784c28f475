"""CountSketch applied to a dense ``A``: ``S[:, start:start + k] @ A``.

Column ``j`` of ``S`` has one nonzero, in row ``h(j)`` = value ``j`` of the integers of
``rows_generator`` (uniform on ``[0, m)``), with sign value ``j`` of ``signs_generator``. The
portable version forms that structure and hands it to ``sparse_sketch_apply``; the NumPy (numba,
also Torch CPU) and CUDA (Triton) versions draw ``h(j)`` and the sign from the counter-based
stream inside their pass over ``A``, so no structure array is ever allocated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import kernel

__all__ = ["countsketch_apply", "countsketch_apply_cupy", "countsketch_apply_torch"]


def countsketch_apply(
    A: Any, m: int, start: int, *, rows_generator, signs_generator, xp: Any
) -> Any:
    """Portable version."""
    k = A.shape[0]
    rows = rows_generator.integers(0, m, k, dtype=xp.int64, xp=xp, device=A.device, start=start)
    values = signs_generator.signs(k, dtype=A.dtype, xp=xp, device=A.device, start=start)
    indptr = xp.arange(k + 1, dtype=xp.int64, device=A.device)
    return kernel("sparse_sketch_apply", xp)(indptr, rows, values, A, m, xp=xp)


def _fused_possible(A: Any, rows_generator, signs_generator) -> bool:
    from ._random_adapters import _triton_available

    return rows_generator._key == signs_generator._key and _triton_available()


def countsketch_apply_torch(
    A: Any, m: int, start: int, *, rows_generator, signs_generator, xp: Any
) -> Any:
    """Torch: the NumPy (numba) kernel on the CPU (zero-copy), the fused Triton kernel on CUDA
    devices, the portable version elsewhere."""
    import torch

    params = {"rows_generator": rows_generator, "signs_generator": signs_generator}
    if A.device.type == "cpu" and not A.requires_grad:
        from ._countsketch_numba import countsketch_apply as numba_apply

        host = np.ascontiguousarray(A.numpy())
        return torch.from_numpy(numba_apply(host, m, start, **params, xp=None))
    if A.device.type == "cuda" and _fused_possible(A, rows_generator, signs_generator):
        from ._countsketch_triton import countsketch_apply_torch as fused

        return fused(A, m, start, **params)
    return countsketch_apply(A, m, start, **params, xp=xp)


def countsketch_apply_cupy(
    A: Any, m: int, start: int, *, rows_generator, signs_generator, xp: Any
) -> Any:
    """CuPy: the fused Triton kernel through zero-copy DLPack when Torch and Triton are
    installed, the portable version otherwise."""
    params = {"rows_generator": rows_generator, "signs_generator": signs_generator}
    if not _fused_possible(A, rows_generator, signs_generator):
        return countsketch_apply(A, m, start, **params, xp=xp)
    import cupy
    import torch

    from ._countsketch_triton import countsketch_apply_torch as fused

    return cupy.from_dlpack(fused(torch.from_dlpack(A), m, start, **params))
