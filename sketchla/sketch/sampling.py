"""Uniform row sampling: ``S @ A = sqrt(n/m) * A[rows]``, rows drawn uniformly.

The cheapest sketch of all and an unbiased one (``E[S.T @ S] = I``), but a subspace embedding
only for incoherent ``A`` (rows of comparable leverage); coherent inputs need leverage-score
sampling or a mixing transform first (SRHT).
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from .._array import array_namespace, kernel, namespace_for
from .operator import SketchOperator

__all__ = ["UniformRowSampling"]


class UniformRowSampling(SketchOperator):
    """Rows of ``A`` drawn uniformly (with or without replacement), rescaled by ``sqrt(n/m)``."""

    kind = "uniform_rows"

    def __init__(self, m: int, n: int, *, replace: bool = False, seed: Any = None) -> None:
        super().__init__(m, n, seed=seed)
        if not replace and self._m > self._n:
            raise ValueError(
                f"m must be <= n for sampling without replacement, got m={self._m}, n={self._n}"
            )
        if not isinstance(replace, (bool, np.bool_)):
            raise TypeError(f"replace must be True or False, got {replace!r}")
        self._replace = bool(replace)

    def _parameters(self) -> str:
        return f"replace={self._replace}"

    @cached_property
    def _rows_on_host(self) -> np.ndarray:
        # drawn once (bit-identical on every backend): blocks and repeated applications reuse it
        return np.asarray(self.generator(0).choice(self._n, self._m, replace=self._replace))

    def _rows(self, xp: Any, device: Any) -> Any:
        return xp.asarray(self._rows_on_host, device=device)

    def _scale(self) -> float:
        return math.sqrt(self._n / self._m)

    def _apply(self, A: Any, offset: int) -> Any:
        xp = array_namespace(A)
        rows = self._rows(xp, A.device) - offset
        inside = (rows >= 0) & (rows < A.shape[0])
        picked = xp.take(A, xp.where(inside, rows, xp.zeros_like(rows)), axis=0)
        mask = xp.reshape(xp.astype(inside, A.dtype), (-1, 1))
        return picked * mask * self._scale()

    def _apply_sparse(self, A, offset: int) -> np.ndarray:
        rows = np.asarray(self._rows(namespace_for("numpy"), "cpu")) - offset
        inside = (rows >= 0) & (rows < A.shape[0])
        out = np.zeros((self._m, A.shape[1]), dtype=A.dtype)
        out[inside] = A[rows[inside]].toarray()
        return out * self._scale()

    def _apply_transpose(self, Y: Any) -> Any:
        xp = array_namespace(Y)
        rows = self._rows(xp, Y.device)
        return kernel("scatter_add", xp)(rows, Y * self._scale(), self._n, xp=xp)

    def _dense(self, xp: Any, device: Any, dtype: Any) -> Any:
        rows = np.asarray(self._rows(namespace_for("numpy"), "cpu"))
        dense = np.zeros(self.shape)
        dense[np.arange(self._m), rows] = self._scale()
        return xp.asarray(dense, dtype=dtype, device=device)
