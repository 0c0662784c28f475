"""Least squares: sketchla's sketch-and-precondition beside LAPACK and LSQR, at matching accuracy.

Problems (float64): a random dense 2**18 x 256; a dense 100 000 x 2 000 with condition number
about 1e5 (the problem on which the PARLA prototype was 2.3x faster than scipy); a scipy CSR
10**6 x 10**3 with density 1e-3 and condition number about 1e6. sketchla runs at its defaults
(``"auto"``: the Gram preconditioner on the dense problems) and, as ``sketchla-sketch``, with
the sketched preconditioner (``method="sketch_and_precondition"``). Peers: ``scipy.linalg.lstsq``
(gelsd, its default, and gelsy), ``numpy.linalg.lstsq``, ``scipy.sparse.linalg.lsqr`` run until
it reaches sketchla's residual. The random problem also tracks accuracy: the relative residual
excess ``||r|| / ||r_ref|| - 1`` and the difference from the LAPACK (gelsd) solution; the
sparse one, the residual LSQR reached. (Forward errors at condition numbers up to 1e10, against
a high-precision reference, are in the test suite.)
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sketchla.lstsq import lstsq

from ._peers import cuda_cupy, cuda_torch, one_blas_thread, optional, size


def _random_problem(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def _conditioned_problem(n: int, d: int, kappa: float, seed: int = 0):
    """``G diag(s) V^T`` with ``G`` Gaussian, ``s`` log-spaced from 1 to ``1/kappa`` and ``V``
    a random rotation; ``b = A x + noise`` (a nonzero residual)."""
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    s = np.logspace(0, -np.log10(kappa), d)
    A = rng.standard_normal((n, d)) @ (s[:, None] * V.T)
    b = A @ rng.standard_normal(d) + 1e-3 * np.linalg.norm(A[:, 0]) / np.sqrt(n) * (
        rng.standard_normal(n)
    )
    return A, b


def _sparse_problem(seed: int = 0):
    """CSR 10**6 x 10**3, density 1e-3, columns scaled log-uniformly over 1 .. 1e-6."""
    rng = np.random.default_rng(seed)
    A = sp.random_array((size(10**6, 10**5), 10**3), density=1e-3, format="csr", rng=rng)
    A = (A @ sp.diags_array(np.logspace(0, -6, 10**3))).tocsr()
    b = A @ rng.standard_normal(10**3) + 1e-6 * rng.standard_normal(A.shape[0])
    return A, b


class _Suite:
    """``self.solve()`` returns x."""

    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def _solver(self, impl):
        A, b = self.A, self.b
        solvers = {
            "sketchla": lambda: lstsq(A, b, seed=0).x,
            "sketchla-sketch": lambda: lstsq(A, b, method="sketch_and_precondition", seed=0).x,
            "scipy-gelsd": lambda: scipy.linalg.lstsq(A, b, check_finite=False)[0],
            "scipy-gelsy": lambda: scipy.linalg.lstsq(
                A, b, lapack_driver="gelsy", check_finite=False
            )[0],
            "numpy": lambda: np.linalg.lstsq(A, b, rcond=None)[0],
        }
        return solvers[impl]


class DenseTall(_Suite):
    """Random 2**18 x 256; accuracy tracked against gelsd's solution."""

    params = ["sketchla", "sketchla-sketch", "scipy-gelsd", "scipy-gelsy", "numpy"]
    param_names = ["impl"]

    def setup(self, impl):
        self.A, self.b = _random_problem(size(2**18, 2**14), 256)
        self.solve = self._solver(impl)
        if impl.startswith("sketchla"):
            self.solve()  # warm up: numba compilation

    def time_lstsq(self, impl):
        self.solve()

    def track_residual_excess(self, impl):
        x, x_ref = self.solve(), scipy.linalg.lstsq(self.A, self.b)[0]
        r, r_ref = self.A @ x - self.b, self.A @ x_ref - self.b
        return float(np.linalg.norm(r) / np.linalg.norm(r_ref) - 1)

    track_residual_excess.unit = "relative excess"

    def track_forward_error(self, impl):
        x, x_ref = self.solve(), scipy.linalg.lstsq(self.A, self.b)[0]
        return float(np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref))

    track_forward_error.unit = "relative difference from gelsd"


class DenseIllConditioned(_Suite):
    """100 000 x 2 000, condition number about 1e5."""

    params = ["sketchla", "sketchla-sketch", "scipy-gelsd", "scipy-gelsy"]
    param_names = ["impl"]

    def setup(self, impl):
        self.A, self.b = _conditioned_problem(size(100_000, 10_000), size(2_000, 500), 1e5)
        self.solve = self._solver(impl)
        if impl.startswith("sketchla"):
            lstsq(self.A[:5000], self.b[:5000], seed=0)  # warm up: numba compilation

    def time_lstsq(self, impl):
        self.solve()


