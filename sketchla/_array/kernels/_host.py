"""Adapters that run a NumPy kernel for arrays of another library living in host memory.

Torch CPU tensors share memory with NumPy (``torch.from_numpy`` is zero-copy), so the numba kernels
serve them at full speed; JAX arrays are built from the host result (JAX has no int64 without
``jax_enable_x64`` and no in-place writes, so the portable kernels do not suit it). Tensors on a
GPU use the portable kernel, which runs natively there.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..namespace import is_cpu
from . import _philox_numba, philox

__all__ = ["numpy_dtype"]


def numpy_dtype(dtype) -> np.dtype:
    """The NumPy dtype with the same name as any library's dtype (``torch.float32`` -> float32)."""
    if isinstance(dtype, (np.dtype, type)):
        return np.dtype(dtype)
    return np.dtype(str(dtype).rsplit(".", 1)[-1])


def _torch(numpy_kernel: Callable, portable_kernel: Callable) -> Callable:
    def run(n, *, dtype, xp, device, **params):
        if is_cpu(device):
            import torch

            return torch.from_numpy(numpy_kernel(n, dtype=numpy_dtype(dtype), **params))
        return portable_kernel(n, dtype=dtype, xp=xp, device=device, **params)

    return run


def _jax(numpy_kernel: Callable) -> Callable:
    def run(n, *, dtype, xp, device, **params):
        host = numpy_kernel(n, dtype=numpy_dtype(dtype), **params)
        if host.dtype.itemsize == 8 and xp.asarray(0.0).dtype.itemsize == 4:
            raise TypeError(
                f"dtype={np.dtype(dtype).name} needs 64-bit JAX: set "
                "jax.config.update('jax_enable_x64', True), or ask for a 32-bit dtype"
            )
        return xp.asarray(host, device=device)

    return run


P, N = philox, _philox_numba
torch_random_uniform = _torch(N.random_uniform, P.random_uniform)
torch_random_normal = _torch(N.random_normal, P.random_normal)
torch_random_signs = _torch(N.random_signs, P.random_signs)
torch_random_integers = _torch(N.random_integers, P.random_integers)
torch_random_sort_keys = _torch(N.random_sort_keys, P.random_sort_keys)
jax_random_uniform = _jax(N.random_uniform)
jax_random_normal = _jax(N.random_normal)
jax_random_signs = _jax(N.random_signs)
jax_random_integers = _jax(N.random_integers)
jax_random_sort_keys = _jax(N.random_sort_keys)
