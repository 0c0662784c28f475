"""Sketching operators beside their peers, on the issue's problem sizes.

Dense tall input: float64 A of 2**18 x 256, m = 1024 (one pass over A, ``A.sum(0)``, is the
memory-bandwidth yardstick). Peers: ``scipy.linalg.clarkson_woodruff_transform`` (CountSketch),
NumPy's generate-then-multiply Gaussian sketch, scikit-learn's ``SparseRandomProjection``.
Every suite also tracks the sketch's distortion on a 64-dimensional subspace, so a speed-up is
never bought with accuracy.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from sketchla import sketch_operator

from ._peers import cuda_cupy, cuda_torch, optional, size

N, D, M = size(2**18, 2**14), 256, 1024


def _tall():
    return np.random.default_rng(0).standard_normal((N, D))


def _distortion(sketched_basis: np.ndarray) -> float:
    sigma = np.linalg.svd(sketched_basis, compute_uv=False)
    return float(max(sigma[0] - 1, 1 - sigma[-1]))


class DenseTall:
    """S @ A for A of 2**18 x 256 float64, m = 1024: every family and its peers."""

    params = [
        "sketchla-countsketch",
        "scipy-cwt",
        "sketchla-saso",
        "sketchla-srht",
        "sketchla-srft",
        "sketchla-gaussian",
        "numpy-gaussian",
        "sketchla-rademacher",
        "sketchla-uniform_rows",
        "one-pass",
    ]
    param_names = ["impl"]
    timeout = 300
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, impl):
        self.A = _tall()
        if impl.startswith("sketchla-"):
            S = sketch_operator(impl.removeprefix("sketchla-"), M, N, seed=0)
            self.run = lambda: S @ self.A
        elif impl == "scipy-cwt":
            self.run = lambda: scipy.linalg.clarkson_woodruff_transform(self.A, M, rng=0)
        elif impl == "numpy-gaussian":
            rng = np.random.default_rng(0)
            self.run = lambda: (rng.standard_normal((M, N)) / np.sqrt(M)) @ self.A
        elif impl == "one-pass":
            self.run = lambda: self.A.sum(0)
        self.run()  # warm up: numba compilation, page faults

    def time_sketch(self, impl):
        self.run()


class Distortion:
    """Distortion of each family on a 64-dimensional subspace of R^(2**18) (m = 1024)."""

    params = ["countsketch", "saso", "srht", "srft", "gaussian", "rademacher", "very_sparse"]
    param_names = ["kind"]
    timeout = 300

    def setup(self, kind):
        rng = np.random.default_rng(1)
        self.U = np.linalg.qr(rng.standard_normal((N, 64)))[0]

    def track_distortion(self, kind):
        return _distortion(sketch_operator(kind, M, N, seed=0) @ self.U)

    track_distortion.unit = "distortion"


class VerySparseWide:
    """A @ S.T for A of 256 x 2**18 (the orientation FastRP and scikit-learn use), m = 1024."""

    params = ["sketchla", "sklearn"]
    param_names = ["impl"]
    timeout = 300

    def setup(self, impl):
        self.X = np.random.default_rng(0).standard_normal((D, N))
        if impl == "sketchla":
            self.run = lambda: sketch_operator("very_sparse", M, N, seed=0).apply(self.X, axis=1)
        else:
            projection = optional("sklearn.random_projection").SparseRandomProjection
            self.run = lambda: projection(M, random_state=0).fit_transform(self.X)
        self.run()

    def time_project(self, impl):
        self.run()


class SparseInput:
    """S @ A for a scipy CSR A of 10**6 x 10**4, density 10**-3 (10**7 nonzeros), m = 1024."""

    params = ["sketchla-countsketch", "sketchla-saso", "scipy-cwt"]
    param_names = ["impl"]
    timeout = 300
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, impl):
        self.A = sp.random_array((size(10**6, 10**5), 10**4), density=1e-3, format="csr", rng=0)
        if impl.startswith("sketchla-"):
            S = sketch_operator(impl.removeprefix("sketchla-"), M, self.A.shape[0], seed=0)
            self.run = lambda: S @ self.A
        else:
            self.run = lambda: scipy.linalg.clarkson_woodruff_transform(self.A, M, rng=0)
        self.run()

    def time_sketch(self, impl):
        self.run()


class GPUCountSketch:
    """CountSketch of a 2**21 x 256 float32 array on the GPU, beside one pass over it."""

    params = ["sketchla-torch", "torch-one-pass", "sketchla-cupy", "cupy-one-pass"]
    param_names = ["impl"]
    timeout = 300

    def setup(self, impl):
        if "torch" in impl:
            torch = cuda_torch()
            self.A = torch.randn(2**21, D, device="cuda", dtype=torch.float32)
            self.sync = torch.cuda.synchronize
        else:
            cupy = cuda_cupy()
            self.A = cupy.random.default_rng(0).standard_normal((2**21, D), dtype=cupy.float32)
            self.sync = cupy.cuda.Device().synchronize
        S = sketch_operator("countsketch", M, 2**21, seed=0)
        self.run = (lambda: S @ self.A) if impl.startswith("sketchla") else (lambda: self.A.sum(0))
        self.run()
        self.sync()

    def time_sketch(self, impl):
        self.run()
        self.sync()
