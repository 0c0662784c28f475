"""l_p sensitivity sampling: sketched against exact leverage scores, Lewis weights against the
exact leverage-score computation they repeat, and sampled against full l_1 regression (HiGHS).

Every matrix has heavy-tailed row scales (rows multiplied by Student-t(2) draws), so leverage
scores, Lewis weights and sensitivities are far from uniform.
"""

from __future__ import annotations

import numpy as np

from sketchla.sampling import leverage_scores, lewis_weights, lp_regression

from ._peers import size


def _heavy_tailed(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * rng.standard_t(2, size=(n, 1))


class LeverageScores:
    """2**18 x 256 float64: ``leverage_scores(method="sketch")`` (a SASO sketch of ``32 d`` rows,
    ``R`` from its QR, exact row norms of ``A R^{-1}``) beside the exact scores from NumPy's
    Householder QR (``Q = qr(A)[0]``, ``tau = ||Q[i]||**2``: what a user writes).
    ``track_max_relative_error`` is ``max_i |tau~_i / tau_i - 1|`` (target: <= 0.5)."""

    params = ["sketch", "numpy-qr"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 600

    def setup(self, impl):
        self.A = _heavy_tailed(size(2**18, 2**14), 256)
        if impl == "sketch":
            self.run = lambda: leverage_scores(self.A, method="sketch", seed=0)
        else:
            self.run = lambda: _qr_scores(self.A)

    def time_scores(self, impl):
        self.run()

    def track_max_relative_error(self, impl):
        exact = _qr_scores(self.A)
        return float(np.max(np.abs(self.run() / exact - 1)))

    track_max_relative_error.unit = "max relative error"


def _qr_scores(A: np.ndarray) -> np.ndarray:
    Q = np.linalg.qr(A)[0]
    return np.einsum("ij,ij->i", Q, Q)


class LewisWeightsL1:
    """2**17 x 128 float64, p = 1: ``lewis_weights`` (to the default fixed-point residual
    ``sqrt(u)``) beside one exact leverage-score computation by NumPy's QR; the target is at most
    20 of the latter's time."""

    params = ["lewis_weights", "numpy-qr-leverage"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 600

    def setup(self, impl):
        self.A = _heavy_tailed(size(2**17, 2**13), 128, seed=1)
        if impl == "lewis_weights":
            self.run = lambda: lewis_weights(self.A, 1).weights
        else:
            self.run = lambda: _qr_scores(self.A)

    def time_weights(self, impl):
        self.run()


class L1Regression:
    """2**17 x 64 float64, ``b = A x + `` Student-t(1.5) noise: ``lp_regression(A, b, 1,
    method="sample")`` (Lewis weights of ``[A, b]``, the default sample size, HiGHS on the sample)
    beside HiGHS on the full problem (``method="full"``, the dual LP).
    ``track_objective_ratio`` is ``||A x - b||_1`` over the full optimum's (target <= 1.1)."""

    params = ["sample", "full"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, impl):
        rng = np.random.default_rng(2)
        self.A = _heavy_tailed(size(2**17, 2**13), 64, seed=2)
        self.b = self.A @ rng.standard_normal(64) + rng.standard_t(1.5, size=self.A.shape[0])
        self.run = lambda: lp_regression(self.A, self.b, 1, method=impl, seed=0)

    def time_fit(self, impl):
        self.run()

    def track_objective_ratio(self, impl):
        optimum = lp_regression(self.A, self.b, 1).objective
        return self.run().objective / optimum

    track_objective_ratio.unit = "objective / optimum"
