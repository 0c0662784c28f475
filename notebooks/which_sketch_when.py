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
# # Which sketch when
#
# Every sketching family in sketchla satisfies $E[S^\top S] = I$, but they differ in two things
# that decide which one to use: how large the sketch size $m$ must be before $S$ embeds a
# $d$-dimensional subspace, and how much it costs to apply. This notebook measures both: the
# distortion of each family on an easy (incoherent) and a hard (coherent) matrix, and the time to
# sketch a tall dense array beside NumPy and SciPy. The user guide page {doc}`/user-guide/sketching`
# gives the theory behind the numbers.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg

from sketchla import sketch_operator
from sketchla.sketch import FAMILIES

kinds = list(FAMILIES)
kinds

# %% [markdown]
# ## 1. Distortion against sketch size
#
# For an $n \times d$ matrix $A$ with orthonormal basis $U$, the sketch $S$ is a subspace
# embedding with distortion
#
# $$\varepsilon = \max\bigl(|\sigma_{\max}(SU) - 1|,\ |1 - \sigma_{\min}(SU)|\bigr).$$
#
# Two matrices with $n = 4096$, $d = 20$:
#
# * **incoherent**: a Gaussian $A$, every row carries about the same share $d/n$ of the column
#   space;
# * **coherent**: $A$'s first 20 rows are $100 \cdot I_{20}$, over 4076 rows of small Gaussian
#   noise. Those 20 rows carry nearly all the leverage.
#
# For each family and $m \in \{40, 80, 160, 320, 640\}$ we take the median distortion over five
# seeds.

# %%
n, d = 4096, 20
sizes = [40, 80, 160, 320, 640]
seeds = range(5)
rng = np.random.default_rng(0)
heavy = 100 * np.eye(d)
noise = 0.01 * rng.standard_normal((n - d, d))
matrices = {
    "incoherent (Gaussian A)": rng.standard_normal((n, d)),
    "coherent (20 heavy rows)": np.vstack([heavy, noise]),
}


def distortion(S, U):
    sigma = np.linalg.svd(S @ U, compute_uv=False)
    return max(abs(sigma[0] - 1), abs(1 - sigma[-1]))


results = {}
for name, A in matrices.items():
    U, _ = np.linalg.qr(A)
    leverage = np.sum(U**2, axis=1)
    mu = n / d * leverage.max()
    print(f"{name:26s} coherence mu = {mu:5.1f}  (between 1 and n/d = {n / d:.1f})")
    results[name] = {
        kind: [
            np.median([distortion(sketch_operator(kind, m, n, seed=s), U) for s in seeds])
            for m in sizes
        ]
        for kind in kinds
    }

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
styles = {
    "gaussian": "k-",
    "rademacher": "k--",
    "uniform": "k:",
    "srht": "C0-",
    "srft": "C0--",
    "countsketch": "C1-",
    "saso": "C2-",
    "very_sparse": "C3-",
    "uniform_rows": "C4-",
}
for ax, (name, curves) in zip(axes, results.items(), strict=True):
    for kind, values in curves.items():
        ax.loglog(sizes, values, styles[kind], marker="o", ms=3, label=kind)
    ax.loglog(sizes, [np.sqrt(d / m) for m in sizes], color="0.7", lw=4, alpha=0.5, zorder=0)
    ax.set_title(name)
    ax.set_xlabel("sketch size m")
    ax.set_xticks(sizes, [str(m) for m in sizes])
    ax.minorticks_off()
axes[0].set_ylabel("median distortion")
axes[1].legend(fontsize=8, ncol=2)
fig.suptitle(r"Distortion of $S U$, $U$ an orthonormal 4096 x 20 basis (grey: $\sqrt{d/m}$)")
fig.tight_layout()

# %% [markdown]
# On the incoherent matrix every family behaves like a Gaussian sketch: the distortion falls as
# $\sqrt{d/m}$ (the grey line), so halving it costs four times the rows.
#
# The coherent matrix separates them:
#
# * **Gaussian, Rademacher, uniform and SASO** do not notice: a Gaussian sketch is rotation
#   invariant, the other dense sketches mix every row into every row of $SA$ just as well, and
#   SASO's 8 nonzeros per column spread each heavy row over 8 rows of $SA$.
# * **SRHT and SRFT** pay a little at the smallest $m$, where $m$ is below the
#   $(d + \log n) \log d$ their theory asks for, and then follow the dense families: the transform
#   spreads the heavy rows before the rows are sampled.
# * **CountSketch** stays near distortion 1 until $m$ is large enough that the 20 heavy rows land
#   in 20 distinct rows of $S$: two heavy rows hashed together make $SU$ rank-deficient. By the
#   birthday problem that takes $m$ of order $d^2 = 400$, the $d^2/\varepsilon^2$ of its theory;
#   once the heavy rows are apart, $SU$ is almost exactly orthonormal.
# * **Very sparse** projections ($s = \sqrt{n} = 64$) leave a column of $S$ empty with
#   probability $(1 - 1/s)^m$; when that column belongs to a heavy row, its direction is lost.
# * **Uniform row sampling** is no embedding at all: it either misses a heavy row
#   ($\sigma_{\min} \approx 0$) or takes it and scales it by $\sqrt{n/m}$
#   ($\sigma_{\max} \gg 1$).

# %%
coherent = results["coherent (20 heavy rows)"]
for kind in ("gaussian", "rademacher", "uniform", "saso", "srht", "srft"):
    assert coherent[kind][-1] < 0.3, kind
assert coherent["uniform_rows"][-1] > 1
assert min(coherent["countsketch"][:3]) > 0.9
assert min(coherent["very_sparse"][:3]) > 0.9

# %% [markdown]
# ## 2. Time to apply
#
# The time to compute $S A$ for a $2^{15} \times 64$ float64 array $A$ with $m = 256$, best of
# three runs, beside the two peers: NumPy's Gaussian sketch `rng.standard_normal((m, n)) @ A` and
# SciPy's CountSketch `scipy.linalg.clarkson_woodruff_transform`. Each sketchla time includes
# drawing the operator's random numbers, as the peers' do. Timings depend on the machine and on
# what else runs on it; read them as orders of magnitude.

# %%
n, d, m = 2**15, 64, 256
A = np.random.default_rng(1).standard_normal((n, d))
peer_rng = np.random.default_rng(2)


def best_of_3(f):
    f()  # warm up (numba compilation, caches)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


operators = {kind: sketch_operator(kind, m, n, seed=0) for kind in kinds}
timings = {f"sketchla {kind}": best_of_3(lambda S=S: S @ A) for kind, S in operators.items()}
timings["NumPy  standard_normal((m, n)) @ A"] = best_of_3(
    lambda: peer_rng.standard_normal((m, n)) @ A
)
timings["SciPy  clarkson_woodruff_transform"] = best_of_3(
    lambda: scipy.linalg.clarkson_woodruff_transform(A, m, rng=0)
)

print(f"S @ A, A of shape {A.shape}, m = {m}\n")
print(f"| {'method':36s} | {'time (ms)':>9s} |")
print(f"| {'-' * 36} | {'-' * 9}:|")
for name, seconds in timings.items():
    print(f"| {name:36s} | {seconds * 1e3:9.2f} |")

# %% [markdown]
# Put the two sections together: a dense Gaussian-type sketch needs the fewest rows but costs a
# full matrix product; the SRHT and SRFT keep near-Gaussian quality for less; SASO keeps it on
# coherent input too at the price of one pass over $A$ per nonzero; CountSketch is the
# cheapest pass of all but needs $m$ of order $d^2$ when a few rows dominate; and uniform
# sampling is safe only when no row does.