class SparseIllConditioned:
    """scipy CSR 10**6 x 10**3, density 1e-3, condition number about 1e6: sketchla beside
    ``scipy.sparse.linalg.lsqr``. Unpreconditioned, LSQR needs a number of iterations growing
    with the condition number: 20 000 of them (about 10 minutes here) still leave its residual
    2.4 times sketchla's. The suite caps it at 1 000 iterations (to keep CI short) and tracks
    the residual it reaches."""

    params = ["sketchla", "scipy-lsqr"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, impl):
        self.A, self.b = _sparse_problem()
        target = lstsq(self.A, self.b, seed=0)
        self.target = target.residual_norm
        if impl == "sketchla":
            self.solve = lambda: lstsq(self.A, self.b, seed=0).x
        else:
            self.solve = self._lsqr

    def _lsqr(self):
        # LSQR's own stopping tests, tight, and a cap; track_* reports the residual reached
        return spla.lsqr(self.A, self.b, atol=1e-14, btol=1e-14, iter_lim=1_000)[0]

    def time_lstsq(self, impl):
        self.solve()

    def track_residual_excess(self, impl):
        x = self.solve()
        return float(np.linalg.norm(self.A @ x - self.b) / self.target - 1)

    track_residual_excess.unit = "relative excess over sketchla's residual"


class GPUDenseTall:
    """2**21 x 256 on the GPU (float32 and float64), beside ``torch.linalg.lstsq``."""

    params = (["sketchla-torch", "torch", "sketchla-cupy"], ["float32", "float64"])
    param_names = ["impl", "dtype"]
    timeout = 300

    def setup(self, impl, dtype):
        n, d = 2**21, 256
        if "torch" in impl:
            torch = cuda_torch()
            gen = torch.Generator(device="cuda").manual_seed(0)
            tdtype = getattr(torch, dtype)
            self.A = torch.randn(n, d, device="cuda", dtype=tdtype, generator=gen)
            self.b = torch.randn(n, 1, device="cuda", dtype=tdtype, generator=gen)
            self.sync = torch.cuda.synchronize
            if impl == "torch":
                self.run = lambda: torch.linalg.lstsq(self.A, self.b).solution
            else:
                self.run = lambda: lstsq(self.A, self.b, seed=0).x
        else:
            cupy = cuda_cupy()
            rng = cupy.random.default_rng(0)
            self.A = rng.standard_normal((n, d), dtype=dtype)
            self.b = rng.standard_normal((n, 1), dtype=dtype)
            self.sync = cupy.cuda.Device().synchronize
            self.run = lambda: lstsq(self.A, self.b, seed=0).x
        self.run()
        self.sync()

    def time_lstsq(self, impl, dtype):
        self.run()
        self.sync()


class DaskTall:
    """A dask array of 2**20 x 256 float64 (2 GiB in 16 row blocks of 2**16), in memory, on
    the threads scheduler: sketchla (the Gram route, and the sketch refined by the Gram matrix
    of ``A P``) beside ``dask.array.linalg.lstsq`` (TSQR). Accuracy:
    ``||A^T r|| / (||A||_F ||r||)`` of each (TSQR keeps a ``Q``
    the size of ``A``: at 2**21 rows the suite ran out of the test machine's 24 GiB). The 16 GiB
    out-of-core run on a LocalCluster is ``scripts/out_of_core_lstsq.py`` (minutes)."""

    params = ["sketchla", "sketchla-sketch", "dask-tsqr"]
    param_names = ["impl"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, impl):
        da = optional("dask.array")
        rows, block = size(2**20, 2**14), size(2**16, 2**11)
        A, b = _conditioned_problem(block, 256, 1e3)
        # the same well-conditioned block repeated, each copy perturbed: no 4 GiB generation
        blocks = [A * (1 + 1e-3 * i) for i in range(rows // block)]
        self.A = da.concatenate([da.from_array(B, chunks=(block, 256)) for B in blocks])
        self.b = da.concatenate([da.from_array(b, chunks=block)] * (rows // block))
        self.solve = {
            "sketchla": lambda: lstsq(self.A, self.b, seed=0).x,
            "sketchla-sketch": lambda: (
                lstsq(self.A, self.b, method="sketch_and_precondition", seed=0).x
            ),
            "dask-tsqr": lambda: _tsqr(da, self.A, self.b),
        }[impl]

    def time_solve(self, impl):
        self.solve()

    def track_optimality(self, impl):
        """``||A^T r|| / (||A||_F ||r||)``: zero at the exact solution, ~1e-16 at best."""
        import dask

        x = self.solve()
        r = self.b - self.A @ x
        gradient, r_norm, a_norm = dask.compute(
            self.A.T @ r, (r * r).sum() ** 0.5, (self.A * self.A).sum() ** 0.5
        )
        return float(np.linalg.norm(gradient) / (a_norm * r_norm))


def _tsqr(da, A, b):
    """dask's lstsq with one BLAS thread, as sketchla's passes run (TSQR on 2**20 x 256 took
    49 s with two BLAS threads per block on two cores)."""
    with one_blas_thread():
        return da.linalg.lstsq(A, b[:, None])[0].compute()[:, 0]
