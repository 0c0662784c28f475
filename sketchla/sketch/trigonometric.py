"""Subsampled randomized trigonometric transforms: SRHT (Walsh-Hadamard) and SRFT (real
Fourier).

Both are ``S = sqrt(N/m) * P @ T @ D``: ``D`` flips the sign of each row of ``A`` (a random
sign per column of ``S``, stream 1, value ``j``), the orthogonal transform ``T`` spreads every
row's mass over all coordinates, and ``P`` keeps ``m`` of the ``N`` transformed rows, drawn
uniformly without replacement (stream 0). The mixing makes uniform sampling safe for coherent
``A``: a subspace embedding once ``m ~ (d + log n) log d / eps**2`` (Tropp 2011).

* SRHT: ``T = H / sqrt(N)`` with the Sylvester-ordered Hadamard matrix,
  ``H[r, j] = (-1)**popcount(r & j)``, on ``N`` = the next power of two >= ``n`` (``A`` is
  padded with zero rows). Applied by the fast Walsh-Hadamard transform.
* SRFT: ``T`` is the real form of the unitary DFT on ``N = n`` points: rows ``1/sqrt(n)``
  (frequency 0), ``sqrt(2/n) cos(2 pi k j/n)`` and ``-sqrt(2/n) sin(2 pi k j/n)`` for
  ``0 < k < n/2``, and ``(-1)**j / sqrt(n)`` when ``n`` is even. Applied with the backend's
  real FFT.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from .._array import array_namespace, kernel, namespace_for
from .._array.kernels.hadamard import fwht, pad_rows
from .operator import SketchOperator

__all__ = ["SRFTSketch", "SRHTSketch"]


class _TrigonometricSketch(SketchOperator):
    """Shared sign / transform / sample structure; subclasses supply the transform."""

    nonfinite_reaches_output = True

    def __init__(self, m: int, n: int, *, seed: Any = None) -> None:
        super().__init__(m, n, seed=seed)
        if self._m > self._n:
            raise ValueError(f"m must be <= n for {self.kind}, got m={self._m}, n={self._n}")

    @property
    def transform_size(self) -> int:
        """``N``, the length of the transform (``n`` padded for SRHT)."""
        return self._n

    @cached_property
    def _sampled_rows_on_host(self) -> np.ndarray:
        # drawn once: the sample is bit-identical on every backend, so NumPy's serves all, and
        # sketching in many row blocks does not redraw (and re-sort) N keys per block
        return np.asarray(self.generator(0).choice(self.transform_size, self._m, replace=False))

    def _sampled_rows(self, xp: Any, device: Any) -> Any:
        return xp.asarray(self._sampled_rows_on_host, device=device)

    def _signs(self, start: int, stop: int, dtype: Any, xp: Any, device: Any) -> Any:
        return self.generator(1).signs(stop - start, dtype=dtype, xp=xp, device=device, start=start)

    def _scale(self) -> float:
        return math.sqrt(self.transform_size / self._m)

    def _padded(self, A: Any, offset: int, xp: Any) -> Any:
        """``D A`` placed at rows ``offset:offset + k`` of an ``N``-row zero array."""
        signs = self._signs(offset, offset + A.shape[0], A.dtype, xp, A.device)
        return pad_rows(A * xp.reshape(signs, (-1, 1)), offset, self.transform_size, xp)

    def _apply_sparse(self, A, offset: int) -> np.ndarray:
        return self._apply(A.toarray(), offset)

    def _dense(self, xp: Any, device: Any, dtype: Any) -> Any:
        np_xp = namespace_for("numpy")
        rows = np.asarray(self._sampled_rows(np_xp, "cpu"))
        signs = np.asarray(self._signs(0, self._n, np.float64, np_xp, "cpu"))
        dense = self._transform_rows(rows) * signs * self._scale()
        return xp.asarray(dense, dtype=dtype, device=device)


class SRHTSketch(_TrigonometricSketch):
    """Subsampled randomized Hadamard transform (``n`` padded to a power of two)."""

    kind = "srht"

    @property
    def transform_size(self) -> int:
        return 1 << max(0, (self._n - 1).bit_length())

    def _apply(self, A: Any, offset: int) -> Any:
        xp = array_namespace(A)
        signs = self._signs(offset, offset + A.shape[0], A.dtype, xp, A.device)
        rows = self._sampled_rows(xp, A.device)
        mixed = kernel("sampled_hadamard", xp)(A, signs, offset, self.transform_size, rows, xp=xp)
        return mixed * (self._scale() / math.sqrt(self.transform_size))

    def _apply_transpose(self, Y: Any) -> Any:
        xp = array_namespace(Y)
        rows = self._sampled_rows(xp, Y.device)
        spread = kernel("scatter_add", xp)(rows, Y, self.transform_size, xp=xp)
        mixed = fwht(spread, xp)[: self._n, ...]
        signs = self._signs(0, self._n, Y.dtype, xp, Y.device)
        return mixed * xp.reshape(signs, (-1, 1)) * (self._scale() / math.sqrt(self.transform_size))

    def _transform_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` of ``H / sqrt(N)``, columns ``0..n-1``, from the popcount formula."""
        parity = np.bitwise_count(rows[:, None] & np.arange(self._n)[None, :]) & 1
        return (1.0 - 2.0 * parity) / math.sqrt(self.transform_size)


