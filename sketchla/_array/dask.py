"""Dask arrays: a sketch ``S @ A`` computed block by block, without gathering ``A``.

Every block of a sketch can be generated on its own (the generator is counter-based), so the
contribution of rows ``r0 : r0 + k`` of ``A`` is ``S[:, r0:r0 + k] @ A[r0:r0 + k]``, computed
where the block lives; the contributions of one column of blocks are then summed. The solvers'
passes over a tall ``A`` (``A^T A``, ``A^T (b - A x)``, ...) are sums over its row blocks of small
results: :func:`sum_over_row_blocks` computes one per block where it lives and adds them in a
fixed pairwise tree, so that the bits do not depend on the scheduler or on the order in which
blocks finish. Nothing here imports dask unless a dask array arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import array_api_compat
import numpy as np

__all__ = ["compute", "is_dask_array", "row_aligned", "sketch_blocks", "sum_over_row_blocks"]


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


def row_aligned(A: Any, *others: Any) -> tuple[Any, ...]:
    """``A`` as a dask array of row blocks (one chunk across its columns) and each of
    ``others`` (dask or NumPy arrays with ``A``'s rows, 1-D or 2-D) chunked by the same rows.

    One column chunk keeps each row block whole, so that a pass over ``A`` reads every block
    once; the solvers that call this work on tall matrices, whose rows are a few thousand
    numbers at most.
    """
    import dask.array as da

    if any(np.isnan(c) for c in A.shape):
        raise ValueError("A must have known chunk sizes (call compute_chunk_sizes() first)")
    if A.ndim == 2 and len(A.chunks[1]) > 1:
        A = A.rechunk({1: -1})
    rows = A.chunks[0]
    aligned = []
    for x in others:
        if not is_dask_array(x):
            x = da.from_array(np.asarray(x), chunks=(rows, *((s,) for s in x.shape[1:])))
        else:
            x = x.rechunk((rows, *((s,) for s in x.shape[1:])))
        aligned.append(x)
    return (A, *aligned)


def sum_over_row_blocks(
    function: Callable[..., Any],
    arrays: tuple[Any, ...],
    shared: tuple[Any, ...] = (),
    *,
    add: Callable[[Any, Any], Any] | None = None,
) -> Any:
    """``sum_i function(*blocks_i, *shared)``, computed now with the current dask scheduler.

    ``arrays`` are dask arrays with the same row chunks and one chunk along every other axis
    (see :func:`row_aligned`); ``blocks_i`` are their ``i``-th row blocks, as NumPy arrays.
    ``shared`` are small arguments sent once (NumPy arrays, numbers). ``function`` returns a
    NumPy array or a tuple of them; ``add(x, y)`` adds two results (elementwise ``+`` by
    default). The additions follow a fixed pairwise tree over the blocks in row order: the same
    bits whatever the scheduler (threads, processes, a distributed cluster); a different row
    chunking changes the result only by rounding.
    """
    import dask

    add = _add if add is None else add
    blocks = [x.to_delayed().ravel() for x in arrays]
    counts = {len(b) for b in blocks}
    if len(counts) != 1:
        raise ValueError("the arrays must have the same row chunks and one chunk across")
    shared = tuple(dask.delayed(s, pure=True) if isinstance(s, np.ndarray) else s for s in shared)
    partial = dask.delayed(function, pure=True)
    combine = dask.delayed(add, pure=True)
    level = [partial(*row, *shared) for row in zip(*blocks, strict=True)]
    blocks_in_parallel = len(level) > 1
    while len(level) > 1:
        pairs = [combine(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    (total,) = compute(level[0], blocks_in_parallel=blocks_in_parallel)
    return total


def compute(*collections: Any, blocks_in_parallel: bool = True) -> tuple[Any, ...]:
    """``dask.compute(*collections)``; with several blocks to run at once, NumPy's BLAS is kept
    to one thread meanwhile: the threads scheduler already runs a block per core, and BLAS
    threads on top of it oversubscribe the cores (``A_i^T A_i`` of a 65 536 x 256 block took
    1.4 s instead of 0.12 s here with two of each on two cores). Workers of a
    ``distributed`` cluster in other processes are unaffected (their nannies set one BLAS
    thread already)."""
    import dask

    if not blocks_in_parallel:
        return dask.compute(*collections)
    from .gram import one_blas_thread

    with one_blas_thread():
        return dask.compute(*collections)


def _add(x: Any, y: Any) -> Any:
    if isinstance(x, tuple):
        return tuple(a + b for a, b in zip(x, y, strict=True))
    return x + y
