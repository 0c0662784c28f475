# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Low-rank gradient projection without an SVD
#
# GaLore (Zhao et al., ICML 2024) trains with Adam's moments kept in a rank-`r` projection of
# each weight matrix's gradient, the projection taken from the gradient's top singular vectors
# every few hundred steps. Modoranu et al. (arXiv:2505.17967, 2025) replace the SVD by a choice
# of `r` columns of a *fixed* orthonormal basis, the DCT-II: the columns whose products with
# the gradient have the largest L1 norms. Choosing them costs one fast DCT of the gradient.
#
# This notebook asks two questions on scikit-learn's digits with {mod}`sketchla.apps`:
#
# 1. How much of a real gradient's energy does the DCT choice keep, compared with the best
#    rank-`r` subspace (the SVD) and with `r` DCT columns drawn at random?
# 2. Does {class}`~sketchla.apps.LowRankAdam` train a small MLP as well as AdamW, with either
#    projector?
#
# The user guide page {doc}`/user-guide/projection` explains the method.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sketchla.apps import DCTProjector, LowRankAdam, SVDProjector, dct_basis

THREADS = torch.get_num_threads()
torch.set_num_threads(1)  # small matrices: one thread is the fastest

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train = torch.tensor(scaler.transform(X_train), dtype=torch.float32)
X_test = torch.tensor(scaler.transform(X_test), dtype=torch.float32)
y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)


def mlp(hidden, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )


def loss_of(model, rows=slice(None)):
    return torch.nn.functional.cross_entropy(model(X_train[rows]), y_train[rows])


# %% [markdown]
# ## Captured energy on real gradients
#
# A 64-128-10 MLP, 10 full-batch AdamW steps from seed 0, then the full-batch gradient of the
# two weight matrices: `128 × 64` (projected on its 64 input pixels) and `10 × 128` (projected
# on its 10 classes). For each rank we measure the fraction `‖project(G)‖_F² / ‖G‖_F²` that
# the subspace keeps.

# %%
model = mlp(128)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
for _ in range(10):
    optimizer.zero_grad()
    loss_of(model).backward()
    optimizer.step()
model.zero_grad()
loss_of(model).backward()
gradients = {
    "first layer, 128 × 64": model[0].weight.grad.clone(),
    "second layer, 10 × 128": model[2].weight.grad.clone(),
}


def captured(G, low):
    return float((low**2).sum() / (G**2).sum())


def random_columns(G, rank, draws=200, seed=0):
    n = min(G.shape)
    Q = dct_basis(n)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        P = Q[:, rng.choice(n, rank, replace=False)]
        values.append(captured(G, G @ P if G.shape[0] >= G.shape[1] else P.T @ G))
    return np.array(values)


energy = {}
for name, G in gradients.items():
    ranks = [1, 2, 4, 8, 16, 24, 32, 48] if G.shape[1] == 64 else list(range(1, 10))
    rows = []
    for r in ranks:
        dct = captured(G, DCTProjector(r).update(G).project(G))
        svd = captured(G, SVDProjector(r).update(G).project(G))
        rand = random_columns(G, r)
        rows.append((r, dct, svd, rand.mean(), np.quantile(rand, 0.05), np.quantile(rand, 0.95)))
    energy[name] = np.array(rows)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for ax, (name, table) in zip(axes, energy.items(), strict=True):
    r = table[:, 0]
    ax.plot(r, table[:, 2], "o-", label="SVD (best rank r)")
    ax.plot(r, table[:, 1], "s-", label="DCT, top-r L1 scores")
    ax.plot(r, table[:, 3], "^--", label="r random DCT columns (mean)")
    ax.fill_between(r, table[:, 4], table[:, 5], alpha=0.2, color="C2")
    ax.set_xlabel("rank r")
    ax.set_ylabel("fraction of ‖G‖²_F kept")
    ax.set_title(name)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
axes[0].legend(loc="lower right")
fig.tight_layout()
plt.show()

for name, table in energy.items():
    print(name)
    print("   r   DCT    SVD   DCT/SVD  random")
    for r, dct, svd, rand, _, _ in table:
        print(f"{int(r):4d}  {dct:.3f}  {svd:.3f}  {dct / svd:6.3f}   {rand:.3f}")

