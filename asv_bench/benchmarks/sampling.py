"""l_p sensitivity sampling: sketched against exact leverage scores, Lewis weights against the
exact leverage-score computation they repeat, and sampled against full l_1 regression (HiGHS).

Every matrix has heavy-tailed row scales (rows multiplied by Student-t(2) draws), so leverage
scores, Lewis weights and sensitivities are far from uniform. Dask: leverage scores of a tall
dask array beside the scores from dask's own TSQR (``dask.array.linalg.tsqr``).
"""

from __future__ import annotations

import numpy as np

from sketchla.sampling import leverage_scores, lewis_weights, lp_regression

from ._peers import one_blas_thread, optional, size


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


DASK_ROWS, DASK_COLUMNS, DASK_CHUNK = size(2**20, 2**14), 128, size(2**16, 2**12)
_dask_cache: dict = {}


def _dask_heavy_tailed():
    """A 2**20 x 128 float64 dask array with heavy-tailed rows, 2**16-row chunks held in memory
    (built once per process, block ``i`` from seed ``i``)."""
    if "A" not in _dask_cache:
        dask = optional("dask")
        da = optional("dask.array")

        def block(seed):
            rng = np.random.default_rng(seed)
            rows = rng.standard_normal((DASK_CHUNK, DASK_COLUMNS))
            return rows * rng.standard_t(2, size=(DASK_CHUNK, 1))

        parts = [
            da.from_delayed(dask.delayed(block)(i), (DASK_CHUNK, DASK_COLUMNS), dtype=np.float64)
            for i in range(DASK_ROWS // DASK_CHUNK)
        ]
        _dask_cache["A"] = da.concatenate(parts).persist()
    return _dask_cache["A"]


def _dask_tsqr_scores(A):
    """What a dask user writes: ``Q`` from dask's TSQR, ``tau_i = ||Q[i]||**2`` (lazy)."""
    da = optional("dask.array")
    Q = da.linalg.tsqr(A)[0]
    return (Q * Q).sum(axis=1)


class DaskLeverageScores:
    """2**20 x 128 float64 dask array, 2**16-row chunks held in memory, heavy-tailed rows:
    ``leverage_scores`` exact (TSQR ``R`` over the blocks, then ``||a_i^T R^+||**2``) and
    sketched (a SASO sketch of ``32 d`` rows, computed blockwise) beside the scores from dask's
    ``tsqr`` ``Q``; all computed to NumPy. ``track_max_relative_error`` is
    ``max_i |tau~_i / tau_i - 1|`` against the dask-TSQR scores."""

    params = ["exact", "sketch", "dask-tsqr"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, impl):
        A = self.A = _dask_heavy_tailed()
        if impl == "dask-tsqr":
            self.run = lambda: _dask_tsqr_scores(A).compute()
        else:
            self.run = lambda: leverage_scores(A, method=impl, seed=0).compute()

    def time_scores(self, impl):
        with one_blas_thread():  # both sides: the threads scheduler runs a block per core
            self.run()

    def track_max_relative_error(self, impl):
        if "reference" not in _dask_cache:
            _dask_cache["reference"] = _dask_tsqr_scores(self.A).compute()
        return float(np.max(np.abs(self.run() / _dask_cache["reference"] - 1)))

    track_max_relative_error.unit = "max relative error"
