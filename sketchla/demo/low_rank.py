"""Demo section: randomized SVD beside scikit-learn and torch, timed live, errors measured."""

from __future__ import annotations

import numpy as np

from ..lowrank import estimate_error, rsvd
from . import DemoContext, SectionResult, best_time

TITLE = "Randomized SVD against scikit-learn and torch"


def run(context: DemoContext) -> SectionResult:
    n, k, directions = (1024, 16, 128) if context.quick else (4096, 64, 512)
    repeats = 1 if context.quick else 2
    rng = np.random.default_rng(0)
    U0 = np.linalg.qr(rng.standard_normal((n, directions)))[0]
    V0 = np.linalg.qr(rng.standard_normal((n, directions)))[0]
    sigma = 1.0 / np.arange(1, directions + 1)  # slow decay
    A = ((U0 * sigma) @ V0.T).astype(np.float32)
    solvers = {"sketchla rsvd (q = 2)": lambda: tuple(rsvd(A, k, seed=0))}
    notes = [
        f"A: float32 {n} x {n}, singular values 1/i over {directions} directions; k = {k}. "
        "error = ||A - U diag(s) Vh||_2 / sigma_(k+1) (1 is the optimum), by estimate_error.",
    ]
    try:
        from sklearn.utils.extmath import randomized_svd

        solvers["scikit-learn randomized_svd"] = lambda: randomized_svd(A, k, random_state=0)
    except ImportError:
        notes.append("scikit-learn is not installed: its row is left out.")
    try:
        import torch

        At = torch.from_numpy(A)

        def torch_svd():
            torch.manual_seed(0)  # svd_lowrank draws from torch's global generator
            U, s, V = torch.svd_lowrank(At, q=k + 10, niter=2)
            return U[:, :k].numpy(), s[:k].numpy(), V[:, :k].numpy().T

        solvers["torch.svd_lowrank (q = k + 10)"] = torch_svd
    except ImportError:
        notes.append("torch is not installed: its row is left out.")
    times = {name: best_time(solve, repeats) for name, solve in solvers.items()}
    A64 = A.astype(np.float64)
    rows = []
    for name, solve in solvers.items():
        U, s, Vh = (np.asarray(x, dtype=np.float64) for x in solve())
        error = estimate_error(A64, U, s, Vh, rtol=1e-6, seed=1).estimate / sigma[k]
        rows.append(
            {
                "solver": name,
                "time (ms)": f"{1e3 * times[name]:.0f}",
                "this / sketchla (time)": f"{times[name] / times['sketchla rsvd (q = 2)']:.2f}",
                "error": f"{error:.4f}",
            }
        )
    return SectionResult(TITLE, rows, [], notes)
