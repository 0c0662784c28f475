"""Matrix sensing: one asymmetric gradient step at ``n = 1000``, ``k = 20``, with structured
measurement operators against the dense Gaussian one.

A step is ``z = A(F G^T) - y``, then ``A*(z) G`` and ``A*(z)^T F`` (exactly what
:func:`sketchla.sensing.asymmetric_gd` does per iteration). The dense Gaussian operator costs
``O(m n^2)`` per product and stores ``m n^2`` numbers: at ``m = 256`` that is 2 GB already, and at
a number of measurements that can recover a rank-5 matrix (``m = 20 000`` > the 9 975 degrees of
freedom) it would be 160 GB, so that case is skipped on purpose (``NotImplementedError``). The
SRFT operator (``O(n^2 log n)``, nothing stored) and rank-one measurements (``O(m n k)``) are timed
at both sizes.
"""

from __future__ import annotations

import numpy as np

from sketchla.sensing import measurement_operator

from ._peers import size

N, K = size(1000, 200), 20
DENSE_LIMIT = size(10**9, 10**7)  # entries a dense Gaussian operator may have here (8 GB)


def gradient_step(A, y, F, G, step):
    residual = A.apply_factored(F, G) - y
    SG, StF = A._adjoint_products(residual, G, F)
    return F - step * SG, G - step * StF


class Step:
    params = (["gaussian", "srft", "rank_one"], [256, 20_000])
    param_names = ["operator", "m"]
    timeout = 600

    def setup(self, operator, m):
        if operator == "gaussian" and m * N * N > DENSE_LIMIT:
            raise NotImplementedError("a dense Gaussian operator this size does not fit in memory")
        rng = np.random.default_rng(0)
        self.A = measurement_operator(operator, (N, N), m, seed=0)
        self.F = rng.standard_normal((N, K)) / np.sqrt(N)
        self.G = rng.standard_normal((N, K)) / np.sqrt(N)
        truth = rng.standard_normal((N, 5)) @ rng.standard_normal((5, N)) / N
        self.y = self.A(truth)  # also builds (and caches) the operator's arrays
        gradient_step(self.A, self.y, self.F, self.G, 0.1)

    def time_step(self, operator, m):
        gradient_step(self.A, self.y, self.F, self.G, 0.1)
