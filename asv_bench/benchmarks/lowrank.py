"""Low-rank approximation: sketchla's ``rsvd`` beside scikit-learn's ``randomized_svd`` and
``torch.svd_lowrank``, and its ``lanczos_svd`` beside ``scipy.sparse.linalg.svds``.

Dense: 4096 x 4096 float32, k = 64, singular values ``1 / i`` over the top 512 directions and a
noise floor below (a slowly decaying spectrum, where power iterations matter). The peers run at
their defaults (scikit-learn: 10 oversamples, 7 power iterations with LU; torch: ``niter=2``,
``q = k + 10``); sketchla at its defaults (10 oversamples, 2 power iterations with QR).
``track_error`` reports ``||A - U diag(s) Vh||_2 / sigma_{k+1}`` (the optimum is 1), so that
times are compared at matching accuracy. Sparse: 10**5 x 10**4 CSR, density 1e-3, k = 20:
``lanczos_svd`` beside ARPACK's ``svds``; ``track_error`` is the largest relative error of the
top ``k`` singular values against a tight ``svds``. Dask: a tall 2**20 x 512 float64 dask array
in 2**16-row chunks (held in memory), k = 50: ``rsvd`` beside ``dask.array.linalg.svd_compressed``
at the same power iterations and oversampling, both to NumPy results.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.sparse as sp

from sketchla.lowrank import estimate_error, lanczos_svd, rsvd

from ._peers import one_blas_thread, optional, size

N, K, DIRECTIONS = size(4096, 1024), 64, 512


def _slow_decay(n: int = N, seed: int = 0) -> tuple[np.ndarray, float]:
    """``A`` (float32) and its ``sigma_{k+1}`` (of the construction, to rounding)."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n, DIRECTIONS)))[0]
    V = np.linalg.qr(rng.standard_normal((n, DIRECTIONS)))[0]
    sigma = 1.0 / np.arange(1, DIRECTIONS + 1)
    A = (U * sigma) @ V.T + (0.1 / DIRECTIONS / np.sqrt(n)) * rng.standard_normal((n, n))
    return A.astype(np.float32), float(sigma[K])


class DenseSVD:
    """4096 x 4096 float32, k = 64: time and error at each library's defaults."""

    params = ["sketchla", "sklearn", "torch.svd_lowrank", "sketchla-torch"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 5, 60.0)
    timeout = 600

    def setup(self, impl):
        self.A, self.sigma = _slow_decay()
        A = self.A
        if impl == "sketchla":
            self.run = lambda: tuple(rsvd(A, K, seed=0))
        elif impl == "sklearn":
            extmath = optional("sklearn.utils.extmath")
            self.run = lambda: extmath.randomized_svd(A, K, random_state=0)
        else:
            torch = optional("torch")
            At = torch.from_numpy(A)
            if impl == "sketchla-torch":
                self.run = lambda: tuple(x.numpy() for x in rsvd(At, K, seed=0))
            else:

                def run():
                    torch.manual_seed(0)  # svd_lowrank draws from torch's global generator
                    U, s, V = torch.svd_lowrank(At, q=K + 10, niter=2)
                    return U[:, :K].numpy(), s[:K].numpy(), V[:, :K].numpy().T

                self.run = run
        self.run()  # warm up

    def time_svd(self, impl):
        self.run()

    def track_error(self, impl):
        U, s, Vh = (np.asarray(x, dtype=np.float64) for x in self.run())
        error = estimate_error(self.A.astype(np.float64), U, s, Vh, rtol=1e-6, seed=1)
        return error.estimate / self.sigma

    track_error.unit = "||A - U S Vh|| / sigma_{k+1}"


class SparseSVD:
    """10**5 x 10**4 CSR, density 1e-3, k = 20, beside ``scipy.sparse.linalg.svds``. A random
    sparse matrix has a flat spectrum: its singular values 2 to 21 lie within 1.5 % of each
    other, which subspace iteration resolves slowly (its rate is the ratio of neighbouring
    singular values) and Krylov methods quickly. ``lanczos_svd`` (restarted block Lanczos) is
    the tool for it and matches ``svds``'s accuracy; ``rsvd`` with 24 power iterations is shown
    for contrast (its top-20 values stay about 1e-2 from ``svds``'s). ``track_error`` is the
    largest relative error of the top ``k`` values against a tight ``svds`` (``tol=1e-14``)."""

    params = ["lanczos_svd", "svds", "rsvd"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 60.0)
    timeout = 600
    power_iters = 24

    def setup(self, impl):
        rng = np.random.default_rng(0)
        self.A = sp.random_array((10**5, 10**4), density=1e-3, format="csr", rng=rng)
        from scipy.sparse.linalg import svds

        tight = svds(self.A, k=20, tol=1e-14, random_state=0, return_singular_vectors=False)
        self.reference = np.sort(tight)[::-1]
        if impl == "lanczos_svd":
            self.run = lambda: lanczos_svd(self.A, 20, seed=0).s
        elif impl == "rsvd":
            self.run = lambda: rsvd(self.A, 20, power_iters=self.power_iters, seed=0).s
        else:
            self.run = lambda: np.sort(svds(self.A, k=20, random_state=0)[1])[::-1]
        self.run()

    def time_svd(self, impl):
        self.run()

    def track_error(self, impl):
        return float(np.max(np.abs(self.run() - self.reference) / self.reference))

    track_error.unit = "max relative error of the top-k singular values"


