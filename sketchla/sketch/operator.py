"""The :class:`SketchOperator` interface shared by every sketching family.

A sketch is an immutable random linear map ``S`` of shape ``(m, n)`` drawn from a seed. Families
implement four things on validated input:

* ``_apply(A, offset)``: ``S[:, offset:offset + k] @ A`` for a dense ``(k, d)`` array ``A`` (the
  whole of ``S @ A`` when ``offset = 0`` and ``k = n``);
* ``_apply_sparse(A, offset)``: the same for a ``scipy.sparse`` CSR matrix, in O(nnz(A)) work for
  the sparse families, returning a dense NumPy array;
* ``_apply_transpose(Y)``: ``S.T @ Y`` for a dense ``(m, d)`` array;
* ``_dense(xp, device, dtype)``: ``S`` itself, built from the definition entry by entry. It is
  never used by the fast paths, so tests can hold them against it.

The public methods validate once, orient the input (``axis``), and hand 2-D arrays to those.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import nullcontext
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._array import array_namespace, device, namespace_for, to_numpy
from .._array.dask import is_dask_array, sketch_blocks
from .._array.namespace import computed_on_host, numpy_dtype
from .._array.random import Generator

__all__ = ["SketchOperator", "TransposedSketch"]


class SketchOperator(ABC):
    """A random linear map ``S`` of shape ``(m, n)``, fixed by its seed.

    Apply it with ``S @ A`` (``A`` has ``n`` rows), ``A @ S.T`` (``A`` has ``n`` columns),
    :meth:`apply`, or ``S.T @ Y``. Every backend's arrays are accepted and returned in kind;
    ``scipy.sparse`` matrices are accepted too (the result is then a dense NumPy array).

    Subclasses are the sketching families; build them with :func:`sketchla.sketch_operator`.
    """

    kind: str = ""
    #: Every column of S is nonzero, so a NaN or infinity in A always reaches S @ A: the
    #: finiteness of A is then checked on the small result instead of in an extra pass over A
    #: (and confirmed on A before raising, so an overflow of finite input is not mistaken).
    nonfinite_reaches_output: bool = False
    __array_ufunc__ = None  # ``ndarray @ S`` defers to ``S.__rmatmul__``

    def __init__(self, m: int, n: int, *, seed: Any = None) -> None:
        self._m = v.check_positive_int(m, "m")
        self._n = v.check_positive_int(n, "n")
        generator = v.check_seed(seed)
        # A caller's Generator is advanced (two operators from it differ); an int seed or a seed
        # sequence gives the same operator every time.
        if isinstance(seed, Generator):
            self._seed_sequence = generator.spawn(1)[0].seed_sequence
        else:
            self._seed_sequence = generator.seed_sequence

    # -- description --------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``: ``S @ A`` maps ``n`` rows to ``m``."""
        return (self._m, self._n)

    @property
    def m(self) -> int:
        """The sketch size (rows of ``S``)."""
        return self._m

    @property
    def n(self) -> int:
        """The input dimension (columns of ``S``)."""
        return self._n

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The seed sequence that fixes every random choice of the operator."""
        return self._seed_sequence

    @property
    def T(self) -> TransposedSketch:
        """The transpose ``S.T`` (shape ``(n, m)``)."""
        return TransposedSketch(self)

    def _parameters(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self._parameters()
        return (
            f"{type(self).__name__}(m={self._m}, n={self._n}"
            + (f", {extra}" if extra else "")
            + f", entropy={self._seed_sequence.entropy})"
        )

    def generator(self, stream: int) -> Generator:
        """The counter-based generator of random component ``stream`` of this operator."""
        return Generator(self._seed_sequence, stream=stream)

    # -- application ----------------------------------------------------------------------

    def __matmul__(self, A: Any) -> Any:
        return self.apply(A, axis=0)

    def apply(self, A: Any, axis: int = 0, *, offset: int | None = None) -> Any:
        """Sketch ``A`` along ``axis``.

        Parameters
        ----------
        A : array, scipy.sparse matrix or dask array
            ``axis=0``: ``A`` has shape ``(n,)`` or ``(n, d)`` and the result is ``S @ A``;
            ``axis=1``: ``A`` has shape ``(d, n)`` and the result is ``A @ S.T``. A dask array
            (NumPy chunks) is sketched block by block where its chunks live, and the result is
            a lazy dask array (call ``.compute()``); it equals the in-memory sketch, to
            rounding, for any chunking. Non-finite entries are refused when the blocks are
            computed.
        axis : {0, 1}
            The axis of ``A`` that ``S`` reduces from ``n`` to ``m``.
        offset : int, optional
            When given, ``A`` holds only the slice ``offset : offset + k`` of the full input
            along ``axis`` (a row block, with ``axis=0``); the result is that block's
            contribution ``S[:, offset:offset + k] @ A``, and the contributions of all blocks
            sum to ``S @ A``. When omitted, ``A`` must have exactly ``n`` entries along ``axis``.

        Returns
        -------
        array
            Of ``A``'s namespace and device and ``A``'s floating dtype (integers are promoted
            to the default float); a dense NumPy array for sparse ``A``.
        """
        check_axis(axis)
        if is_dask_array(A):
            return self._apply_dask(A, axis, offset)
        if sp.issparse(A):
            A = _check_sparse(A, "A")
            rows = A.shape[axis]
            offset = self._check_offset(offset, rows)
            oriented = A if axis == 0 else A.T
            result = self._apply_sparse(oriented.tocsr(), offset)
            return result if axis == 0 else result.T
        A = _check_float_kind(v.check_array(A, "A", finite=not self.nonfinite_reaches_output), "A")
        if A.ndim not in (1, 2) or (A.ndim == 1 and axis == 1):
            raise ValueError(
                f"A must be 1-D (axis=0) or 2-D, got shape {tuple(A.shape)} with axis={axis}"
            )
        offset = self._check_offset(offset, A.shape[axis])
        xp = array_namespace(A)
        if computed_on_host(xp):
            return xp.asarray(self.apply(to_numpy(A), axis, offset=offset), device=device(A))
        # inf - inf in a sketch of non-finite input is refused just below, not warned about
        if A.shape[axis] == 0:  # an empty block contributes nothing
            width = () if A.ndim == 1 else (A.shape[1 - axis],)
            zeros = xp.zeros((self._m, *width), dtype=A.dtype, device=device(A))
            return zeros if axis == 0 else xp.matrix_transpose(zeros)
        quiet = np.errstate(invalid="ignore") if self.nonfinite_reaches_output else nullcontext()
        with quiet:
            if A.ndim == 1:
                result = xp.reshape(self._apply(xp.reshape(A, (-1, 1)), offset), (-1,))
            elif axis == 0:
                result = self._apply(A, offset)
            else:
                result = xp.matrix_transpose(self._apply(xp.matrix_transpose(A), offset))
        if self.nonfinite_reaches_output and not bool(xp.all(xp.isfinite(result))):
            v.check_finite(A, "A")
        return result

    def _apply_dask(self, A: Any, axis: int, offset: Any) -> Any:
        if offset is not None:
            raise ValueError("offset= is not supported for dask arrays: pass the whole array")
        if A.ndim not in (1, 2) or (A.ndim == 1 and axis == 1):
            raise ValueError(
                f"A must be 1-D (axis=0) or 2-D, got shape {tuple(A.shape)} with axis={axis}"
            )
        if any(np.isnan(c) for c in A.shape):
            raise ValueError("A must have known chunk sizes (call compute_chunk_sizes() first)")
        self._check_offset(None, A.shape[axis])
        kind = np.dtype(A.dtype)
        if kind.kind not in "biuf":
            raise TypeError(f"A must be real (floating, integer or bool), got dtype {kind}")
        dtype = kind if kind.kind == "f" else np.dtype(np.float64)
        if axis == 1:
            return self._apply_dask(A.T, 0, None).T
        return sketch_blocks(
            lambda block, start: self.apply(block, offset=start), A, self._m, dtype
        )

    def _check_offset(self, offset: Any, rows: int) -> int:
        if offset is None:
            if rows != self._n:
                raise ValueError(
                    f"A must have n={self._n} entries along the sketched axis, got {rows}; "
                    "pass offset= to sketch a block of a larger input"
                )
            return 0
        offset = v.check_int(offset, "offset", minimum=0)
        if offset + rows > self._n:
            raise ValueError(
                f"a block of {rows} entries at offset={offset} does not fit in n={self._n}"
            )
        return offset

    def rmatmul_transpose(self, Y: Any) -> Any:
        """``S.T @ Y`` for ``Y`` of shape ``(m,)`` or ``(m, d)`` (also spelled ``S.T @ Y``)."""
        if sp.issparse(Y):
            raise TypeError("Y must be a dense array; S.T @ Y does not take scipy.sparse input")
        Y = _check_float_kind(v.check_array(Y, "Y"), "Y")
        if Y.ndim not in (1, 2) or Y.shape[0] != self._m:
            raise ValueError(
                f"Y must have shape (m,) or (m, d) with m={self._m}, got {tuple(Y.shape)}"
            )
        xp = array_namespace(Y)
        if computed_on_host(xp):
            return xp.asarray(self.rmatmul_transpose(to_numpy(Y)), device=device(Y))
        if Y.ndim == 1:
            return xp.reshape(self._apply_transpose(xp.reshape(Y, (-1, 1))), (-1,))
        return self._apply_transpose(Y)

    def to_dense(self, *, xp: Any = None, device: Any = None, dtype: Any = None) -> Any:
        """``S`` as a dense ``(m, n)`` array of namespace ``xp`` (NumPy by default).

        Built entry by entry from the family's definition, independently of the fast
        application paths; meant for small sizes and for tests.
        """
        xp = namespace_for(xp)
        dtype = v.check_dtype(dtype, xp, device=device)
        if computed_on_host(xp):
            host = self._dense(namespace_for("numpy"), "cpu", numpy_dtype(dtype))
            return xp.asarray(host, device=device)
        return self._dense(xp, device, dtype)

    def aslinearoperator(self, dtype: Any = np.float64):
        """``S`` as a :class:`scipy.sparse.linalg.LinearOperator` (NumPy vectors)."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(
            self.shape,
            dtype=np.dtype(dtype),
            matvec=lambda x: self.apply(np.asarray(x, dtype=dtype)),
            rmatvec=lambda y: self.rmatmul_transpose(np.asarray(y, dtype=dtype)),
            matmat=lambda X: self.apply(np.asarray(X, dtype=dtype)),
            rmatmat=lambda Y: self.rmatmul_transpose(np.asarray(Y, dtype=dtype)),
        )

    # -- what a family implements ---------------------------------------------------------

    @abstractmethod
    def _apply(self, A: Any, offset: int) -> Any:
        """``S[:, offset:offset + k] @ A`` for a validated dense ``(k, d)`` array."""

    @abstractmethod
    def _apply_sparse(self, A: sp.sparray, offset: int) -> np.ndarray:
        """The same for a validated ``scipy.sparse`` CSR matrix (dense NumPy result)."""

    @abstractmethod
    def _apply_transpose(self, Y: Any) -> Any:
        """``S.T @ Y`` for a validated dense ``(m, d)`` array."""

    @abstractmethod
    def _dense(self, xp: Any, device: Any, dtype: Any) -> Any:
        """``S`` entry by entry."""