# %% [markdown]
# The SVD is optimal by construction (Eckart-Young). On the first layer the DCT choice keeps
# roughly three quarters of the SVD's energy at `r = 16` and more than nine tenths at
# `r = 32`, far above random columns: the gradient's rows are combinations of input images,
# and the DCT of the flattened pixels concentrates them on few frequencies. On the second layer
# the DCT runs over the 10 classes, which have no order; there it is a fixed orthonormal basis
# like any other: the L1 choice still picks good columns of it (well above the random mean), but
# the gap to the SVD stays wide until `r` nears 10.
#
# ## Training: AdamW against LowRankAdam
#
# A 64-256-10 MLP, batches of 64, the same `lr = 3e-3` for all; `LowRankAdam` projects the
# `256 × 64` first layer at rank 32 (`update_gap = 50`, `scale = 1`) and takes plain AdamW
# steps on the second layer (`10 × 256`: `min(shape) = 10 ≤ 32`) and the biases. Three
# seeds each.

# %%
EPOCHS, SEEDS = 30, (0, 1, 2)
makers = {
    "AdamW": lambda params: torch.optim.AdamW(params, lr=3e-3),
    "LowRankAdam, DCT": lambda params: LowRankAdam(
        params, lr=3e-3, rank=32, update_gap=50, scale=1.0, projector="dct"
    ),
    "LowRankAdam, SVD": lambda params: LowRankAdam(
        params, lr=3e-3, rank=32, update_gap=50, scale=1.0, projector="svd"
    ),
}
curves = {name: [] for name in makers}
seconds = {name: 0.0 for name in makers}
for name, make in makers.items():
    for seed in SEEDS:
        model = mlp(256, seed)
        optimizer = make(model.parameters())
        generator = torch.Generator().manual_seed(100 + seed)
        history = []
        start = time.perf_counter()
        for _ in range(EPOCHS):
            order = torch.randperm(len(X_train), generator=generator)
            for first in range(0, len(order), 64):
                optimizer.zero_grad()
                loss_of(model, order[first : first + 64]).backward()
                optimizer.step()
            with torch.no_grad():
                train_loss = float(loss_of(model))
                accuracy = float((model(X_test).argmax(1) == y_test).float().mean())
            history.append((train_loss, accuracy))
        seconds[name] += time.perf_counter() - start
        curves[name].append(history)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
epochs = np.arange(1, EPOCHS + 1)
for name, runs in curves.items():
    runs = np.array(runs)  # seeds x epochs x (loss, accuracy)
    left.semilogy(epochs, runs[:, :, 0].mean(0), label=name)
    right.plot(epochs, runs[:, :, 1].mean(0), label=name)
left.set_xlabel("epoch")
left.set_ylabel("training loss (mean of 3 seeds)")
right.set_xlabel("epoch")
right.set_ylabel("test accuracy (mean of 3 seeds)")
right.set_ylim(0.9, 1.0)
for ax in (left, right):
    ax.grid(alpha=0.3)
right.legend(loc="lower right")
fig.tight_layout()
plt.show()

for name, runs in curves.items():
    final = [history[-1][1] for history in runs]
    print(f"{name:18s} final test accuracy {np.round(final, 4)}  ({seconds[name]:.1f} s)")

# %% [markdown]
# ## The cost of choosing the subspace
#
# One projector update on a square float32 gradient: the DCT projector against GaLore's full
# `torch.linalg.svd` (one run each, on this notebook's machine; the asv suite
# `asv_bench/benchmarks/projection.py` times `4096 × 4096`).

# %%
torch.set_num_threads(THREADS)  # large matrices: every thread
for n in (512, 1024):
    G = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
    DCTProjector(64).update(G)  # warm-up
    start = time.perf_counter()
    DCTProjector(64).update(G)
    dct_time = time.perf_counter() - start
    start = time.perf_counter()
    torch.linalg.svd(G, full_matrices=False)
    svd_time = time.perf_counter() - start
    print(f"n = {n}: DCT update {1e3 * dct_time:.1f} ms, SVD {1e3 * svd_time:.1f} ms "
          f"({svd_time / dct_time:.0f}x)")  # fmt: skip
