"""Least squares on a tall dask array: the matrix stays where its row blocks live.

Every operation the solvers need is a sum over the row blocks ``A_i`` of small results:

- the Gram route: ``A^T A = sum_i A_i^T A_i`` and ``A^T b`` (one pass);
- the sketch route: ``S A = sum_i S_i A_i`` (one pass; see :mod:`sketchla._array.dask`), then the
  Gram matrix of the preconditioned matrix, ``(A P)^T (A P) = sum_i (A_i P)^T (A_i P)`` (one
  pass), whose Cholesky factor ``L`` makes ``P L^-T`` a preconditioner as good as the Gram
  route's whatever the conditioning of ``A`` (``A P`` has condition number about
  ``(1 + eps) / (1 - eps)``: randomized Cholesky QR; Fan, Guo & Lin, "A novel randomized
  XR-based preconditioned CholeskyQR algorithm", 2021; Balabanov, "Randomized Cholesky QR
  factorizations", 2022). Without it, the heavy-ball refinement would take 20-40 passes over
  ``A``; with it, two or three;
- each refinement step: ``A^T (b - A x)`` and ``||b - A x||`` (one pass), on float64 data in
  double-double arithmetic, each block's unrounded sum added in double-double as well, so that
  the iteration converges to the solution of the float64 data as in memory.

Only ``d x d`` and ``d x k`` results travel; ``A`` is never gathered. The sums follow a fixed
tree (:func:`sketchla._array.dask.sum_over_row_blocks`): the same bits with any scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._array import namespace_for
from .._array.dask import compute, row_aligned, sum_over_row_blocks
from .._array.kernels._residual_gradient_exact_numba import (
    add_double_double,
    residual_gradient_exact_parts,
)
from ..sketch.operator import SketchOperator
from .preconditioner import Preconditioner, factor_gram_of_products
from .problem import Problem, _check_damp, _common_float

__all__ = ["DaskProblem"]


@dataclass
class DaskProblem(Problem):
    """A validated problem with a dask ``A`` of shape ``(n, d)``, ``n >= d``, in row blocks;
    ``b`` is a dask ``(n, k)`` array with the same row blocks. Results are NumPy arrays."""

    _b_norms: Any = None

    @classmethod
    def from_inputs(cls, A: Any, b: Any, *, damp: Any, weights: Any) -> DaskProblem:
        import dask.array as da

        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        if any(np.isnan(c) for c in A.shape):
            raise ValueError("A must have known chunk sizes (call compute_chunk_sizes() first)")
        kind = np.dtype(A.dtype)
        if kind.kind not in "biuf":
            raise TypeError(f"A must be real (floating, integer or bool), got dtype {kind}")
        b_shape = getattr(b, "shape", None)
        if b_shape is None:
            b = np.asarray(b)
            b_shape = b.shape
        if len(b_shape) not in (1, 2):
            raise ValueError(f"b must be 1-D or 2-D, got shape {tuple(b_shape)}")
        if b_shape[0] != A.shape[0]:
            raise ValueError(
                f"b must have as many rows as A: A has shape {tuple(A.shape)}, "
                f"b has shape {tuple(b_shape)}"
            )
        if np.dtype(b.dtype).kind not in "biuf":
            raise TypeError(f"b must be real (floating, integer or bool), got dtype {b.dtype}")
        if A.shape[0] == 0 or A.shape[1] == 0:
            raise ValueError(f"A must have at least one row and one column, got {tuple(A.shape)}")
        if A.shape[0] < A.shape[1]:
            raise ValueError(
                f"a dask A must have at least as many rows as columns (tall, in row blocks), "
                f"got shape {tuple(A.shape)}: gather a wide problem with A.compute()"
            )
        damp = _check_damp(damp)
        dtype = np.dtype(_common_float(A, b, np))
        A, b = row_aligned(A, b)
        A, b = A.astype(dtype), b.astype(dtype)
        if weights is not None:
            (w,) = row_aligned(A, weights)[1:]
            if w.ndim != 1:
                raise ValueError(f"weights must be 1-D with n={A.shape[0]} entries")
            root = da.sqrt(w.astype(dtype))
            if bool((w < 0).any().compute()):
                raise ValueError("weights must be non-negative")
            A, b = A * root[:, None], b * (root if b.ndim == 1 else root[:, None])
        single_rhs = b.ndim == 1
        if single_rhs:
            b = b[:, None]
        return cls(
            A=A, b=b, damp=damp, kind="dask", xp=namespace_for("numpy"), single_rhs=single_rhs
        )

    @property
    def device(self) -> Any:
        return "cpu"

    @property
    def exact_gradient_available(self) -> bool:
        return True  # float32 blocks in float64, float64 blocks in double-double

    def b_norms(self) -> np.ndarray:
        """``||b_j||`` per right-hand side (one pass over ``b``, remembered)."""
        if self._b_norms is None:
            squares = sum_over_row_blocks(_column_squares, (self.b,))
            self._b_norms = np.sqrt(squares).astype(self.dtype)
        return self._b_norms

    # -- passes ---------------------------------------------------------------------------

    def gram(self) -> tuple[np.ndarray, np.ndarray]:
        """``(A^T A, A^T b)`` in one pass."""
        return sum_over_row_blocks(_gram_block, (self.A, self.b))

    def factor_gram(self, u: float) -> tuple[Preconditioner, Any] | None:
        """The Gram preconditioner and normal-equations solution (see
        :func:`~sketchla.lstsq.preconditioner.factor_gram`), from one pass."""
        G, c = self.gram()
        return factor_gram_of_products(self.A, self.damp, u, G, c)

    def preconditioned_gram(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``((A P)^T (A P), (A P)^T b)`` in one pass, for a ``d x r`` matrix ``P``."""
        return sum_over_row_blocks(_preconditioned_gram_block, (self.A, self.b), (P,))

    def objective_gradient(self, X: Any, *, exact: bool = False) -> tuple[Any, Any, Any]:
        function = _exact_block if exact else _plain_block
        shared = (X.astype(np.float64),) if exact else (X,)
        high, low, squares = sum_over_row_blocks(
            function, (self.A, self.b), shared, add=_add_gradient_parts
        )
        G = (high + low).astype(self.dtype)
        if self.damp:
            G = G - (self.damp**2) * X
        return self._objective(X, squares), G, None

    def objective_after_step(self, state: Any, X_before: Any, X: Any) -> Any:
        return self._objective(X, sum_over_row_blocks(_residual_squares, (self.A, self.b), (X,)))

    def _objective(self, X: Any, squares: np.ndarray) -> np.ndarray:
        if self.damp:
            squares = squares + self.damp**2 * np.sum(X * X, axis=0)
        return np.sqrt(squares).astype(self.dtype)

    def sketch_left(self, S: SketchOperator) -> tuple[Any, Any]:
        SA, Sb = compute(S @ self.A, S @ self.b)
        return SA.astype(self.dtype, copy=False), Sb.astype(self.dtype, copy=False)

    def gather(self) -> tuple[np.ndarray, np.ndarray]:
        """``A`` and ``b`` in memory (for problems too small to sketch)."""
        return compute(self.A, self.b)


