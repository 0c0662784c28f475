"""Where each backend's random numbers are made: adapters around the NumPy (numba), Triton and
portable kernels of :mod:`sketchla._array.kernels.philox`.

- Torch CPU tensors share memory with NumPy (``torch.from_numpy`` is zero-copy), so the numba
  kernels serve them at full speed.
- Torch CUDA tensors use the Triton kernels (Triton ships with the CUDA builds of PyTorch); CuPy
  arrays use them too when Torch and Triton are installed, through zero-copy DLPack. Without
  Triton both fall back to the portable kernels, which run natively on the GPU, only slower.
- JAX arrays are built from the host result: JAX has no int64 without ``jax_enable_x64`` and no
  in-place writes, so the portable kernels do not suit it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import cache

from ..namespace import is_cpu, numpy_dtype
from . import _philox_numba, philox

__all__: list[str] = []


@cache
def _triton_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "triton"))


def _triton_kernel(name: str) -> Callable:
    from . import _philox_triton

    return getattr(_philox_triton, name)


def _torch(name: str) -> Callable:
    numpy_kernel = getattr(_philox_numba, name)
    portable_kernel = getattr(philox, name)

    def run(n, *, dtype, xp, device, **params):
        import torch

        if is_cpu(device):
            return torch.from_numpy(numpy_kernel(n, dtype=numpy_dtype(dtype), **params))
        if torch.device(device).type == "cuda" and _triton_available():
            return _triton_kernel(name)(n, dtype=dtype, device=device, **params)
        return portable_kernel(n, dtype=dtype, xp=xp, device=device, **params)

    return run


def _cupy(name: str) -> Callable:
    portable_kernel = getattr(philox, name)

    def run(n, *, dtype, xp, device, **params):
        if not _triton_available():
            return portable_kernel(n, dtype=dtype, xp=xp, device=device, **params)
        import cupy
        import torch

        device_id = cupy.cuda.Device().id if device is None else device.id
        torch_dtype = getattr(torch, numpy_dtype(dtype).name)
        result = _triton_kernel(name)(n, dtype=torch_dtype, device=f"cuda:{device_id}", **params)
        return cupy.from_dlpack(result)

    return run


def _jax(name: str) -> Callable:
    numpy_kernel = getattr(_philox_numba, name)

    def run(n, *, dtype, xp, device, **params):
        host = numpy_kernel(n, dtype=numpy_dtype(dtype), **params)
        if host.dtype.itemsize == 8 and xp.asarray(0.0).dtype.itemsize == 4:
            raise TypeError(
                f"dtype={host.dtype.name} needs 64-bit JAX: set "
                "jax.config.update('jax_enable_x64', True), or ask for a 32-bit dtype"
            )
        return xp.asarray(host, device=device)

    return run


torch_random_uniform = _torch("random_uniform")
torch_random_normal = _torch("random_normal")
torch_random_signs = _torch("random_signs")
torch_random_integers = _torch("random_integers")
torch_random_sort_keys = _torch("random_sort_keys")
cupy_random_uniform = _cupy("random_uniform")
cupy_random_normal = _cupy("random_normal")
cupy_random_signs = _cupy("random_signs")
cupy_random_integers = _cupy("random_integers")
cupy_random_sort_keys = _cupy("random_sort_keys")
jax_random_uniform = _jax("random_uniform")
jax_random_normal = _jax("random_normal")
jax_random_signs = _jax("random_signs")
jax_random_integers = _jax("random_integers")
jax_random_sort_keys = _jax("random_sort_keys")
