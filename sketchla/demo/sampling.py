"""Demo section: l_1 regression on a Lewis-weight sample against HiGHS on all rows, and
sketched against exact leverage scores, timed live."""

from __future__ import annotations

import numpy as np

from ..sampling import leverage_scores, lp_regression
from . import DemoContext, SectionResult, best_time

TITLE = "l_p sensitivity sampling: sampled l_1 regression and sketched leverage scores"


def run(context: DemoContext) -> SectionResult:
    n, d = (2**14, 16) if context.quick else (2**17, 64)
    repeats = 1 if context.quick else 2
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d)) * rng.standard_t(2, size=(n, 1))  # heavy-tailed rows
    b = A @ rng.standard_normal(d) + rng.standard_t(1.5, size=n)
    full = lp_regression(A, b, 1)
    sampled = lp_regression(A, b, 1, method="sample", seed=0)
    t_full = best_time(lambda: lp_regression(A, b, 1), repeats)
    t_sampled = best_time(lambda: lp_regression(A, b, 1, method="sample", seed=0), repeats)
    exact = leverage_scores(A)
    sketched = leverage_scores(A, method="sketch", seed=0)
    t_exact = best_time(lambda: leverage_scores(A), repeats)
    t_sketch = best_time(lambda: leverage_scores(A, method="sketch", seed=0), repeats)
    rows = [
        {
            "task": "l_1 regression, HiGHS on all rows",
            "time (ms)": f"{1e3 * t_full:.0f}",
            "speed-up": "1.00",
            "accuracy": "objective / optimum = 1",
        },
        {
            "task": f"l_1 regression on {sampled.sample_size} Lewis-sampled rows",
            "time (ms)": f"{1e3 * t_sampled:.0f}",
            "speed-up": f"{t_full / t_sampled:.2f}",
            "accuracy": f"objective / optimum = {sampled.objective / full.objective:.4f}",
        },
        {
            "task": "leverage scores, exact (QR)",
            "time (ms)": f"{1e3 * t_exact:.0f}",
            "speed-up": "1.00",
            "accuracy": "exact",
        },
        {
            "task": "leverage scores, sketched (eps = 0.5)",
            "time (ms)": f"{1e3 * t_sketch:.0f}",
            "speed-up": f"{t_exact / t_sketch:.2f}",
            "accuracy": f"max relative error {float(np.max(np.abs(sketched / exact - 1))):.3f}",
        },
    ]
    notes = [
        f"A: {n} x {d}, Gaussian rows scaled by Student-t(2) draws; b = A x + Student-t(1.5) "
        "noise. The full l_1 problem is HiGHS on the dual LP; the sample keeps rows of [A, b] "
        "by their l_1 Lewis weights.",
    ]
    return SectionResult(TITLE, rows, [], notes)
