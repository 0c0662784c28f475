"""The counter-based generator against NumPy's and Torch's generators.

Peers: ``numpy.random.default_rng().standard_normal`` (PCG64 + ziggurat) for normals; for signs,
the fastest NumPy idiom we found (random bytes unpacked to bits, 1 - 2 * bit), and
``torch.randn`` / ``torch.randint``. GPU rows run only where a CUDA device exists.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from sketchla.random import Generator

from ._peers import cuda_cupy, cuda_torch, optional, size

N = size(10**7, 10**5)
IMPLS = ["sketchla", "numpy", "torch", "sketchla-torch-cuda", "torch-cuda", "sketchla-cupy", "cupy"]


def _normal_sampler(impl: str):
    """A function n -> n float64 standard normals, and one that waits for the device."""
    if impl == "sketchla":
        g = Generator(0)
        return lambda n: g.normal(n), lambda: None
    if impl == "numpy":
        rng = np.random.default_rng(0)
        return rng.standard_normal, lambda: None
    if impl == "torch":
        torch = optional("torch")
        torch.manual_seed(0)
        return lambda n: torch.randn(n, dtype=torch.float64), lambda: None
    if impl == "sketchla-torch-cuda":
        torch = cuda_torch()
        g = Generator(0)
        return (
            lambda n: g.normal(n, xp=torch, device="cuda", dtype=torch.float64),
            torch.cuda.synchronize,
        )
    if impl == "torch-cuda":
        torch = cuda_torch()
        gen = torch.Generator(device="cuda").manual_seed(0)
        return (
            lambda n: torch.randn(n, dtype=torch.float64, device="cuda", generator=gen),
            torch.cuda.synchronize,
        )
    if impl == "sketchla-cupy":
        cupy = cuda_cupy()
        g = Generator(0)
        return (lambda n: g.normal(n, xp=cupy, dtype=cupy.float64), cupy.cuda.Device().synchronize)
    if impl == "cupy":
        cupy = cuda_cupy()
        rng = cupy.random.default_rng(0)
        return (
            lambda n: rng.standard_normal(n, dtype=cupy.float64),
            cupy.cuda.Device().synchronize,
        )
    raise ValueError(impl)


def _numpy_signs(rng: np.random.Generator, n: int) -> np.ndarray:
    bits = np.unpackbits(rng.integers(0, 256, -(-n // 8), dtype=np.uint8))[:n]
    return np.subtract(1, 2 * bits.astype(np.int8), dtype=np.float64)


def _sign_sampler(impl: str):
    """A function n -> n float64 random signs, and one that waits for the device."""
    if impl == "sketchla":
        g = Generator(0)
        return lambda n: g.signs(n), lambda: None
    if impl == "numpy":
        rng = np.random.default_rng(0)
        return lambda n: _numpy_signs(rng, n), lambda: None
    if impl == "torch":
        torch = optional("torch")
        torch.manual_seed(0)
        return lambda n: torch.randint(0, 2, (n,), dtype=torch.float64) * 2 - 1, lambda: None
    if impl == "sketchla-torch-cuda":
        torch = cuda_torch()
        g = Generator(0)
        return (
            lambda n: g.signs(n, xp=torch, device="cuda", dtype=torch.float64),
            torch.cuda.synchronize,
        )
    if impl == "torch-cuda":
        torch = cuda_torch()
        gen = torch.Generator(device="cuda").manual_seed(0)
        return (
            lambda n: (
                torch.randint(0, 2, (n,), dtype=torch.float64, device="cuda", generator=gen) * 2 - 1
            ),
            torch.cuda.synchronize,
        )
    if impl == "sketchla-cupy":
        cupy = cuda_cupy()
        g = Generator(0)
        return lambda n: g.signs(n, xp=cupy, dtype=cupy.float64), cupy.cuda.Device().synchronize
    if impl == "cupy":
        cupy = cuda_cupy()
        rng = cupy.random.default_rng(0)
        return (
            lambda n: 1.0 - 2.0 * rng.integers(0, 2, n, dtype=cupy.int8),
            cupy.cuda.Device().synchronize,
        )
    raise ValueError(impl)


class Normal:
    """10^7 float64 standard normals."""

    params = IMPLS
    param_names = ["impl"]
    timeout = 120

    def setup(self, impl):
        self.sample, self.sync = _normal_sampler(impl)
        self.sample(1000)  # compile / warm up
        self.sync()

    def time_normal(self, impl):
        self.sample(N)
        self.sync()

    def track_ks_pvalue(self, impl):
        """Kolmogorov-Smirnov p-value of 10^6 draws against N(0, 1): speed never buys bias."""
        from sketchla._array import to_numpy

        return float(stats.kstest(to_numpy(self.sample(10**6)), "norm").pvalue)

    track_ks_pvalue.unit = "p-value"


class Signs:
    """10^7 float64 Rademacher signs."""

    params = IMPLS
    param_names = ["impl"]
    timeout = 120

    def setup(self, impl):
        self.sample, self.sync = _sign_sampler(impl)
        self.sample(1000)
        self.sync()

    def time_signs(self, impl):
        self.sample(N)
        self.sync()

    def track_mean_zscore(self, impl):
        """|mean| of 10^6 signs in standard errors (about 1 for an unbiased generator)."""
        from sketchla._array import to_numpy

        return float(abs(to_numpy(self.sample(10**6)).mean()) * 10**3)

    track_mean_zscore.unit = "standard errors"
