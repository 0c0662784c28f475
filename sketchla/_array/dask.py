"""Dask arrays: a sketch ``S @ A`` computed block by block, without gathering ``A``.

Every block of a sketch can be generated on its own (the generator is counter-based), so the
contribution of rows ``r0 : r0 + k`` of ``A`` is ``S[:, r0:r0 + k] @ A[r0:r0 + k]``, computed
where the block lives; the contributions of one column of blocks are then summed. Nothing here
imports dask unless a dask array arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import array_api_compat
import numpy as np

__all__ = ["is_dask_array", "sketch_blocks"]


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a ``dask.array.Array``."""
    return array_api_compat.is_dask_array(x)


def sketch_blocks(
    apply_block: Callable[[np.ndarray, int], np.ndarray], A: Any, m: int, dtype: np.dtype
) -> Any:
    """``S @ A`` as a lazy ``(m,)`` or ``(m, d)`` dask array from the row blocks of ``A``.

    ``apply_block(block, offset)`` returns the contribution ``S[:, offset:offset + k] @ block``
    of a NumPy block of ``k`` rows (2-D). The result keeps ``A``'s column chunks; each output
    block is the sum, over ``A``'s row chunks, of their contributions (a tree reduction, so the
    order of the sums depends on the row chunking: results of different chunkings agree to
    rounding).
    """
    import dask.array as da

    vector = A.ndim == 1
    if vector:
        A = A[:, None]
    row_starts = np.concatenate([[0], np.cumsum(A.chunks[0])[:-1]]).astype(int)

    def contribution(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        start = int(block_info[0]["array-location"][0][0])
        return apply_block(np.asarray(block, dtype=dtype), start)

    # block (i, j) of `stacked` is row block i's contribution to column block j of S @ A
    stacked = da.map_blocks(
        contribution, A, dtype=dtype, chunks=((m,) * len(row_starts), A.chunks[1])
    )
    parts = [stacked[i * m : (i + 1) * m] for i in range(len(row_starts))]
    result = da.stack(parts).sum(axis=0, dtype=dtype)
    return result[:, 0] if vector else result
