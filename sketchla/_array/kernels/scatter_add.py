"""``scatter_add``: sum rows of ``values`` into the rows of an output named by ``indices``.

``out[indices[i]] += values[i]`` for every ``i``, with ``out`` starting at zero: the core of
CountSketch-type operators (hash rows, add them up). The portable version forms the 0/1 matrix
``E[r, i] = (indices[i] == r)`` and multiplies, in column chunks to bound memory; it is exact up to
the order of summation and serves as the reference for the native versions.
"""

from __future__ import annotations

from typing import Any

__all__ = ["scatter_add", "scatter_add_cupy", "scatter_add_jax", "scatter_add_torch"]

_CHUNK = 4096


def scatter_add(indices: Any, values: Any, n_rows: int, *, xp: Any) -> Any:
    """Portable Array-API version: ``E @ values`` with ``E`` built chunk by chunk."""
    values2d = values if values.ndim == 2 else xp.reshape(values, (-1, 1))
    dev = values.device
    rows = xp.reshape(xp.arange(n_rows, dtype=indices.dtype, device=dev), (-1, 1))
    out = xp.zeros((n_rows, values2d.shape[1]), dtype=values.dtype, device=dev)
    n = indices.shape[0]
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        hit = rows == xp.reshape(indices[lo:hi], (1, -1))
        out = out + xp.astype(hit, values.dtype) @ values2d[lo:hi, ...]
    return out if values.ndim == 2 else xp.reshape(out, (n_rows,))


def scatter_add_torch(indices: Any, values: Any, n_rows: int, *, xp: Any) -> Any:
    """Torch: ``index_add_`` into a fresh zero tensor."""
    out = xp.zeros((n_rows, *values.shape[1:]), dtype=values.dtype, device=values.device)
    return out.index_add_(0, indices, values)


def scatter_add_cupy(indices: Any, values: Any, n_rows: int, *, xp: Any) -> Any:
    """CuPy: ``cupy.add.at`` (atomic adds) into a fresh zero array."""
    import cupy

    out = cupy.zeros((n_rows, *values.shape[1:]), dtype=values.dtype)
    cupy.add.at(out, indices, values)
    return out


def scatter_add_jax(indices: Any, values: Any, n_rows: int, *, xp: Any) -> Any:
    """JAX: the functional ``.at[].add`` update."""
    out = xp.zeros((n_rows, *values.shape[1:]), dtype=values.dtype)
    return out.at[indices].add(values)
