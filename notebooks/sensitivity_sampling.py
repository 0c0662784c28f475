# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # l_p sensitivity sampling: distortion against sample size
#
# Woodruff & Yasuda (ICML 2023) bound the rows an l_p subspace embedding needs when rows are
# sampled by their sensitivities $s_i$ (total $S = \sum s_i$). The general bound is
# $\tilde O(\varepsilon^{-2} S d)$. For $1 \le p < 2$ it is $\tilde O(\varepsilon^{-2} S^{2/p})$.
# For $p > 2$, mixing leverage scores into the sensitivities improves it, and root-leverage
# sampling ($q_i \propto \tau_i^{p/2}$) needs about $d$ rows for $p < 2$. This notebook
# measures the distortion
# $\max_x |\,\|SAx\|_p^p / \|Ax\|_p^p - 1|$ against the sample size $m$, for every scheme of
# {func}`sketchla.sampling.sample_rows`, on three families whose sensitivities are far from
# uniform. The maximum is taken over 400 random directions and over the direction that
# maximises each of the 40 most sensitive rows' share (the $x$ attaining $s_i$): the
# adversarial directions for a sample that misses such a row. Each point is the median over 5
# seeds of Bernoulli sampling with expected size $m$.

# %%
import matplotlib.pyplot as plt
import numpy as np

from sketchla.sampling import (
    leverage_scores,
    lp_regression,
    sample_rows,
    sensitivities,
)

n, d = 1000, 5
rng = np.random.default_rng(0)


def heavy_tailed():
    """Gaussian rows scaled by |Student-t(1.5)| draws."""
    return rng.standard_normal((n, d)) * np.abs(rng.standard_t(1.5, size=(n, 1)))


def coherent():
    """Small Gaussian noise plus d rows that each carry one coordinate direction."""
    A = 0.05 * rng.standard_normal((n, d))
    A[:d] += 3.0 * np.eye(d)
    return A


def polynomial():
    """A polynomial design: columns 1, t, ..., t^(d-1) of lognormal t, columns normalised."""
    t = rng.lognormal(sigma=0.6, size=n)
    A = np.vander(t, d, increasing=True)
    return A / np.linalg.norm(A, axis=0)


families = {"heavy-tailed": heavy_tailed(), "coherent": coherent(), "polynomial": polynomial()}


# %% [markdown]
# The exact sensitivities (one l_p regression per row) give $S$ and the adversarial
# directions.


# %%
def adversarial_directions(A, p, s, count=40):
    """For the `count` most sensitive rows, the x attaining s_i: argmin ||Ax||_p, a_i^T x = 1."""
    X = []
    for i in np.argsort(s)[::-1][:count]:
        a = A[i]
        x0 = a / (a @ a)
        N = np.linalg.qr(a.reshape(-1, 1), mode="complete")[0][:, 1:]
        z = lp_regression(A @ N, -(A @ x0), p).x
        X.append(x0 + N @ z)
    return np.array(X).T


def distortion(A, rows, X, p):
    full = np.sum(np.abs(A @ X) ** p, axis=0)
    sampled = np.sum(np.abs(rows.apply(A) @ X) ** p, axis=0)
    return float(np.max(np.abs(sampled / full - 1)))


schemes = ["uniform", "root_leverage", "lewis", "sensitivity", "augmented"]
sizes = [10, 20, 40, 80, 160, 320, 640]
target = 0.2
exponents = [1.0, 1.5, 3.0]
results = {}
totals = {}
for name, A in families.items():
    for p in exponents:
        s = sensitivities(A, p, method="exact")
        totals[name, p] = float(s.sum())
        X = np.concatenate([rng.standard_normal((d, 400)), adversarial_directions(A, p, s)], 1)
        tau = leverage_scores(A)
        scores = {
            "uniform": np.ones(n),
            "root_leverage": tau ** (p / 2),
            "lewis": sensitivities(A, p, method="lewis"),
            "sensitivity": s,
            "augmented": s + tau,  # Munteanu & Omlor: sensitivities plus leverage scores
        }
        for scheme in schemes:
            if scheme == "root_leverage" and p > 2:
                continue
            curve = []
            for m in sizes:
                runs = [
                    distortion(A, sample_rows(A, scores[scheme], p=p, m=m, seed=seed), X, p)
                    for seed in range(5)
                ]
                curve.append(np.median(runs))
            results[name, p, scheme] = curve

