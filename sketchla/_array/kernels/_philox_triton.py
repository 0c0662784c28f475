"""Triton kernels for :mod:`sketchla._array.kernels.philox` on CUDA tensors: the same values as
the portable code (integers, signs and uniforms bit for bit, normals to rounding), fused into one
pass over the output instead of ~200 elementwise launches.

Triton ships with the CUDA builds of PyTorch, so Torch-CUDA users get these kernels with no extra
dependency. The kernels also run in Triton's CPU interpreter (``TRITON_INTERPRET=1``), which is
how CI checks them against the NumPy kernels without a GPU.
"""

from __future__ import annotations

import os

import triton
import triton.language as tl
from triton.language.extra import libdevice

from .philox import PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1, ROUNDS

__all__ = [
    "random_integers",
    "random_normal",
    "random_signs",
    "random_sort_keys",
    "random_uniform",
]

_BLOCK = 1024
# Triton's CPU interpreter computes with NumPy (no fused multiply-add) and lacks libdevice.
_INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
# Triton kernels may read module globals only as constexpr.
_M0 = tl.constexpr(PHILOX_M0)
_M1 = tl.constexpr(PHILOX_M1)
_W0 = tl.constexpr(PHILOX_W0)
_W1 = tl.constexpr(PHILOX_W1)
_ROUNDS = tl.constexpr(ROUNDS)
# Scalar arguments equal to 1 would otherwise be specialised into compile-time constants.
_RUNTIME = ["n", "start", "k0", "k1", "stream", "span"]

# The two-values-per-block layouts, chosen at compile time.
_UNIFORM53, _UNIFORM24, _NORMAL, _INTEGERS, _SORT_KEYS = 0, 1, 2, 3, 4


@triton.jit
def _philox(block, stream, attempt, k0, k1):
    c0 = (block & 0xFFFFFFFF).to(tl.uint32)
    c1 = (block >> 32).to(tl.uint32)
    c2 = (tl.zeros_like(c0) + stream).to(tl.uint32)
    c3 = (tl.zeros_like(c0) + attempt).to(tl.uint32)
    key0 = k0
    key1 = k1
    for _ in tl.static_range(_ROUNDS):
        hi0 = tl.umulhi(c0, _M0)
        lo0 = c0 * _M0
        hi1 = tl.umulhi(c2, _M1)
        lo1 = c2 * _M1
        c0, c1, c2, c3 = hi1 ^ c1 ^ key0, lo1, hi0 ^ c3 ^ key1, lo0
        key0 = key0 + _W0
        key1 = key1 + _W1
    return c0, c1, c2, c3


@triton.jit
def _squared_norm(v1, v2, SEPARATE_ROUNDING: tl.constexpr):
    """v1**2 + v2**2 rounded after each operation, as on the CPU. A fused multiply-add would be
    more accurate here but differ in the last bit, and log(r) near r = 1 magnifies that bit into
    the normal's last digits; libdevice's *_rn operations are never fused."""
    if SEPARATE_ROUNDING:
        return libdevice.add_rn(libdevice.mul_rn(v1, v1), libdevice.mul_rn(v2, v2))
    return v1 * v1 + v2 * v2


@triton.jit
def _unit53(high, low):
    bits = (high.to(tl.uint64) << 21) | (low >> 11).to(tl.uint64)
    return bits.to(tl.float64) * 1.1102230246251565e-16  # 2**-53