class TransposedSketch:
    """``S.T``: ``S.T @ Y`` maps ``m`` rows back to ``n``; ``A @ S.T`` sketches ``A``'s columns."""

    __array_ufunc__ = None  # ``ndarray @ S.T`` defers to ``S.T.__rmatmul__``

    def __init__(self, parent: SketchOperator) -> None:
        self._parent = parent

    @property
    def shape(self) -> tuple[int, int]:
        return (self._parent.n, self._parent.m)

    @property
    def T(self) -> SketchOperator:
        return self._parent

    def __matmul__(self, Y: Any) -> Any:
        return self._parent.rmatmul_transpose(Y)

    def __rmatmul__(self, A: Any) -> Any:
        return self._parent.apply(A, axis=1)

    def to_dense(self, **options: Any) -> Any:
        dense = self._parent.to_dense(**options)
        return array_namespace(dense).matrix_transpose(dense)

    def __repr__(self) -> str:
        return f"{self._parent!r}.T"


def check_axis(axis: Any) -> int:
    """``axis`` if it is the int 0 or 1 (the axis a sketch reduces), else a ValueError."""
    if type(axis) is not int or axis not in (0, 1):
        raise ValueError(f"axis must be 0 or 1, got {axis!r}")
    return axis


def _check_float_kind(x: Any, name: str) -> Any:
    """The sketches compute in float32 or float64; other floats are refused by name."""
    xp = array_namespace(x)
    if x.dtype not in (xp.float32, xp.float64):
        raise TypeError(
            f"{name} must have dtype float32 or float64 (or an integer dtype), got {x.dtype}"
        )
    return x


def _check_sparse(A: Any, name: str) -> sp.sparray:
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
    if np.issubdtype(A.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {A.dtype}")
    if A.dtype not in (np.float32, np.float64):
        if np.issubdtype(A.dtype, np.floating):
            raise TypeError(
                f"{name} must have dtype float32 or float64 (or an integer dtype), got {A.dtype}"
            )
        A = A.astype(np.float64)
    if not np.all(np.isfinite(A.data)):
        raise ValueError(f"{name} must hold only finite values, got NaN or infinity")
    return A
