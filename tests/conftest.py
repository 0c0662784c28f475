"""Fixtures shared by the whole suite: backends, dtypes, Hypothesis profiles, GPU markers."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

from sketchla._array import namespace_for, to_numpy

# The JAX backend is tested on the CPU; without this, each test process that imports a CUDA
# build of JAX would reserve 75% of the GPU's memory and starve Torch and CuPy.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=40, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@dataclass(frozen=True)
class Backend:
    """One array library on one device, as the tests see it."""

    name: str
    xp: ModuleType
    device: Any
    readonly: bool = False

    def asarray(self, value: Any, dtype: Any = None) -> Any:
        """A test input in this backend (read-only for the ``numpy-readonly`` backend)."""
        host = np.array(value, dtype=dtype)
        if self.name.startswith("numpy"):
            host.flags.writeable = not self.readonly
            return host
        return self.xp.asarray(host, device=self.device)

    def dtype(self, name: str) -> Any:
        return getattr(self.xp, name)

    def to_numpy(self, x: Any) -> np.ndarray:
        return to_numpy(x)


def _has_gpu() -> bool:
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return True
    if importlib.util.find_spec("cupy") is not None:
        try:
            import cupy

            return cupy.cuda.runtime.getDeviceCount() > 0
        except Exception:
            return False
    return False


HAS_GPU = _has_gpu()


def _load(name: str) -> Backend:
    if name == "numpy":
        return Backend("numpy", namespace_for("numpy"), "cpu")
    if name == "numpy-readonly":
        return Backend("numpy-readonly", namespace_for("numpy"), "cpu", readonly=True)
    if name == "array_api_strict":
        pytest.importorskip("array_api_strict")
        return Backend(name, namespace_for("array_api_strict"), None)
    if name == "torch":
        pytest.importorskip("torch")
        return Backend(name, namespace_for("torch"), "cpu")
    if name == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        return Backend(name, namespace_for("jax"), jax.devices("cpu")[0])
    if name == "torch-cuda":
        pytest.importorskip("torch")
        return Backend(name, namespace_for("torch"), "cuda")
    if name == "cupy":
        pytest.importorskip("cupy")
        return Backend(name, namespace_for("cupy"), None)
    raise ValueError(name)


BACKENDS = [
    "numpy",
    "numpy-readonly",
    "array_api_strict",
    "torch",
    "jax",
    pytest.param("torch-cuda", marks=pytest.mark.gpu),
    pytest.param("cupy", marks=pytest.mark.gpu),
]


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    """Every installed backend: NumPy (plain and read-only inputs), array-api-strict, Torch CPU,
    JAX CPU, and CuPy / Torch-CUDA when a GPU is present."""
    return _load(request.param)


@pytest.fixture
def xp(backend: Backend) -> ModuleType:
    return backend.xp


@pytest.fixture
def device(backend: Backend) -> Any:
    return backend.device


#: Test folders that make thousands of small LAPACK calls: their modules run with one BLAS thread.
ONE_BLAS_THREAD_FOLDERS = ("lstsq", "lowrank", "sampling", "completion")


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread(request):
    """Single-threaded BLAS for the modules of :data:`ONE_BLAS_THREAD_FOLDERS`. Under
    ``pytest -n 2`` on two cores OpenBLAS's default thread pool oversubscribes the machine, and
    each small call then waits on spinning threads (measured: 1 ms -> 230 ms per
    ``np.linalg.qr`` of a 1500 x 20 matrix; 0.05 s -> 17 s for 20 range finders on a 300 x 200
    matrix). One thread changes no result those tests check: every tolerance allows for
    rounding differences."""
    if Path(str(request.path)).parent.name not in ONE_BLAS_THREAD_FOLDERS:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), _one_numba_thread(request):
        yield


@contextlib.contextmanager
def _one_numba_thread(request):
    """One numba thread for the sampling and completion tests. The sampling tests draw thousands
    of small Philox samples, and alternating minimization calls a parallel kernel over a few
    hundred targets twice per iteration; under ``pytest -n 2`` a parallel kernel that waits on a
    busy core costs milliseconds per call (0.13 ms -> 6 ms per ``sample_rows``; a 200 x 120,
    rank-3 completion 1.1 s -> 0.025 s). Results do not depend on the thread count
    (``tests/_array/test_kernels.py`` and ``tests/completion/test_completion_kernels.py`` check
    the kernels across threads)."""
    if Path(str(request.path)).parent.name not in ("sampling", "completion"):
        yield
        return
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@pytest.fixture
def cuda() -> Any:
    """``torch.device("cuda")``; the test is skipped without Torch or a CUDA device."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs Torch with a CUDA device")
    return torch.device("cuda")


@pytest.fixture
def dask_reads():
    """``counted(A, chunks) -> (lazy, reads)``: NumPy ``A`` as a dask array whose block reads
    are counted, ``reads[i]`` for row block ``i`` (a pass over ``A`` reads each block once;
    dask's call on an empty block, to learn the output, is not counted)."""
    import threading
    from collections import Counter

    da = pytest.importorskip("dask.array")

    def counted(A: np.ndarray, chunks) -> tuple[Any, Counter]:
        reads: Counter = Counter()
        lock = threading.Lock()

        def read(block, block_info=None):
            if block_info is not None and block.size:
                with lock:
                    reads[block_info[0]["chunk-location"][0]] += 1
            return block

        return da.from_array(A, chunks=chunks).map_blocks(read, dtype=A.dtype), reads

    return counted


@pytest.fixture(params=["float32", "float64"])
def dtype(request) -> str:
    """Floating dtype name; map it with ``backend.dtype(dtype)``."""
    return request.param


def pytest_collection_modifyitems(config, items):
    if HAS_GPU:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (CuPy or Torch-CUDA)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
