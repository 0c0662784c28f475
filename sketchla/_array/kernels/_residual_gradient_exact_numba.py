"""``residual_gradient`` in double-double arithmetic (about 32 digits) for float64 NumPy ``A``.

``r = b - A x`` and ``g = A^T r`` with error-free transformations (the two-product by a fused
multiply-add, Knuth's two-sum; Ogita, Rump & Oishi, "Accurate sum and dot product", 2005),
rounded to float64 only at the end. A least-squares iteration driven by these gradients
converges to the solution of the float64 data to about ``u * kappa``, without the
``u * kappa**2 * ||r||`` term that rounding in ``A^T r`` adds in plain float64; it is the final
stage of :func:`sketchla.lstsq.lstsq` on ill-conditioned problems. Two to four times slower than
a float64 pass, it runs only there. Compiled without fast-math: the transformations rely on exact
IEEE rounding.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["add_double_double", "residual_gradient_exact", "residual_gradient_exact_parts"]


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``fma`` intrinsic: the hardware instruction)."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        double = ir.DoubleType()
        function_type = ir.FunctionType(double, [double, double, double])
        fma = builder.module.declare_intrinsic("llvm.fma", [double], function_type)
        return builder.call(fma, args)

    return signature, codegen


@nb.njit(inline="always")
def _two_product(a, b):
    """``(p, e)`` with ``p = fl(a * b)`` and ``p + e = a * b`` exactly."""
    p = a * b
    return p, _fma(a, b, -p)


@nb.njit(inline="always")
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@nb.njit(parallel=True, cache=True)
def _exact(A, x, b, r, g_high, g_low):
    n, d = A.shape
    parts = g_high.shape[0]
    for t in nb.prange(parts):
        gh = g_high[t]
        gl = g_low[t]
        for i in range(t * n // parts, (t + 1) * n // parts):
            s, s_err = 0.0, 0.0
            for j in range(d):
                p, p_err = _two_product(A[i, j], x[j])
                s, e = _two_sum(s, p)
                s_err += e + p_err
            r_high, e = _two_sum(b[i], -s)
            r_low = e - s_err
            r_high, r_low = _two_sum(r_high, r_low)
            r[i] = r_high
            for j in range(d):
                p, p_err = _two_product(A[i, j], r_high)
                gh[j], e = _two_sum(gh[j], p)
                gl[j] += e + _fma(A[i, j], r_low, p_err)


@nb.njit(cache=True)
def _combine(g_high, g_low):
    """The sum of the parts' double-double gradients, rounded once."""
    total = np.empty(g_high.shape[1])
    for j in range(g_high.shape[1]):
        high, low = 0.0, 0.0
        for t in range(g_high.shape[0]):
            high, e = _two_sum(high, g_high[t, j])
            low += e + g_low[t, j]
        total[j] = high + low
    return total


@nb.njit(cache=True)
def _combine_unrounded(g_high, g_low):
    """The sum of the parts' double-double gradients, as a normalised pair ``(high, low)``."""
    d = g_high.shape[1]
    high, low = np.zeros(d), np.zeros(d)
    for j in range(d):
        top, rest = 0.0, 0.0
        for t in range(g_high.shape[0]):
            top, e = _two_sum(top, g_high[t, j])
            rest += e + g_low[t, j]
        high[j], low[j] = _two_sum(top, rest)
    return high, low


def residual_gradient_exact(A, x, b):
    """``(r, g)`` for float64 NumPy ``A`` (n, d), ``x`` (d,), ``b`` (n,), to about 32 digits
    before the final rounding."""
    r, g_high, g_low = _parts(A, x, b)
    return r, _combine(g_high, g_low)


def residual_gradient_exact_parts(A, x, b):
    """``(r, g_high, g_low)``: :func:`residual_gradient_exact` with the gradient left unrounded,
    ``g = g_high + g_low`` to about 32 digits, for sums over row blocks (see
    :func:`add_double_double`)."""
    r, g_high, g_low = _parts(A, x, b)
    return (r, *_combine_unrounded(g_high, g_low))


def add_double_double(high1, low1, high2, low2):
    """``(high, low)`` with ``high + low = (high1 + low1) + (high2 + low2)`` to about 32 digits
    (elementwise, NumPy arrays; Knuth's two-sum, exact in IEEE arithmetic)."""
    high = high1 + high2
    back = high - high1
    error = (high1 - (high - back)) + (high2 - back)
    low = error + low1 + low2
    total = high + low
    return total, low - (total - high)


def _parts(A, x, b):
    A = np.ascontiguousarray(A, dtype=np.float64)
    parts = max(1, min(4 * nb.get_num_threads(), A.shape[0] // 256))
    r = np.empty(A.shape[0])
    g_high = np.zeros((parts, A.shape[1]))
    g_low = np.zeros((parts, A.shape[1]))
    _exact(
        A,
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        r,
        g_high,
        g_low,
    )
    return r, g_high, g_low
