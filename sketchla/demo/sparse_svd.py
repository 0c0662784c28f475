"""Demo section: the top singular values of a random sparse matrix (a flat spectrum) by
``lanczos_svd`` beside ARPACK's ``svds``, timed live, accuracy measured."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from ..lowrank import lanczos_svd, rsvd
from . import DemoContext, SectionResult, best_time

TITLE = "Top singular values of a sparse matrix against ARPACK"


def run(context: DemoContext) -> SectionResult:
    m, n, k = (20_000, 2_000, 10) if context.quick else (100_000, 10_000, 20)
    repeats = 1 if context.quick else 2
    A = sp.random_array((m, n), density=1e-3 if not context.quick else 5e-3, format="csr", rng=0)
    tight = svds(A, k=k, tol=1e-14, random_state=0, return_singular_vectors=False)
    reference = np.sort(tight)[::-1]
    solvers = {
        "sketchla lanczos_svd": lambda: lanczos_svd(A, k, seed=0).s,
        "scipy svds (ARPACK)": lambda: np.sort(svds(A, k=k, random_state=0)[1])[::-1],
        "sketchla rsvd (q = 24)": lambda: rsvd(A, k, power_iters=24, seed=0).s,
    }
    times = {name: best_time(solve, repeats) for name, solve in solvers.items()}
    first = times["sketchla lanczos_svd"]
    rows = [
        {
            "solver": name,
            "time (ms)": f"{1e3 * times[name]:.0f}",
            "this / lanczos_svd (time)": f"{times[name] / first:.2f}",
            "max relative error of the top k values": f"{error(solve(), reference):.1e}",
        }
        for name, solve in solvers.items()
    ]
    notes = [
        f"A: {m} x {n} CSR, {A.nnz} nonzeros (uniform on [0, 1)); k = {k}. The reference is "
        "svds with tol=1e-14. A random sparse matrix has a flat spectrum, where subspace "
        "iteration (rsvd) converges slowly and Lanczos methods quickly.",
    ]
    return SectionResult(TITLE, rows, [], notes)


def error(values: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(values - reference) / reference))
