"""Measure matrix completion's cost: half-step time over the rank and over |Ω|, and full solves.

    python scripts/completion_scaling.py scaling   # writes docs/_static/completion_scaling.png
    python scripts/completion_scaling.py solve     # 10^5 x 10^4, 1 % observed, rank 64

Each figure is the best of three runs; the numbers are printed and written to
``docs/_static/completion_<part>.json``. Run it on a quiet machine: it uses every core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "asv_bench"))

from benchmarks.completion import SOLVERS, problem  # noqa: E402

from sketchla._array.kernels import kernel  # noqa: E402
from sketchla.completion import complete  # noqa: E402
from sketchla.completion.halfstep import solve_targets  # noqa: E402
from sketchla.completion.observations import observations  # noqa: E402
from sketchla.demo import best_time  # noqa: E402
from sketchla.random import Generator  # noqa: E402

STATIC = ROOT / "docs" / "_static"


def half_step_seconds(m, n, fraction, k, impl):
    observed, U, V = problem(m, n, fraction, k)
    obs, _, _ = observations(observed, (m, n))
    Q, R = np.linalg.qr(U)
    start = V @ R.T + 0.1 * np.random.default_rng(1).standard_normal(V.shape)
    options = dict(SOLVERS[impl])
    if options.get("sketch_size", 0) is None:
        options["sketch_size"] = 4 * k
    seconds = best_time(
        lambda: solve_targets(Q, obs.by_col, x0=start, generator=Generator(0), **options), 3
    )
    return obs.size, seconds


def scaling() -> None:
    impls = ["exact", "robust-shared", "robust-sketch"]
    ranks = [8, 16, 32, 64, 128]
    fractions = [0.025, 0.05, 0.1, 0.2, 0.4]
    out = {"over_k": {}, "over_omega": {}}
    for impl in impls:
        out["over_k"][impl] = [half_step_seconds(20_000, 2_000, 0.05, k, impl)[1] for k in ranks]
        print(impl, "over k", ranks, np.round(out["over_k"][impl], 3), flush=True)
        sizes, times = [], []
        for fraction in fractions:
            size, seconds = half_step_seconds(20_000, 2_000, fraction, 32, impl)
            sizes.append(size)
            times.append(seconds)
        out["over_omega"][impl] = times
        out["omega"] = sizes
        print(impl, "over |Omega|", sizes, np.round(times, 3), flush=True)
    out["ranks"] = ranks
    (STATIC / "completion_scaling.json").write_text(json.dumps(out, indent=1))
    _plot(out)


def _plot(out) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = {
        "exact": "exact (altmin)",
        "robust-shared": "robust, shared preconditioner",
        "robust-sketch": "robust, per-column sketch",
    }
    for impl, label in labels.items():
        left.loglog(out["ranks"], out["over_k"][impl], "o-", label=label)
        right.loglog(out["omega"], out["over_omega"][impl], "o-", label=label)
    ranks = np.array(out["ranks"], dtype=float)
    for power, style in ((1, ":"), (2, "--")):
        ref = out["over_k"]["exact"][2] * (ranks / ranks[2]) ** power
        left.loglog(ranks, ref, "k" + style, lw=0.8, label=f"slope {power}")
    omega = np.array(out["omega"], dtype=float)
    right.loglog(omega, out["over_omega"]["exact"][0] * omega / omega[0], "k:", lw=0.8)
    left.set(xlabel="rank k", ylabel="seconds per V half-step", title="20 000 x 2 000, 5 % seen")
    right.set(xlabel="|Ω| (observed entries)", title="20 000 x 2 000, rank 32")
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(STATIC / "completion_scaling.png", dpi=110)


def solve() -> None:
    m, n, k = 100_000, 10_000, 64
    observed, U, V = problem(m, n, 0.01, k)
    rng = np.random.default_rng(2)
    rows, cols = rng.integers(0, m, 100_000), rng.integers(0, n, 100_000)
    # rows (columns) with fewer than k observations are not determined by the data: held-out
    # entries there are left out of the error, and counted
    seen_rows = np.bincount(observed[0], minlength=m) >= k
    seen_cols = np.bincount(observed[1], minlength=n) >= k
    determined = seen_rows[rows] & seen_cols[cols]
    rows, cols = rows[determined], cols[determined]
    truth = kernel("entries_of_product", np)(U, V, rows, cols, xp=np)
    out = {
        "underdetermined_rows": int(m - seen_rows.sum()),
        "underdetermined_cols": int(n - seen_cols.sum()),
        "held_out_entries": int(determined.sum()),
    }
    print(out, flush=True)
    for method in ("robust_altmin", "altmin"):
        # exact: as many iterations as the robust method took (same final error, see the JSON)
        maxiter = out["robust_altmin"]["iterations"] if "robust_altmin" in out else 300
        stamps, errors = [], []

        def record(state, stamps=stamps, errors=errors):
            stamps.append(time.perf_counter())
            fitted = kernel("entries_of_product", np)(
                np.asarray(state.U), np.asarray(state.V), rows, cols, xp=np
            )
            errors.append(float(np.linalg.norm(fitted - truth) / np.linalg.norm(truth)))

        began = time.perf_counter()
        result = complete(
            observed, (m, n), k, method=method, maxiter=maxiter, tol=1e-9, seed=0, callback=record
        )
        total = time.perf_counter() - began
        steps = np.diff([began, *stamps])
        reached = next((i + 1 for i, e in enumerate(errors) if e <= 1e-6), None)
        out[method] = {
            "total_seconds": total,
            "iterations": result.iterations,
            "converged": result.converged,
            "seconds_per_iteration_median": float(np.median(steps[1:])),
            "first_iteration_seconds": float(steps[0]),
            "held_out_errors": errors,
            "iterations_to_1e-6": reached,
            "seconds_to_1e-6": None if reached is None else stamps[reached - 1] - began,
            "inner_iterations": list(result.inner_iterations),
        }
        print(method, {key: value for key, value in out[method].items() if "errors" not in key})
        (STATIC / "completion_solve.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["scaling", "solve"])
    {"scaling": scaling, "solve": solve}[parser.parse_args().part]()
