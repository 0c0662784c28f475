"""Demo section: complete a random rank-k matrix from a few percent of its entries, by exact and
by robust alternating minimization; error on held-out entries and time per iteration."""

from __future__ import annotations

import time

import numpy as np

from ..completion import complete
from . import DemoContext, SectionResult

TITLE = "Matrix completion by robust alternating minimization"


def run(context: DemoContext) -> SectionResult:
    m, n, k, fraction = (4_000, 1_000, 16, 0.04) if context.quick else (20_000, 4_000, 32, 0.02)
    rng = np.random.default_rng(0)
    U, V = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    linear = np.unique(rng.integers(0, m * n, int(fraction * m * n), dtype=np.int64))
    rows, cols = linear // n, linear % n
    values = np.einsum("ij,ij->i", U[rows], V[cols])
    held = rng.integers(0, m * n, 20_000)
    truth = np.einsum("ij,ij->i", U[held // n], V[held % n])
    complete((rows, cols, values), (m, n), k, maxiter=2, tol=0.0, seed=0)  # compile the kernels
    table = []
    for method in ("robust_altmin", "altmin"):
        began = time.perf_counter()
        result = complete((rows, cols, values), (m, n), k, method=method, tol=1e-9, seed=0)
        seconds = time.perf_counter() - began
        error = np.linalg.norm(result.predict(held // n, held % n) - truth) / np.linalg.norm(truth)
        table.append(
            {
                "method": method,
                "iterations": result.iterations,
                "seconds": f"{seconds:.2f}",
                "ms per iteration": f"{1e3 * seconds / result.iterations:.0f}",
                "held-out relative error": f"{error:.1e}",
            }
        )
    degrees = (m + n - k) * k
    notes = [
        f"{m} x {n}, rank {k}, {len(rows)} entries seen ({len(rows) / degrees:.1f} times the "
        "degrees of freedom); the robust method solves each column's least-squares problem "
        "inexactly, by preconditioned conjugate gradients from the previous iterate."
    ]
    return SectionResult(TITLE, table, [], notes)
