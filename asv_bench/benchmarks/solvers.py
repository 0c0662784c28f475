"""Solvers of the 3-D Poisson problem (Dirichlet boundary, relative residual 1e-4, a random
right-hand side): sketchla's ``cg`` (matrix-free and CSR), ``dcdm_solve`` with the packaged
networks (the multilevel default, and the paper's architecture), ``scipy.sparse.linalg.cg``
and pyamg's smoothed aggregation (setup + solve, as CG's preconditioner).
``track_iterations`` reports the iterations of each (pyamg: its CG steps, each one V-cycle)."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from sketchla.solvers import PoissonGrid, cg, dcdm_solve

from ._peers import SMOKE, cuda_torch, optional

TOL = 1e-4


def _counting(solve):
    """Run ``solve(callback)`` and return how many times it called back."""
    count = [0]

    def step(*_):
        count[0] += 1

    solve(step)
    return count[0]


class Poisson3D:
    params = (
        [16] if SMOKE else [32, 64],
        [
            "sketchla-cg",
            "sketchla-cg-csr",
            "scipy-cg",
            "pyamg-sa",
            "sketchla-dcdm",
            "sketchla-dcdm-paper",
        ],
    )
    param_names = ["n", "impl"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 900

    def setup(self, n, impl):
        grid = PoissonGrid((n, n, n))
        b = np.random.default_rng(0).standard_normal(grid.shape[0])
        if impl == "sketchla-cg":
            self.run = lambda: cg(grid, b, tol=TOL).iterations
        elif impl == "sketchla-cg-csr":
            A = grid.to_sparse()
            self.run = lambda: cg(A, b, tol=TOL).iterations
        elif impl == "scipy-cg":
            A = grid.to_sparse()
            self.run = lambda: _counting(lambda step: spla.cg(A, b, rtol=TOL, callback=step))
        elif impl == "pyamg-sa":
            pyamg = optional("pyamg")
            A = grid.to_sparse()

            def run():
                solver = pyamg.smoothed_aggregation_solver(A)  # setup is part of the cost
                return _counting(lambda step: solver.solve(b, tol=TOL, accel="cg", callback=step))

            self.run = run
        else:
            optional("torch")
            from sketchla.solvers.dcdm import load_model

            model = load_model("poisson3d-paper" if impl.endswith("-paper") else "poisson3d")
            self.run = lambda: dcdm_solve(grid, b, model=model, tol=TOL).iterations

    def time_solve(self, n, impl):
        self.run()

    def track_iterations(self, n, impl):
        return self.run()

    track_iterations.unit = "iterations"


class GPUPoisson3D:
    """128**3 on a CUDA device (torch): sketchla's matrix-free ``cg`` against ``dcdm_solve``."""

    params = ["sketchla-cg", "sketchla-dcdm", "sketchla-dcdm-paper"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 600

    def setup(self, impl):
        torch = cuda_torch()
        grid = PoissonGrid((128, 128, 128))
        generator = torch.Generator(device="cuda").manual_seed(0)
        b = torch.randn(grid.shape[0], device="cuda", dtype=torch.float32, generator=generator)
        self.sync = torch.cuda.synchronize
        if impl == "sketchla-cg":
            self.run = lambda: cg(grid, b, tol=TOL).iterations
        else:
            from sketchla.solvers.dcdm import load_model

            name = "poisson3d-paper" if impl.endswith("-paper") else "poisson3d"
            model = load_model(name, device="cuda")
            self.run = lambda: dcdm_solve(grid, b, model=model, tol=TOL).iterations

    def time_solve(self, impl):
        self.run()
        self.sync()

    def track_iterations(self, impl):
        return self.run()

    track_iterations.unit = "iterations"
