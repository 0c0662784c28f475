"""What the static and the sliding-window M-FAC models share: argument checks, passes over the
gradients in column blocks, and the small ``m x m`` factorisation.

The model is ``F = lambda I + G^T G / m`` for the ``m x d`` gradient matrix ``G``. By the
Woodbury identity

    F^-1 = (I - G^T K^-1 G) / lambda,    K = m lambda I + G G^T    (m x m, positive definite),

so everything ``d``-sized is a pass over ``G`` and everything else lives in ``K``. ``K`` is
kept in float64 whatever ``G``'s dtype: its entries are sums of ``d`` products, and float32
sums over ``d = 10^6`` terms lose 5-6 digits (measured: 3e-6 relative), which ``K^-1`` then
multiplies by up to ``kappa(F) = 1 + ||G||^2 / (m lambda)``. Each pass goes over column blocks
of ``G`` whose products (at most ``block_size`` terms each) are summed in float64, so the
rounding does not grow with ``d``, and a block is all that needs to be on the computing device
at once. The models store their ``m x d`` arrays as a list of such blocks, each its own
contiguous array: a product with a strided column slice of one ``m x d`` array runs 4x slower
in NumPy's matmul (measured: 120 ms against 30 ms for one pass over ``m = 256``,
``d = 10^6`` float32), and a row written into the sliding window stays contiguous.
"""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any

from .. import _validation as v
from .._array import array_namespace, backend_name

#: Default columns per block: 2^16 products per sum, and a float64 copy of an ``m x 2^16`` block
#: (128 MB at m = 256) stays small beside ``G``.
DEFAULT_BLOCK = 2**16


def check_damp(damp: Any) -> float:
    """``damp`` as a positive finite float."""
    return v.check_real(damp, "damp", above=0)


def check_block_size(block_size: Any, d: int) -> int:
    """Columns per block: ``block_size``, or :data:`DEFAULT_BLOCK`, never more than ``d``."""
    if block_size is None:
        return max(1, min(DEFAULT_BLOCK, d))
    return min(v.check_int(block_size, "block_size", minimum=1), max(d, 1))


def check_gradient_rows(x: Any, name: str, d: int, xp: ModuleType, dtype: Any) -> tuple[Any, bool]:
    """``x`` (``(d,)`` or ``(k, d)``, finite, of namespace ``xp``) as a 2-D array of ``dtype``,
    and whether it was 1-D."""
    x = v.check_array(detached(x), name, xp=None if _is_array(x) else xp)
    if backend_name(array_namespace(x)) != backend_name(xp):
        raise TypeError(
            f"{name} is a {backend_name(array_namespace(x))} array but the gradients are "
            f"{backend_name(xp)} arrays"
        )
    if x.ndim not in (1, 2) or x.shape[-1] != d:
        raise ValueError(f"{name} must have shape ({d},) or (k, {d}), got {tuple(x.shape)}")
    vector = x.ndim == 1
    if vector:
        x = xp.reshape(x, (1, d))
    if x.dtype != dtype:
        x = xp.astype(x, dtype)
    return x, vector


def check_float64(xp: ModuleType) -> None:
    """Refuse a library that cannot hold float64 (JAX without ``jax_enable_x64``): the Gram
    matrix and the block sums need it, and JAX would silently round them to float32."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX warns that it truncates: the error below says so
        holds_float64 = xp.zeros(1, dtype=xp.float64).dtype == xp.float64
    if not holds_float64:
        raise TypeError(
            f"the M-FAC models keep their m x m matrices in float64, which {backend_name(xp)} "
            "is not set up to hold (for JAX: jax.config.update('jax_enable_x64', True))"
        )


def detached(x: Any) -> Any:
    """A Torch tensor cut from autograd (the models hold data, not graphs); anything else as
    it is."""
    return x.detach() if _is_array(x) and backend_name(array_namespace(x)) == "torch" else x


def _is_array(x: Any) -> bool:
    try:
        array_namespace(x)
    except TypeError:
        return False
    return True


def blocks(d: int, block_size: int) -> list[slice]:
    """Consecutive column slices of at most ``block_size`` covering ``0 .. d``."""
    return [slice(start, min(start + block_size, d)) for start in range(0, d, block_size)]


def to_device(x: Any, device: Any) -> Any:
    """``x`` on ``device`` (``None``: where it is). Torch transfers are asynchronous from pinned
    memory, so the next block's copy overlaps this block's products."""
    if device is None:
        return x
    if backend_name(array_namespace(x)) == "torch":
        return x.to(device, non_blocking=True)
    return array_namespace(x).asarray(x, device=device)


def products(blocks: list[Any], slices: list[slice], X: Any, device: Any = None) -> Any:
    """``X G^T`` (``k x m``, float64) for ``G`` stored as column ``blocks`` (``m x b`` arrays
    at column ``slices``) and ``X`` (``k x d``): one pass over ``G``, each block's products in
    its dtype, summed in float64."""
    xp = array_namespace(X)
    total = None
    for block, cols in zip(blocks, slices, strict=True):
        block = to_device(block, device)
        part = xp.astype(X[:, cols] @ xp.matrix_transpose(block), xp.float64)
        total = part if total is None else total + part
    return total


def subtract_combination(
    X: Any, C: Any, blocks: list[Any], slices: list[slice], damp: float, device: Any = None
) -> Any:
    """``(X - C G) / damp`` (``k x d``) for ``G`` stored as column ``blocks``: one pass."""
    xp = array_namespace(X)
    out = [
        (X[:, cols] - C @ to_device(block, device)) / damp
        for block, cols in zip(blocks, slices, strict=True)
    ]
    return out[0] if len(out) == 1 else xp.concat(out, axis=1)


def gather_columns(blocks: list[Any], block_size: int, index: Any) -> Any:
    """Columns ``index`` (1-D integers) of ``G`` stored as column ``blocks`` of
    ``block_size`` (the last one shorter): ``m x len(index)``, float64, in ``index``'s order."""
    xp = array_namespace(index)
    which, offset = index // block_size, index % block_size
    parts, positions = [], []
    for k, block in enumerate(blocks):
        (where,) = xp.nonzero(which == k)
        if where.shape[0]:
            columns = xp.take(block, xp.take(offset, where), axis=1)
            parts.append(xp.astype(columns, xp.float64))
            positions.append(where)
    m = blocks[0].shape[0]
    if not parts:
        return xp.zeros((m, 0), dtype=xp.float64, device=blocks[0].device)
    gathered = xp.concat(parts, axis=1)
    return xp.take(gathered, xp.argsort(xp.concat(positions)), axis=1)