def refine_by_gram(
    problem: DaskProblem, factor: Preconditioner, u: float
) -> tuple[Preconditioner, np.ndarray] | None:
    """The sketch's preconditioner ``P`` refined by the Cholesky factor ``L`` of
    ``P^T (A^T A + damp^2 I) P`` (one pass): ``P L^-T``, of distortion about
    ``u * kappa(L)**2``, and the normal-equations solution it gives. ``None`` when the
    factorisation fails (the sketch's own preconditioner is then kept)."""
    P = factor.P
    M, c = problem.preconditioned_gram(P)
    if problem.damp:
        M = M + problem.damp**2 * (P.T @ P)
    # the Gram preconditioner of A P: L^-T, and L^-T L^-1 (A P)^T b
    inner = factor_gram_of_products(problem.A, 0.0, u, M, c)
    if inner is None:
        return None
    gram, Z = inner
    # A's extreme singular values: those of A P (from L) over those of P (from the sketch)
    norm = factor.norm_estimate * gram.norm_estimate
    kappa = max(1.0, factor.condition_estimate * gram.condition_estimate)
    refined = Preconditioner(P @ gram.P, factor.rank, norm, kappa, gram.distortion)
    return refined, (P @ Z).astype(problem.dtype)


# -- the per-block functions (top-level: they travel to the workers) ---------------------------


def _column_squares(b: np.ndarray) -> np.ndarray:
    b = b.astype(np.float64, copy=False)
    return np.einsum("ij,ij->j", b, b)


def _gram_block(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    At = A.T
    return At @ A, At @ b


def _preconditioned_gram_block(A: np.ndarray, b: np.ndarray, P: np.ndarray):
    Y = A @ P.astype(A.dtype, copy=False)
    Yt = Y.T
    return Yt @ Y, Yt @ b


def _plain_block(A: np.ndarray, b: np.ndarray, X: np.ndarray):
    R = b - A @ X
    G = A.T @ R
    return G, np.zeros_like(G), _column_squares(R)


def _exact_block(A: np.ndarray, b: np.ndarray, X: np.ndarray):
    """Float64 ``X`` on float32 blocks: in float64; on float64 blocks: double-double."""
    if A.dtype == np.float32:
        A64 = A.astype(np.float64)
        R = b.astype(np.float64) - A64 @ X
        G = A64.T @ R
        return G, np.zeros_like(G), _column_squares(R)
    columns = [residual_gradient_exact_parts(A, X[:, j], b[:, j]) for j in range(X.shape[1])]
    R = np.stack([r for r, _, _ in columns], axis=1)
    high = np.stack([h for _, h, _ in columns], axis=1)
    low = np.stack([lo for _, _, lo in columns], axis=1)
    return high, low, _column_squares(R)


def _add_gradient_parts(x, y):
    high, low = add_double_double(x[0], x[1], y[0], y[1])
    return high, low, x[2] + y[2]


def _residual_squares(A: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    return _column_squares(b - A @ X.astype(A.dtype, copy=False))