class SRFTSketch(_TrigonometricSketch):
    """Subsampled randomized real Fourier transform (through the backend's ``fft.rfft``)."""

    kind = "srft"

    def _frequency_map(self, rows: Any, xp: Any) -> tuple[Any, Any, Any]:
        """For each row ``r`` of ``T``: its frequency, whether it reads the imaginary part,
        and its weight (``sqrt(2)`` except at frequencies 0 and ``n/2``)."""
        n = self._n
        frequency = (rows + 1) // 2
        imaginary = (rows % 2 == 0) & (rows > 0) & ~((n % 2 == 0) & (rows == n - 1))
        frequency = xp.where((n % 2 == 0) & (rows == n - 1), n // 2, frequency)
        edge = (frequency == 0) | ((n % 2 == 0) & (frequency == n // 2))
        weight = 1.0 + (math.sqrt(2.0) - 1.0) * xp.astype(~edge, xp.float64)
        return frequency, imaginary, weight

    def _apply(self, A: Any, offset: int) -> Any:
        xp = array_namespace(A)
        spectrum = xp.fft.rfft(self._padded(A, offset, xp), axis=0)
        rows = self._sampled_rows(xp, A.device)
        frequency, imaginary, weight = self._frequency_map(rows, xp)
        picked = xp.take(spectrum, frequency, axis=0)
        values = xp.where(xp.reshape(imaginary, (-1, 1)), xp.imag(picked), xp.real(picked))
        weight = xp.astype(xp.reshape(weight, (-1, 1)), A.dtype)
        return values * weight * (self._scale() / math.sqrt(self._n))

    def _apply_transpose(self, Y: Any) -> Any:
        xp = array_namespace(Y)
        n = self._n
        rows = self._sampled_rows(xp, Y.device)
        frequency, imaginary, weight = self._frequency_map(rows, xp)
        weighted = Y * xp.astype(xp.reshape(weight, (-1, 1)), Y.dtype)
        zero = xp.zeros_like(weighted)
        mask = xp.reshape(imaginary, (-1, 1))
        scatter = kernel("scatter_add", xp)
        real = scatter(frequency, xp.where(mask, zero, weighted), n // 2 + 1, xp=xp)
        imag = scatter(frequency, xp.where(mask, weighted, zero), n // 2 + 1, xp=xp)
        # T.T z = irfft(X) with X_k = sqrt(n) z_0, sqrt(n/2) (z_{2k-1} + i z_{2k}), ...
        # weighted by 1/sqrt(2) for the interior frequencies (folded into `weight` above).
        spectrum = (real + 1j * imag) * (math.sqrt(n) / 2.0)
        interior = xp.reshape(xp.arange(n // 2 + 1, device=Y.device), (-1, 1))
        edge = (interior == 0) | ((n % 2 == 0) & (interior == n // 2))
        spectrum = xp.where(edge, spectrum * 2.0, spectrum)
        mixed = xp.fft.irfft(spectrum, n=n, axis=0)
        signs = self._signs(0, n, Y.dtype, xp, Y.device)
        return xp.astype(mixed, Y.dtype) * xp.reshape(signs, (-1, 1)) * self._scale()

    def _transform_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` of the real DFT matrix ``T`` from the cos/sin formula."""
        frequency, imaginary, weight = self._frequency_map(rows, namespace_for("numpy"))
        # reduce k*j modulo n in integers: cos/sin of large arguments lose digits
        angle = 2 * np.pi * (np.outer(frequency, np.arange(self._n)) % self._n) / self._n
        basis = np.where(imaginary[:, None], -np.sin(angle), np.cos(angle))
        return basis * weight[:, None] / math.sqrt(self._n)