def contiguous(x: Any) -> Any:
    """``x`` in row-major order (a copy if it is not already): LAPACK hands back column-major
    results, and a row-major block makes both ``G x`` and ``c^T G`` stream over memory
    (measured on ``256 x 2^16`` float32: 0.74 ms per product against 1.65 ms)."""
    name = backend_name(array_namespace(x))
    if name == "numpy":
        import numpy

        return numpy.ascontiguousarray(x)
    if name == "torch":
        return x.contiguous()
    if name == "cupy":
        import cupy

        return cupy.ascontiguousarray(x)
    return x


def gram(G: Any, block_size: int, device: Any = None) -> Any:
    """``G G^T`` in float64, from float64 copies of ``G``'s column blocks (exact products,
    float64 sums)."""
    xp = array_namespace(G)
    total = None
    for cols in blocks(G.shape[1], block_size):
        part = xp.astype(to_device(G[:, cols], device), xp.float64)
        part = part @ xp.matrix_transpose(part)
        total = part if total is None else total + part
    return total


def shifted_cholesky(gram_matrix: Any, m: int, damp: float) -> Any:
    """The lower Cholesky factor of ``K = m damp I + gram_matrix`` (float64).

    ``K`` is positive definite in exact arithmetic; the factorisation fails only when
    ``m damp`` is below the rounding of ``||G G^T||`` (``kappa(F)`` beyond ``10^16``), which is
    reported as a :class:`ValueError` naming ``damp`` (JAX returns NaN instead of raising)."""
    xp = array_namespace(gram_matrix)
    eye = xp.eye(m, dtype=xp.float64, device=gram_matrix.device)
    message = (
        f"damp = {damp!r} is too small for these gradients: m damp I + G G^T is not positive "
        "definite in float64 (kappa(F) = 1 + ||G||^2 / (m damp) beyond 1e16); increase damp"
    )
    try:
        factor = xp.linalg.cholesky(gram_matrix + (m * damp) * eye)
    except Exception as exc:  # LinAlgError (NumPy, CuPy), torch's _LinAlgError
        if "definite" in str(exc) or type(exc).__name__.endswith("LinAlgError"):
            raise ValueError(message) from exc
        raise
    if not bool(xp.all(xp.isfinite(factor))):
        raise ValueError(message)
    return factor


def solve_lower(L: Any, B: Any, *, transpose: bool = False) -> Any:
    """``L^-1 B`` (or ``L^-T B``) for lower-triangular ``L``: LAPACK's ``trtrs`` through SciPy,
    Torch or CuPy (``m^2`` per column); a general solve on other libraries."""
    xp = array_namespace(L)
    name = backend_name(xp)
    if name == "numpy":
        from scipy.linalg import solve_triangular

        return solve_triangular(L, B, lower=True, trans=int(transpose), check_finite=False)
    if name == "torch":
        import torch

        if transpose:
            return torch.linalg.solve_triangular(L.mT, B, upper=True)
        return torch.linalg.solve_triangular(L, B, upper=False)
    if name == "cupy":
        from cupyx.scipy.linalg import solve_triangular

        return solve_triangular(L, B, lower=True, trans=int(transpose))
    return xp.linalg.solve(xp.matrix_transpose(L) if transpose else L, B)
