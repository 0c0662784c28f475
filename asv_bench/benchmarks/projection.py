"""Low-rank gradient projection at LLM-layer size: a ``4096 x 4096`` float32 gradient, rank 128.

``Update``: choosing the subspace, sketchla's :class:`~sketchla.apps.DCTProjector` (one fast
DCT of the gradient and an L1 score per column, ``O(n^2 log n)``) against GaLore's projector,
written inline as GaLore does it: ``torch.linalg.svd(G, full_matrices=False)`` and the top 128
right singular vectors (``O(n^3)``). ``track_captured_energy`` reports the fraction of
``||G||_F^2`` each subspace keeps, on a gradient ``G = A B^T`` of rank 64 whose ``B`` has
random-walk (smooth, correlated) columns, like features of neighbouring inputs; on a gradient
without such structure the DCT keeps much less than the SVD. ``Step``: one
:class:`~sketchla.apps.LowRankAdam` step (no projector update: the steady state between two
updates) against one ``torch.optim.AdamW`` step on a ``4096 x 4096`` parameter;
``track_state_mib`` is the optimizer state's size. ``GPUUpdate``: ``Update`` on a CUDA device
(the DCT by a product with the cached basis).
"""

from __future__ import annotations

import numpy as np

from ._peers import cuda_torch, optional, size

N, RANK = size(4096, 512), 128


def _gradient(torch, device="cpu"):
    """``A B^T`` (rank 64) plus 1 % noise, float32; ``B``'s columns are random walks."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((N, 64))
    B = np.cumsum(rng.standard_normal((N, 64)), axis=0)
    G = A @ (B / np.linalg.norm(B, axis=0)).T
    G += 0.01 * np.linalg.norm(G) / N * rng.standard_normal((N, N))
    return torch.tensor(G, dtype=torch.float32, device=device)


def _galore_update(torch, G):
    """GaLore's ``get_orthogonal_matrix(G, rank, type="right")`` for ``m >= n``."""
    _, _, Vh = torch.linalg.svd(G, full_matrices=False)
    return Vh[:RANK, :]


def _captured(G, low):
    return float((low.double() ** 2).sum() / (G.double() ** 2).sum())


class Update:
    """4096 x 4096 float32, rank 128: the DCT projector's update against GaLore's SVD."""

    params = ["sketchla-dct", "galore-svd"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 900

    def setup(self, impl):
        torch = optional("torch")
        from sketchla.apps import DCTProjector

        self.torch = torch
        self.G = _gradient(torch)
        if impl == "sketchla-dct":
            self.projector = DCTProjector(RANK)
            self.run = lambda: self.projector.update(self.G)
        else:
            self.run = lambda: _galore_update(torch, self.G)

    def time_update(self, impl):
        self.run()

    def track_captured_energy(self, impl):
        result = self.run()
        low = self.projector.project(self.G) if impl == "sketchla-dct" else self.G @ result.T
        return _captured(self.G, low)

    track_captured_energy.unit = "fraction of ||G||_F^2"


class Step:
    """One optimizer step on a 4096 x 4096 float32 parameter: LowRankAdam (rank 128, DCT
    projector, between two projector updates) against torch's AdamW."""

    params = ["sketchla-lowrank-adam", "torch-adamw"]
    param_names = ["impl"]
    number = 1
    repeat = (3, 10, 30.0)
    timeout = 600

    def setup(self, impl):
        torch = optional("torch")
        from sketchla.apps import LowRankAdam

        generator = torch.Generator().manual_seed(0)
        self.p = torch.nn.Parameter(torch.randn(N, N, generator=generator) / N**0.5)
        self.p.grad = _gradient(torch)
        if impl == "sketchla-lowrank-adam":
            self.optimizer = LowRankAdam([self.p], lr=1e-3, rank=RANK, update_gap=10**9)
        else:
            self.optimizer = torch.optim.AdamW([self.p], lr=1e-3)
        self.optimizer.step()  # the state (and the projector) exist before the timing

    def time_step(self, impl):
        self.optimizer.step()

    def track_state_mib(self, impl):
        state = self.optimizer.state[self.p]
        sizes = [v.numel() * v.element_size() for v in state.values() if hasattr(v, "numel")]
        return sum(sizes) / 2**20

    track_state_mib.unit = "MiB"


class GPUUpdate:
    """``Update`` on a CUDA device, float32."""

    params = ["sketchla-dct", "galore-svd"]
    param_names = ["impl"]
    number = 1
    repeat = (3, 10, 60.0)
    timeout = 600

    def setup(self, impl):
        torch = cuda_torch()
        from sketchla.apps import DCTProjector

        self.G = _gradient(torch, device="cuda")
        self.sync = torch.cuda.synchronize
        if impl == "sketchla-dct":
            projector = DCTProjector(RANK)
            self.run = lambda: projector.update(self.G)
        else:
            self.run = lambda: _galore_update(torch, self.G)
        self.run()  # builds the cached basis, warms cuSOLVER
        self.sync()

    def time_update(self, impl):
        self.run()
        self.sync()