@triton.jit(do_not_specialize=_RUNTIME)
def _pairs_kernel(
    out_ptr,
    n,
    start,
    k0,
    k1,
    stream,
    span,
    KIND: tl.constexpr,
    BLOCK: tl.constexpr,
    SEPARATE_ROUNDING: tl.constexpr,
):
    """Each lane computes one Philox block and writes its two values (those inside the output)."""
    block = start // 2 + tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    key0 = k0.to(tl.uint32)
    key1 = k1.to(tl.uint32)
    s = stream.to(tl.uint32)
    w0, w1, w2, w3 = _philox(block, s, 0, key0, key1)
    first = 2 * block - start
    if KIND == 0:
        a = _unit53(w0, w1)
        b = _unit53(w2, w3)
    elif KIND == 1:
        a = (w0 >> 8).to(tl.float64) * 5.960464477539063e-08  # 2**-24
        b = (w2 >> 8).to(tl.float64) * 5.960464477539063e-08
    elif KIND == 2:
        v1 = 2.0 * _unit53(w0, w1) - 1.0
        v2 = 2.0 * _unit53(w2, w3) - 1.0
        r = _squared_norm(v1, v2, SEPARATE_ROUNDING)
        redraw = (r >= 1.0) | (r == 0.0)
        attempt = 0
        while tl.max(redraw.to(tl.int32), axis=0) > 0:
            attempt += 1
            x0, x1, x2, x3 = _philox(block, s, attempt, key0, key1)
            u1 = 2.0 * _unit53(x0, x1) - 1.0
            u2 = 2.0 * _unit53(x2, x3) - 1.0
            q = _squared_norm(u1, u2, SEPARATE_ROUNDING)
            v1 = tl.where(redraw, u1, v1)
            v2 = tl.where(redraw, u2, v2)
            r = tl.where(redraw, q, r)
            redraw = redraw & ((q >= 1.0) | (q == 0.0))
        factor = tl.sqrt(-2.0 * tl.log(r) / r)  # float64: IEEE division and square root
        a = v1 * factor
        b = v2 * factor
    elif KIND == 3:
        m = span.to(tl.uint64)
        a = ((w0.to(tl.uint64) * m + ((w1.to(tl.uint64) * m) >> 32)) >> 32).to(tl.int64)
        b = ((w2.to(tl.uint64) * m + ((w3.to(tl.uint64) * m) >> 32)) >> 32).to(tl.int64)
    else:
        a = (((w0 >> 1).to(tl.uint64) << 32) | w1.to(tl.uint64)).to(tl.int64)
        b = (((w2 >> 1).to(tl.uint64) << 32) | w3.to(tl.uint64)).to(tl.int64)
    dtype = out_ptr.dtype.element_ty
    tl.store(out_ptr + first, a.to(dtype), mask=(first >= 0) & (first < n))
    tl.store(out_ptr + first + 1, b.to(dtype), mask=(first + 1 >= 0) & (first + 1 < n))


@triton.jit(do_not_specialize=_RUNTIME[:-1])
def _signs_kernel(out_ptr, n, start, k0, k1, stream, BLOCK: tl.constexpr):
    """Each lane computes one 32-bit word and writes its 32 signs."""
    word = start // 32 + tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    w0, w1, w2, w3 = _philox(word // 4, stream.to(tl.uint32), 0, k0.to(tl.uint32), k1.to(tl.uint32))
    lane = word % 4
    bits = tl.where(lane == 0, w0, tl.where(lane == 1, w1, tl.where(lane == 2, w2, w3)))
    shift = tl.arange(0, 32).to(tl.uint32)
    sign = 1 - 2 * ((bits[:, None] >> shift[None, :]) & 1).to(tl.int32)
    index = 32 * word[:, None] + tl.arange(0, 32)[None, :] - start
    tl.store(out_ptr + index, sign.to(out_ptr.dtype.element_ty), mask=(index >= 0) & (index < n))


def _launch_pairs(kind, n, key, stream, start, dtype, device, span=1):
    import torch

    out = torch.empty(n, dtype=dtype, device=device)
    if n:
        blocks = (start + n + 1) // 2 - start // 2
        grid = (triton.cdiv(blocks, _BLOCK),)
        _pairs_kernel[grid](
            out,
            n,
            start,
            key[0],
            key[1],
            stream,
            span,
            KIND=kind,
            BLOCK=_BLOCK,
            SEPARATE_ROUNDING=not _INTERPRETED,
        )
    return out


def random_uniform(n, *, key, stream, start, dtype, xp=None, device=None):
    import torch

    kind = _UNIFORM24 if dtype == torch.float32 else _UNIFORM53
    return _launch_pairs(kind, n, key, stream, start, dtype, device)


def random_normal(n, *, key, stream, start, dtype, xp=None, device=None):
    return _launch_pairs(_NORMAL, n, key, stream, start, dtype, device)


def random_integers(n, *, span, key, stream, start, dtype, xp=None, device=None):
    return _launch_pairs(_INTEGERS, n, key, stream, start, dtype, device, span=span)


def random_sort_keys(n, *, key, stream, start, dtype, xp=None, device=None):
    return _launch_pairs(_SORT_KEYS, n, key, stream, start, dtype, device)


def random_signs(n, *, key, stream, start, dtype, xp=None, device=None):
    import torch

    out = torch.empty(n, dtype=dtype, device=device)
    if n:
        words = (start + n + 31) // 32 - start // 32
        _signs_kernel[(triton.cdiv(words, _BLOCK // 8),)](
            out, n, start, key[0], key[1], stream, BLOCK=_BLOCK // 8
        )
    return out
