"""M-FAC inverse-Hessian-vector products.

``IHVP``: ``d = 10**6``, ``m = 256``, float32 on the CPU: ``StaticIHVP.ihvp`` beside the two
passes over the gradients that any method needs (``c = G v`` and ``G^T c``, timed as two bare
products). ``Woodbury``: ``m = 1024``, ``d = 2**14 .. 2**18``: against the straightforward
reference that keeps ``G`` and ``K = m lambda I + G G^T`` and solves with ``K`` at every
product. ``Update``: ``SlidingWindowIHVP.update`` and ``update_ihvp`` over ``d`` and ``m``.
``GPUIHVP``: ``d = 2**22``, ``m = 1024`` float32 on a CUDA device, beside the two bare passes.
"""

from __future__ import annotations

import numpy as np

from sketchla.mfac import SlidingWindowIHVP, StaticIHVP

from ._peers import SMOKE, cuda_torch, size

DAMP = 1e-4


def _gradients(m: int, d: int, seed: int = 0) -> np.ndarray:
    """``m x d`` float32 gradients with a shared direction (correlated, like real ones)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((m, d), dtype=np.float32)
    G += rng.standard_normal(d, dtype=np.float32)
    return G


class IHVP:
    """d = 10**6, m = 256, float32: one product with ``F^-1`` against two bare passes."""

    params = ["sketchla", "two-passes"]
    param_names = ["impl"]
    number = 1
    repeat = (3, 10, 30.0)
    timeout = 600

    def setup(self, impl):
        G = _gradients(256, size(10**6, 10**4))
        self.v = np.random.default_rng(1).standard_normal(G.shape[1], dtype=np.float32)
        if impl == "sketchla":
            model = StaticIHVP(G, DAMP)
            self.run = lambda: model.ihvp(self.v)
        else:
            c = np.ones(256, dtype=np.float32)
            self.run = lambda: (G @ self.v, c @ G)

    def time_ihvp(self, impl):
        self.run()


class Woodbury:
    """m = 1024, float32: ``StaticIHVP`` against a solve with ``K`` per product, over ``d``.

    Both make the same two passes over ``m x d`` numbers; the reference adds a ``2 m^3 / 3``
    LU solve, so the ratio shrinks as ``d`` grows past ``m``."""

    params = [["sketchla", "woodbury-solve"], [2**10] if SMOKE else [2**14, 2**16, 2**18]]
    param_names = ["impl", "d"]
    number = 1
    repeat = (3, 10, 30.0)
    timeout = 600

    def setup(self, impl, d):
        m = 1024
        G = _gradients(m, d)
        self.v = np.random.default_rng(1).standard_normal(d, dtype=np.float32)
        if impl == "sketchla":
            model = StaticIHVP(G, DAMP)
            self.run = lambda: model.ihvp(self.v)
        else:
            K = (G.astype(np.float64) @ G.T.astype(np.float64)).astype(np.float32)
            K[np.diag_indices(m)] += m * DAMP

            def run():
                c = np.linalg.solve(K, G @ self.v)
                return (self.v - c @ G) / DAMP

            self.run = run

    def time_ihvp(self, impl, d):
        self.run()


class Update:
    """``SlidingWindowIHVP``: one update (a pass over the window) and one ``update_ihvp``
    (the same pass, an ``m x m`` Cholesky factorisation, one more pass), over ``d`` at
    ``m = 256`` and over ``m`` at ``d = 2**18``, float32."""

    params = [
        [(2**10, 64)]
        if SMOKE
        else [(2**16, 256), (2**18, 256), (2**20, 256), (2**18, 64), (2**18, 1024)]
    ]
    param_names = ["(d, m)"]
    number = 1
    repeat = (3, 10, 30.0)
    timeout = 600

    def setup(self, shape):
        d, m = shape
        G = _gradients(m, d)
        self.window = SlidingWindowIHVP(m, d, DAMP, dtype="float32")
        gram = G @ G.T
        self.window.load_state_dict({"gradients": G, "gram": gram, "position": 0, "count": m})
        self.g = np.random.default_rng(2).standard_normal(d, dtype=np.float32)

    def time_update(self, shape):
        self.window.update(self.g)

    def time_update_ihvp(self, shape):
        self.window.update_ihvp(self.g)


class GPUIHVP:
    """d = 2**22, m = 1024 float32 on a CUDA device (torch): ``ihvp`` against two passes."""

    params = ["sketchla", "two-passes"]
    param_names = ["impl"]
    number = 1
    repeat = (5, 20, 30.0)
    timeout = 600

    def setup(self, impl):
        torch = cuda_torch()
        m, d = 1024, 2**22
        generator = torch.Generator(device="cuda").manual_seed(0)
        G = torch.randn(m, d, device="cuda", generator=generator)
        v = torch.randn(d, device="cuda", generator=generator)
        self.sync = torch.cuda.synchronize
        if impl == "sketchla":
            model = StaticIHVP(G, DAMP)
            self.run = lambda: model.ihvp(v)
        else:
            c = torch.ones(m, device="cuda")
            self.run = lambda: (G @ v, c @ G)
        self.run()
        self.sync()

    def time_ihvp(self, impl):
        self.run()
        self.sync()
