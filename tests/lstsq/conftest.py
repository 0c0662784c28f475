"""One BLAS thread for the least-squares tests.

These tests make thousands of small LAPACK calls (QR and SVD of a few-thousand-by-twenty
matrices). Under ``pytest -n 2`` on two cores, OpenBLAS's default thread pool oversubscribes
the machine, and each small call then waits on its spinning threads: measured 1 ms -> 230 ms
per ``np.linalg.qr`` of a 1500 x 20 matrix on a loaded two-core machine. Single-threaded
BLAS changes no result the tests check (every tolerance allows for rounding differences).
"""

from __future__ import annotations

import pytest

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's usual installs
    threadpool_limits = None


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
