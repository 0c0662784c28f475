"""CountSketch of a dense CUDA array in one fused Triton kernel.

Each program takes a tile of rows of ``A``, draws the row ``h(j)`` and sign of each from the
Philox streams (the same values as the portable code: value ``j`` of ``rows_generator.integers``
and of ``signs_generator.signs``), and adds ``sign * A[j]`` into row ``h(j)`` of the result with
atomic adds. ``A`` is read once and nothing else touches memory, where the unfused path (index
and sign arrays, ``A * signs``, ``index_add_``) makes three passes. The order of the atomic adds
is not fixed, so results agree with the CPU's to rounding, not bit for bit.

Torch CUDA tensors take it directly; CuPy arrays through zero-copy DLPack. It also runs in
Triton's CPU interpreter (``TRITON_INTERPRET=1``), which is how CI checks it without a GPU.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._philox_triton import _philox

__all__ = ["countsketch_apply_torch"]

_BLOCK_ROWS = 32
_BLOCK_COLS = 64


@triton.jit(do_not_specialize=["n", "d", "m", "start", "k0", "k1", "rows_stream", "signs_stream"])
def _countsketch_kernel(
    a_ptr,
    out_ptr,
    n,
    d,
    m,
    start,
    stride_a,
    stride_out,
    k0,
    k1,
    rows_stream,
    signs_stream,
    BLOCK_ROWS: tl.constexpr,
    BLOCK_COLS: tl.constexpr,
):
    j = tl.program_id(0).to(tl.int64) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
    cols = tl.program_id(1).to(tl.int64) * BLOCK_COLS + tl.arange(0, BLOCK_COLS)
    i = start + j
    key0 = k0.to(tl.uint32)
    key1 = k1.to(tl.uint32)
    # row: integer value i, floor(r * m / 2**64) of the 64-bit word pair (w0 w1) or (w2 w3)
    w0, w1, w2, w3 = _philox(i // 2, rows_stream.to(tl.uint32), 0, key0, key1)
    even = (i % 2) == 0
    high = tl.where(even, w0, w2).to(tl.uint64)
    low = tl.where(even, w1, w3).to(tl.uint64)
    span = m.to(tl.uint64)
    row = ((high * span + ((low * span) >> 32)) >> 32).to(tl.int64)
    # sign: bit i % 32 of word i // 32 (lane (i // 32) % 4 of block i // 128)
    b0, b1, b2, b3 = _philox(i // 128, signs_stream.to(tl.uint32), 0, key0, key1)
    lane = (i // 32) % 4
    word = tl.where(lane == 0, b0, tl.where(lane == 1, b1, tl.where(lane == 2, b2, b3)))
    bit = (word >> (i % 32).to(tl.uint32)) & 1
    mask = (j < n)[:, None] & (cols < d)[None, :]
    a = tl.load(a_ptr + j[:, None] * stride_a + cols[None, :], mask=mask, other=0.0)
    signed = tl.where((bit == 1)[:, None], -a, a)
    tl.atomic_add(out_ptr + row[:, None] * stride_out + cols[None, :], signed, mask=mask)


def countsketch_apply_torch(A, m, start, *, rows_generator, signs_generator):
    """``S[:, start:start + n] @ A`` for a CUDA tensor ``A`` of shape ``(n, d)``."""
    import torch

    A = A.contiguous()
    n, d = A.shape
    out = torch.zeros((m, d), dtype=A.dtype, device=A.device)
    if n and d:
        k0, k1 = rows_generator._key
        grid = (triton.cdiv(n, _BLOCK_ROWS), triton.cdiv(d, _BLOCK_COLS))
        _countsketch_kernel[grid](
            A,
            out,
            n,
            d,
            m,
            start,
            A.stride(0),
            out.stride(0),
            k0,
            k1,
            rows_generator.stream,
            signs_generator.stream,
            BLOCK_ROWS=_BLOCK_ROWS,
            BLOCK_COLS=_BLOCK_COLS,
        )
    return out
