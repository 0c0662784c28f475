"""PiSSA initialisation of a ``4096 x 4096`` float32 layer at rank 64.

sketchla's :func:`~sketchla.apps.pissa` (randomized SVD, the defaults: oversampling 64, four
power iterations) against the two ways HuggingFace peft initialises PiSSA:
``init_lora_weights="pissa"`` (a full ``torch.linalg.svd``) and ``"pissa_niter_4"``
(``torch.svd_lowrank(W, q=r, niter=4)``, no oversampling). Each side forms the factors and the
residual. The weight has a pretrained layer's kind of spectrum: a slowly decaying power law
``sigma_i = i^-0.5`` on random singular vectors. ``track_residual_excess`` is
``||W_res||_2 / sigma_{r+1} - 1``, the spectral error above the optimal residual (0 for the full
SVD).
"""

from __future__ import annotations

import numpy as np

from ._peers import optional, size

N, RANK = size(4096, 256), 64


def _weight(torch):
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((N, N)).astype(np.float32))
    V, _ = np.linalg.qr(rng.standard_normal((N, N)).astype(np.float32))
    s = np.arange(1, N + 1, dtype=np.float32) ** -0.5
    return torch.tensor((U * s) @ V.T), s


def _peft_split(torch, U, s, Vh):
    root = torch.sqrt(s)
    return U * root, root[:, None] * Vh


class PiSSA:
    params = ["sketchla-rsvd", "peft-svd", "peft-svd_lowrank-niter4"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 900

    def setup(self, impl):
        torch = optional("torch")
        from sketchla.apps import pissa

        self.torch = torch
        self.W, self.s = _weight(torch)

        def sketchla_rsvd(W):
            init = pissa(W, RANK, seed=0)
            return init.residual

        def peft_svd(W):
            U, s, Vh = torch.linalg.svd(W, full_matrices=False)
            B, A = _peft_split(torch, U[:, :RANK], s[:RANK], Vh[:RANK])
            return W - B @ A

        def peft_lowrank(W):
            U, s, V = torch.svd_lowrank(W, q=RANK, niter=4)
            B, A = _peft_split(torch, U, s, V.T)
            return W - B @ A

        self.run = {
            "sketchla-rsvd": sketchla_rsvd,
            "peft-svd": peft_svd,
            "peft-svd_lowrank-niter4": peft_lowrank,
        }[impl]
        self.run(self.W[:256, :256].contiguous())  # warm up

    def time_init(self, impl):
        self.run(self.W)

    def track_residual_excess(self, impl):
        from scipy.sparse.linalg import svds

        residual = self.run(self.W).double().numpy()
        top = svds(residual, k=1, tol=1e-10, return_singular_vectors=False, random_state=0)[0]
        return float(top) / float(self.s[RANK]) - 1

    track_residual_excess.unit = "relative"