# %%
fig, axes = plt.subplots(len(exponents), len(families), figsize=(13, 10), sharex=True)
for row, p in enumerate(exponents):
    for col, name in enumerate(families):
        ax = axes[row, col]
        for scheme in schemes:
            if (name, p, scheme) in results:
                ax.loglog(sizes, results[name, p, scheme], "o-", label=scheme)
        ax.axhline(target, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{name}, p = {p:g}, S = {totals[name, p]:.2f}")
        ax.grid(True, which="both", alpha=0.3)
        if row == len(exponents) - 1:
            ax.set_xlabel("expected sample size m")
        if col == 0:
            ax.set_ylabel("distortion (median of 5)")
axes[0, 0].legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# The sample size each scheme needs for distortion 0.2 (the dotted line), beside the
# quantities the bounds are written in: $d$, $S^{2/p}$ ($p < 2$), $S^{2-2/p}$ ($p > 2$) and $S d$.


# %%
def needed(curve):
    """The first size on the grid whose median distortion is at most the target (inf: none)."""
    for m, value in zip(sizes, curve, strict=True):
        if value <= target:
            return m
    return np.inf


print(
    f"{'family':13s} {'p':>4s} {'S':>6s} {'S^(2/p)':>8s} {'S*d':>6s}  "
    + "  ".join(f"{scheme:>13s}" for scheme in schemes)
)
for name in families:
    for p in exponents:
        S = totals[name, p]
        power = S ** (2 / p) if p < 2 else S ** (2 - 2 / p)
        cells = [
            f"{needed(results[name, p, scheme]):>13g}"
            if (name, p, scheme) in results
            else f"{'-':>13s}"
            for scheme in schemes
        ]
        print(f"{name:13s} {p:4.1f} {S:6.2f} {power:8.2f} {S * d:6.1f}  " + "  ".join(cells))

# %% [markdown]
# The three claims, measured on this grid (sizes double, so each figure is within a factor 2):

# %%
low_p = [(name, p) for name in families for p in exponents if p < 2]
print("1. p < 2, rows sensitivity sampling needs, over S^(2/p) and over S*d:")
for name, p in low_p:
    m = needed(results[name, p, "sensitivity"])
    S = totals[name, p]
    print(
        f"   {name:13s} p = {p:g}: m = {m:g}, m / S^(2/p) = {m / S ** (2 / p):.1f}, "
        f"m / (S d) = {m / (S * d):.2f}"
    )
print("2. p < 2, rows root-leverage sampling needs, over d:")
for name, p in low_p:
    m = needed(results[name, p, "root_leverage"])
    print(f"   {name:13s} p = {p:g}: m = {m:g}, m / d = {m / d:.0f}")
print("3. p = 3, rows needed: augmented (sensitivity + leverage) against sensitivity alone:")
for name in families:
    aug, sens = needed(results[name, 3.0, "augmented"]), needed(results[name, 3.0, "sensitivity"])
    verdict = "fewer" if aug < sens else ("as many" if aug == sens else "more")
    print(f"   {name:13s}: augmented {aug:g}, sensitivity {sens:g} ({verdict})")

# %% [markdown]
# **Reading.** The columns *S^(2/p)* ($S^{2-2/p}$ for $p > 2$) and *S·d* are the leading
# factors of the bounds, without their $\varepsilon^{-2}$ and logarithms, so only ratios
# across rows of the table carry meaning. Every importance scheme beats uniform sampling, by a
# factor of 2 (coherent, p = 1) to more than 60 on these families: that is what sensitivity
# sampling is for. At
# one $d$ the families' totals $S$ lie close together (2.7 to 6.7), so these numbers cannot
# separate the $S^{2/p}$ scaling of claim 1 from the $S d$ one. What they show is that the
# rows needed stay within a small constant of $S^{2/p}$ across families and exponents. Claim 2
# (about $d$ rows for root-leverage sampling) holds up to a constant of 16 to 32 at this
# $\varepsilon$. Claim 3 (augmented beats sensitivity for $p > 2$) is not visible here: on
# these families the two need the same sample. The closing note of the issue records these
# numbers as measured.
