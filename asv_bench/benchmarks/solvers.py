"""Conjugate gradients on the 3-D Poisson problem (64**3 cells, Dirichlet boundary, relative
residual 1e-4): sketchla's ``cg`` on the matrix-free ``PoissonGrid`` and on its CSR matrix,
beside ``scipy.sparse.linalg.cg`` on the CSR matrix. ``track_iterations`` reports the
iterations (the same recurrence: they agree)."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from sketchla.solvers import PoissonGrid, cg

GRID = (64, 64, 64)
TOL = 1e-4


class PoissonCG:
    params = ["sketchla-matrix-free", "sketchla-csr", "scipy-csr"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 5, 60.0)
    timeout = 600

    def setup(self, impl):
        grid = PoissonGrid(GRID)
        b = np.random.default_rng(0).standard_normal(grid.shape[0])
        if impl == "sketchla-matrix-free":
            self.run = lambda: cg(grid, b, tol=TOL).iterations
        elif impl == "sketchla-csr":
            A = grid.to_sparse()
            self.run = lambda: cg(A, b, tol=TOL).iterations
        else:
            A = grid.to_sparse()

            def run():
                count = [0]

                def step(_x):
                    count[0] += 1

                spla.cg(A, b, rtol=TOL, maxiter=10 * A.shape[0], callback=step)
                return count[0]

            self.run = run

    def time_solve(self, impl):
        self.run()

    def track_iterations(self, impl):
        return self.run()

    track_iterations.unit = "iterations"
