"""Demo section: the 3-D Poisson problem solved by CG, SciPy's CG and DCDM with the packaged
network, iterations and time measured live."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from ..solvers import PoissonGrid, cg, dcdm_solve
from . import DemoContext, SectionResult, best_time

TITLE = "Poisson solves: CG against DCDM with the packaged network"
TOL = 1e-4


def run(context: DemoContext) -> SectionResult:
    try:
        from ..solvers.dcdm import load_model
    except ImportError:
        return SectionResult(TITLE, [], [], ["torch is not installed: DCDM needs it."])
    n = 24 if context.quick else 48
    A = PoissonGrid((n, n, n))
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    model = load_model("poisson3d")
    csr = A.to_sparse()

    def scipy_cg():
        count = [0]

        def step(_x):
            count[0] += 1

        x, _ = spla.cg(csr, b, rtol=TOL, callback=step)
        return x, count[0]

    solvers = {
        "sketchla cg (matrix-free)": lambda: _pair(cg(A, b, tol=TOL)),
        "scipy cg (CSR)": scipy_cg,
        "sketchla dcdm_solve (poisson3d)": lambda: _pair(dcdm_solve(A, b, model=model, tol=TOL)),
    }
    rows = []
    for name, solve in solvers.items():
        x, iterations = solve()
        seconds = best_time(solve, 1)
        residual = np.linalg.norm(b - A.matvec(x)) / np.linalg.norm(b)
        rows.append(
            {
                "solver": name,
                "iterations": iterations,
                "time (ms)": f"{1e3 * seconds:.0f}",
                "relative residual": f"{residual:.1e}",
            }
        )
    notes = [
        f"{n}^3 Dirichlet Poisson matrix, a random right-hand side, stop at relative residual "
        f"{TOL:g}. DCDM's network (97k parameters, trained on a 32^3 grid) costs far more per "
        "step than a stencil product on a CPU: it wins on iterations, not on CPU time.",
    ]
    return SectionResult(TITLE, rows, [], notes)


def _pair(result):
    return result.x, result.iterations
