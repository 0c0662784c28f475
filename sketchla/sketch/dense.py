"""Dense sketches: Gaussian, Rademacher and uniform entries, generated panel by panel.

Entry ``S[i, j]`` of column panel ``p = j // W`` (``W = 4096``) is value
``p * 2**40 + i * w_p + (j - p * W)`` of the operator's random stream, where
``w_p = min(W, n - p * W)`` is the panel's width: each panel ``S[:, pW:pW + w_p]`` is one
contiguous block of the stream, rows first. Hence

* ``S @ A`` is computed panel by panel, ``S[:, panel] @ A[panel]``, in O(m * W + m * d) memory,
  never O(m * n);
* the first ``m'`` rows of an ``m``-row sketch are the ``m'``-row sketch (nested sketches);
* any row block of ``A`` can be sketched alone (``offset=``) with the same numbers.

Scalings make ``E[S.T @ S] = I``: Gaussian ``N(0, 1/m)``; Rademacher ``+-1/sqrt(m)``; uniform on
``[-sqrt(3/m), sqrt(3/m)]`` (RandBLAS's dense uniform family, variance ``1/m``).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .._array import array_namespace, backend_name, namespace_for
from .._array.namespace import numpy_dtype
from .operator import SketchOperator

__all__ = ["GaussianSketch", "RademacherSketch", "UniformSketch"]

PANEL_WIDTH = 4096
PANEL_STRIDE = 2**40  # stream distance between panels: up to 2**28 rows


class _DenseSketch(SketchOperator):
    """Shared panel machinery; subclasses say how one panel's raw entries are drawn."""

    nonfinite_reaches_output = True

    def _draw(
        self, shape: tuple[int, int], start: int, dtype: Any, xp: Any, device: Any, out: Any
    ) -> Any:
        """``shape`` raw entries (before the ``1/sqrt(m)`` scaling) from stream index
        ``start`` on, written into ``out`` when given."""
        raise NotImplementedError

    def _raw_panel(self, p: int, dtype: Any, xp: Any, device: Any, out: Any = None) -> Any:
        """Panel ``p``: all ``m`` rows, ``w_p`` columns, unscaled; written into the NumPy
        buffer ``out`` (reused across panels, at least ``m * w_p`` entries) when given."""
        width = min(PANEL_WIDTH, self._n - p * PANEL_WIDTH)
        if out is not None:
            out = out.reshape(-1)[: self._m * width].reshape(self._m, width)
        return self._draw((self._m, width), p * PANEL_STRIDE, dtype, xp, device, out)

    def _scale(self) -> float:
        return 1.0 / math.sqrt(self._m)

    def _panels(self, start: int, stop: int, dtype: Any, xp: Any, device: Any):
        """``(panel columns, first column)`` pieces of ``S[:, start:stop]`` (unscaled).

        With NumPy, the next panel is generated on a worker thread while the caller multiplies
        the current one (two reused buffers): the generator and the BLAS product then share
        the cores instead of taking turns, which also spares the generator OpenBLAS's threads
        spinning idle after each product."""
        spans = [
            (p, max(start, p * PANEL_WIDTH), min(stop, (p + 1) * PANEL_WIDTH))
            for p in range(start // PANEL_WIDTH, -(-stop // PANEL_WIDTH))
        ]
        if not spans:
            return
        if backend_name(xp) != "numpy":
            for p, lo, hi in spans:
                panel = self._raw_panel(p, dtype, xp, device)
                yield panel[:, lo - p * PANEL_WIDTH : hi - p * PANEL_WIDTH], lo
            return
        width = min(PANEL_WIDTH, self._n)
        buffers = [np.empty((self._m, width), dtype=numpy_dtype(dtype)) for _ in range(2)]
        with ThreadPoolExecutor(max_workers=1) as worker:
            pending = worker.submit(self._raw_panel, spans[0][0], dtype, xp, device, buffers[0])
            for i, (p, lo, hi) in enumerate(spans):
                panel = pending.result()
                if i + 1 < len(spans):
                    pending = worker.submit(
                        self._raw_panel, spans[i + 1][0], dtype, xp, device, buffers[(i + 1) % 2]
                    )
                yield panel[:, lo - p * PANEL_WIDTH : hi - p * PANEL_WIDTH], lo

    def _apply(self, A: Any, offset: int) -> Any:
        xp = array_namespace(A)
        out = xp.zeros((self._m, A.shape[1]), dtype=A.dtype, device=A.device)
        for panel, first in self._panels(offset, offset + A.shape[0], A.dtype, xp, A.device):
            rows = A[first - offset : first - offset + panel.shape[1], :]
            out = out + panel @ rows
        return out * self._scale()

    def _apply_sparse(self, A, offset: int) -> np.ndarray:
        xp = namespace_for("numpy")
        out = np.zeros((self._m, A.shape[1]), dtype=A.dtype)
        for panel, first in self._panels(offset, offset + A.shape[0], A.dtype, xp, "cpu"):
            rows = A[first - offset : first - offset + panel.shape[1]]
            out += (rows.T @ panel.T).T
        return out * self._scale()

    def _apply_transpose(self, Y: Any) -> Any:
        xp = array_namespace(Y)
        blocks = [
            xp.matrix_transpose(panel) @ Y
            for panel, _ in self._panels(0, self._n, Y.dtype, xp, Y.device)
        ]
        return xp.concat(blocks, axis=0) * self._scale()

    def _dense(self, xp: Any, device: Any, dtype: Any) -> Any:
        panels = [
            xp.asarray(panel, copy=True) for panel, _ in self._panels(0, self._n, dtype, xp, device)
        ]
        return xp.concat(panels, axis=1) * self._scale()


class GaussianSketch(_DenseSketch):
    """Entries independent ``N(0, 1/m)``: the sketch with the cleanest theory (any ``m``;
    a subspace embedding of distortion ``eps`` for ``m ~ d / eps**2``)."""

    kind = "gaussian"

    def _draw(self, shape, start, dtype, xp, device, out):
        return self.generator(0).normal(
            shape, start=start, dtype=dtype, xp=xp, device=device, out=out
        )


class RademacherSketch(_DenseSketch):
    """Entries independent ``+-1/sqrt(m)``: Gaussian-like guarantees, one random bit each."""

    kind = "rademacher"

    def _draw(self, shape, start, dtype, xp, device, out):
        return self.generator(0).signs(
            shape, start=start, dtype=dtype, xp=xp, device=device, out=out
        )


class UniformSketch(_DenseSketch):
    """Entries independent uniform on ``[-sqrt(3/m), sqrt(3/m)]`` (RandBLAS's dense uniform)."""

    kind = "uniform"

    def _draw(self, shape, start, dtype, xp, device, out):
        root3 = math.sqrt(3.0)
        return self.generator(0).uniform(
            shape, low=-root3, high=root3, start=start, dtype=dtype, xp=xp, device=device, out=out
        )
