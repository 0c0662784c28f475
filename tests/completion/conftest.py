"""One BLAS thread and one numba thread for the completion tests.

Alternating minimization makes hundreds of tiny calls per completion: a ``k``-column CholeskyQR
of the fixed factor, and a parallel numba kernel over a few hundred targets of a few dozen
observations each. Under ``pytest -n 2`` on two cores, thread pools that wait on a busy core cost
milliseconds per call (measured on a 200 x 120, rank-3 completion: 1.1 s with the default pools,
0.025 s with one thread each). Results do not depend on the thread count: each numba kernel
solves its targets independently, and ``test_completion_kernels.py`` checks that two threads
give the same bits as one.
"""

from __future__ import annotations

import numba
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _one_thread_each():
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(previous)
