"""Reproduce the three regimes of Xiong, Ding & Du (ICLR 2024) at the paper's size and fit them.

    python scripts/sensing_regimes.py     # writes docs/_static/sensing_regimes.png and .json

A 50 x 50 matrix of rank 3 (singular values 1, 0.75, 0.5), 1 500 Gaussian measurements:
(a) symmetric descent, k = r against k = 10 > r, on log-log axes with the T^-2 reference;
(b) asymmetric, k = 10, for three initialisation scales alpha;
(c) the same with the one-step rebalancing. Fitted exponents and rates go to the JSON file.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sketchla.sensing import (
    fit_linear_rate,
    fit_power_law,
    plot_error_histories,
    run_sensing_experiment,
)

STATIC = Path(__file__).resolve().parents[1] / "docs" / "_static"
N, R, K, M = 50, 3, 10, 1500
ALPHAS = (0.1, 0.05, 0.025)


def main() -> None:
    common = dict(measurements=M, seed=0)
    exact = run_sensing_experiment(
        N, R, R, parameterization="symmetric", init_scale=0.1, iterations=8000, **common
    )
    over = run_sensing_experiment(
        N, R, K, parameterization="symmetric", init_scale=0.1, iterations=8000, **common
    )
    plain = [
        run_sensing_experiment(N, R, K, init_scale=a, iterations=8000, **common) for a in ALPHAS
    ]
    rebalanced = [
        run_sensing_experiment(N, R, K, init_scale=a, iterations=2000, one_step=True, **common)
        for a in ALPHAS
    ]

    plain_rates = [fit_linear_rate(e.errors) for e in plain]
    one_step_rates = [fit_linear_rate(e.errors, start=e.result.one_step_at) for e in rebalanced]
    figures = {
        "problem": {"n": N, "r": R, "k": K, "m": M, "operator": "gaussian", "step": [0.1, 0.2]},
        "symmetric_exact_rate": fit_linear_rate(exact.errors),
        "symmetric_over_exponent": fit_power_law(over.errors, start=4000),
        "alphas": list(ALPHAS),
        "asymmetric_rates": plain_rates,
        "asymmetric_alpha_exponent": float(np.polyfit(np.log(ALPHAS), np.log(plain_rates), 1)[0]),
        "one_step_rates": one_step_rates,
        "one_step_at": [e.result.one_step_at for e in rebalanced],
    }
    print(json.dumps(figures, indent=2))
    (STATIC / "sensing_regimes.json").write_text(json.dumps(figures, indent=2) + "\n")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    plot_error_histories([exact, over], ax=axes[0], loglog=True, labels=["k = r = 3", "k = 10"])
    T = np.arange(1000, 8001)
    anchor = over.errors[999] * 1000.0**2
    axes[0].plot(T, anchor / T**2, "k--", linewidth=1, label=r"$\propto T^{-2}$")
    axes[0].legend(fontsize="small")
    axes[0].set_ylim(1e-30, 1e2)
    axes[0].set_title(f"(a) symmetric: k > r fits $T^{{{figures['symmetric_over_exponent']:.2f}}}$")
    labels = [f"α = {a:g}: rate {rho:.2e}" for a, rho in zip(ALPHAS, plain_rates, strict=True)]
    plot_error_histories(plain, ax=axes[1], labels=labels)
    axes[1].set_title(
        f"(b) asymmetric, k = 10: rate ∝ α^{figures['asymmetric_alpha_exponent']:.2f}"
    )
    labels = [f"α = {a:g}: rate {rho:.3f}" for a, rho in zip(ALPHAS, one_step_rates, strict=True)]
    plot_error_histories(rebalanced, ax=axes[2], labels=labels)
    axes[2].set_title("(c) asymmetric + one-step rebalancing")
    for ax in axes[1:]:
        ax.set_ylim(1e-30, 1e2)
    fig.tight_layout()
    fig.savefig(STATIC / "sensing_regimes.png", dpi=110)


if __name__ == "__main__":
    main()
