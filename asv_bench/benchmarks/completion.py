"""Matrix completion: half-steps and iterations of exact against robust alternating minimization.

The peer is exact alternating minimization (Jain, Netrapalli & Sanghavi 2013: every column's and
row's normal equations formed and factored, ``O(|Ω| k^2)`` per half-step), which is what the
robust method (Gu, Song, Yin & Zhang 2024) replaces; the paper has no reference code. Both run
sketchla's compiled kernels, so the ratio measures the algorithm, not the implementation.

``HalfStep``: one ``V`` half-step (``20 000 x 2 000``, 5 % observed: 1 000 observations per
column) for ``k = 16, 64, 128`` (the whole curve: ``scripts/completion_scaling.py``), for the
exact solves, the robust solves with the shared preconditioner (the default) and with the
paper's per-column CountSketch preconditioner.
``Iteration``: one whole iteration (``V`` then ``U``) on the issue's problem, ``10^5 x 10^4``
with 1 % observed (``10^7`` entries), rank 64. ``track_relative_error`` records how much of the
distance to the exact half-step's answer remains, so a speed-up is never a hidden accuracy loss.
"""

from __future__ import annotations

import functools

import numpy as np

from sketchla._array.kernels import kernel
from sketchla.completion.altmin import _initial_factors, iteration
from sketchla.completion.halfstep import solve_targets
from sketchla.completion.observations import observations
from sketchla.random import Generator

from ._peers import size


def problem(m: int, n: int, fraction: float, k: int, seed: int = 0):
    """Observations of a random rank-``k`` ``m x n`` matrix (Gaussian factors), ``fraction``
    of the entries drawn uniformly without repeats; also the true factors."""
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    want = int(fraction * m * n)
    linear = np.unique(rng.integers(0, m * n, int(want * 1.01) + 10, dtype=np.int64))
    linear = np.sort(rng.permutation(linear)[:want])
    rows, cols = linear // n, linear % n
    values = kernel("entries_of_product", np)(U, V, rows, cols, xp=np)
    return (rows, cols, values), U, V


SOLVERS = {
    "exact": {"solver": "exact"},
    "robust-shared": {"solver": "sketch", "sketch_size": 0, "orthonormal": True},
    "robust-sketch": {"solver": "sketch", "sketch_size": None, "orthonormal": True},
}


class HalfStep:
    """One ``V`` half-step, 20 000 x 2 000 at 5 %, over the rank."""

    params = [list(SOLVERS), [16, 64, 128]]
    param_names = ["impl", "k"]
    number = 1
    repeat = (3, 5, 30.0)
    timeout = 600

    def setup(self, impl, k):
        shape = (size(20_000, 4_000), size(2_000, 500))
        observed, U, V = problem(*shape, 0.05, k)
        obs, _, _ = observations(observed, shape)
        Q, R = np.linalg.qr(U)
        rng = np.random.default_rng(1)
        exact = V @ R.T
        self.start = exact + 0.1 * np.abs(exact).mean() * rng.standard_normal(exact.shape)
        options = dict(SOLVERS[impl])
        if options.get("sketch_size", 0) is None:
            options["sketch_size"] = 4 * k
        self.run = lambda: solve_targets(
            Q, obs.by_col, x0=self.start, generator=Generator(0), **options
        )
        self.exact = exact

    def time_half_step(self, impl, k):
        self.run()

    def track_relative_error(self, impl, k):
        X, _ = self.run()
        return float(np.linalg.norm(X - self.exact) / np.linalg.norm(self.start - self.exact))


class Iteration:
    """One iteration (both half-steps, with the orthonormalisations), 10^5 x 10^4, 1 % observed,
    rank 64, from the same initial factors (errors after each iteration:
    ``scripts/completion_scaling.py solve``)."""

    params = [["robust_altmin", "altmin"]]
    param_names = ["impl"]
    number = 1
    repeat = (2, 3, 60.0)
    timeout = 1200

    def setup(self, impl):
        self.obs, self.start = _large_problem()
        self.options = {
            "solver": "sketch" if impl == "robust_altmin" else "exact",
            "ridge": 0.0,
            "sketch_size": 0,
            "inner_tol": 0.1,
            "inner_maxiter": 20,
        }

    def _iterate(self, U, V):
        return iteration(
            U, V, self.obs.by_col, self.obs.by_row, generator=Generator(0), **self.options
        )

    def time_iteration(self, impl):
        self._iterate(*self.start)


@functools.cache
def _large_problem():
    m, n, k = size(100_000, 10_000), size(10_000, 2_000), 64
    observed, _, _ = problem(m, n, 0.01, k)
    obs, _, _ = observations(observed, (m, n))
    start = _initial_factors(obs, k, 2.0, Generator(0))
    return obs, start