DASK_ROWS, DASK_COLUMNS, DASK_CHUNK = size(2**20, 2**14), 512, size(2**16, 2**12)
DASK_K, DASK_POWER_ITERS, DASK_OVERSAMPLES = 50, 2, 10
_dask_cache: dict = {}


def _dask_decaying():
    """``A`` (dask, persisted) with singular values near ``1 / j``: row block ``i`` is
    ``DCT(G_i diag(1 / j) / sqrt(n))`` along the rows (``G_i`` Gaussian from seed ``i``, the DCT
    orthonormal); ``G / sqrt(n)`` has nearly orthonormal columns. Built once per process."""
    if "A" not in _dask_cache:
        dask = optional("dask")
        da = optional("dask.array")
        n, d = DASK_ROWS, DASK_COLUMNS
        sigma = 1.0 / np.arange(1, d + 1)

        def block(seed):
            g = np.random.default_rng(seed).standard_normal((DASK_CHUNK, d)) / np.sqrt(n)
            return scipy.fft.dct(g * sigma, axis=1, norm="ortho")

        parts = [
            da.from_delayed(dask.delayed(block)(i), (DASK_CHUNK, d), dtype=np.float64)
            for i in range(n // DASK_CHUNK)
        ]
        _dask_cache["A"] = da.concatenate(parts).persist()
    return _dask_cache["A"]


def _dask_optimal_error(A) -> float:
    """``||A - A_k||_F``, from the eigenvalues of ``A^T A`` (one pass; remembered)."""
    if "optimum" not in _dask_cache:
        eigenvalues = np.linalg.eigvalsh((A.T @ A).compute())[::-1]
        _dask_cache["optimum"] = float(np.sqrt(np.sum(eigenvalues[DASK_K:])))
    return _dask_cache["optimum"]


class DaskSVD:
    """2**20 x 512 float64 dask array, 2**16-row chunks held in memory, singular values near
    ``1 / j``, k = 50, 2 power iterations and 10 oversamples for both: sketchla's ``rsvd``
    (``U`` computed) beside ``dask.array.linalg.svd_compressed`` (power iterations without
    renormalisation; ``compute=False`` its default, ``compute=True`` persisting each iterate),
    all results computed to NumPy. ``track_error`` is ``||A - U diag(s) Vh||_F`` over the optimum
    ``||A - A_k||_F`` (1 is the best), computed blockwise."""

    params = ["sketchla", "svd_compressed", "svd_compressed-compute"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 300.0)
    timeout = 1800

    def setup(self, impl):
        dask = optional("dask")
        da = optional("dask.array")
        A = self.A = _dask_decaying()
        if impl == "sketchla":

            def run():
                with one_blas_thread():
                    U, s, Vh = rsvd(A, DASK_K, power_iters=DASK_POWER_ITERS, seed=0)
                    return U.compute(), s, Vh

        else:

            def run():
                with one_blas_thread():
                    factors = da.linalg.svd_compressed(
                        A,
                        DASK_K,
                        n_power_iter=DASK_POWER_ITERS,
                        n_oversamples=DASK_OVERSAMPLES,
                        seed=0,
                        compute=impl == "svd_compressed-compute",
                    )
                    return dask.compute(*factors)

        self.run = run

    def time_svd(self, impl):
        self.run()

    def track_error(self, impl):
        da = optional("dask.array")
        U, s, Vh = self.run()
        U = da.from_array(U, chunks=(DASK_CHUNK, DASK_K))
        residual = float(da.sqrt(((self.A - (U * s) @ Vh) ** 2).sum()).compute())
        return residual / _dask_optimal_error(self.A)

    track_error.unit = "||A - U S Vh||_F / ||A - A_k||_F"
