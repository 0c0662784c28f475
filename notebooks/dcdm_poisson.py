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
# # Deep conjugate directions on the Poisson problem
#
# {func}`sketchla.dcdm_solve` (Kaneda et al., ICML 2023) replaces CG's search direction by
# the output of a small convolutional network applied to the normalised residual, made
# A-orthogonal to the directions of the last two steps. sketchla's default adds the residual
# as a second direction of each step (the safeguard; section 1 also shows the paper's
# iteration without it). This notebook runs the two packaged 3-D networks, trained by
# `scripts/train_dcdm.py` on grids of at most 32³: the default `"poisson3d"` (a multilevel
# network) and `"poisson3d-paper"` (the paper's architecture), against CG and against CG
# preconditioned by one smoothed-aggregation V-cycle (pyamg), on the 64³ Dirichlet Poisson
# matrix, and measures:
#
# 1. residual against iteration on three families of right-hand sides: the training
#    distribution (eigenmodes weighted toward the low end), smooth random fields and point
#    sources;
# 2. how the iteration counts grow with the grid (32³ to 128³);
# 3. a system the network never saw: the pressure matrix of a box with solid obstacles;
# 4. what the network does: slices of a residual, the network's direction and the exact
#    `A⁻¹r`.
#
# The user guide page {doc}`/user-guide/solvers` describes the method and the training.

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pyamg
import scipy.fft
import scipy.ndimage
import torch

from sketchla import ConvergenceWarning
from sketchla.solvers import PoissonGrid, cg, dcdm_solve
from sketchla.solvers.dcdm import load_model

torch.set_num_threads(2)
model = load_model("poisson3d")
paper_model = load_model("poisson3d-paper")
print(model.training_info)
TOL = 1e-4


# %% [markdown]
# The three families. "Training-like" draws the eigenmodes of the Dirichlet box (the vectors
# the paper's Ritz vectors approximate) with Gaussian coefficients, nine times larger on the
# lowest 55 % of the spectrum, as the training recipe does.


# %%
def training_like(n, rng):
    k = np.arange(1, n + 1)
    axis = 2 - 2 * np.cos(np.pi * k / (n + 1))
    eigenvalues = axis[:, None, None] + axis[None, :, None] + axis[None, None, :]
    c = rng.standard_normal((n, n, n))
    c[eigenvalues <= np.quantile(eigenvalues, 0.55)] *= 9
    return scipy.fft.idstn(c, type=1, norm="ortho").ravel()


def smooth_field(n, rng):
    noise = rng.standard_normal((n, n, n))
    return scipy.ndimage.gaussian_filter(noise, 4.0, mode="constant").ravel()


def point_sources(n, rng, count=3):
    b = np.zeros((n, n, n))
    cells = rng.integers(n // 8, n - n // 8, size=(count, 3))
    b[tuple(cells.T)] = rng.choice([-1.0, 1.0], size=count)
    return b.ravel()


FAMILIES = {
    "training-like": training_like,
    "smooth field": smooth_field,
    "point sources": point_sources,
}


def amg_pcg(A, b):
    """CG preconditioned by one smoothed-aggregation V-cycle (pyamg), setup included."""
    M = pyamg.smoothed_aggregation_solver(A.to_sparse()).aspreconditioner(cycle="V")
    return cg(A, b, M=M, tol=TOL)


def solve_all(A, b):
    out = {}
    for name, solve in {
        "CG": lambda: cg(A, b, tol=TOL, maxiter=10_000),
        "PCG (AMG V-cycle)": lambda: amg_pcg(A, b),
        "DCDM": lambda: dcdm_solve(A, b, model=model, tol=TOL, maxiter=200),
        "DCDM, no safeguard": lambda: dcdm_solve(
            A, b, model=model, tol=TOL, maxiter=100, safeguard=False
        ),
        "DCDM, paper's network": lambda: dcdm_solve(A, b, model=paper_model, tol=TOL),
    }.items():
        began = time.perf_counter()
        with warnings.catch_warnings():  # the paper's iteration may stop at maxiter
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = solve()
        out[name] = (result, time.perf_counter() - began)
    return out


# %% [markdown]
# ## 1. Residual against iteration at 64³

# %%
n = 64
A = PoissonGrid((n, n, n))
rng = np.random.default_rng(0)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
rows = []
for ax, (family, make) in zip(axes, FAMILIES.items(), strict=True):
    b = make(n, rng)
    for name, (result, seconds) in solve_all(A, b).items():
        norms = result.residual_norms / result.residual_norms[0]
        ax.semilogy(norms, label=f"{name} ({result.iterations})")
        rows.append((family, name, result.iterations, seconds))
    ax.axhline(TOL, color="grey", lw=0.5)
    ax.set_title(family)
    ax.set_xlabel("iteration")
    ax.legend()
axes[0].set_ylabel("relative residual")
plt.tight_layout()
plt.show()
print(f"{'family':15s} {'solver':22s} {'iterations':>10s} {'seconds':>8s}")
for family, name, iterations, seconds in rows:
    print(f"{family:15s} {name:22s} {iterations:10d} {seconds:8.2f}")

# %% [markdown]
# ## 2. Growth with the grid
#
# CG's iterations roughly double per doubling of the grid (its condition number grows as
# `h⁻²`). The networks were trained on grids of at most 32³; 128³ has two more levels than
# any the multilevel network saw.

# %%
rng = np.random.default_rng(1)
print(f"{'grid':>6s} {'family':15s} {'CG':>5s} {'DCDM':>5s} {'paper net':>9s}")
growth = {}
for n in (32, 64, 128):
    A = PoissonGrid((n, n, n))
    for family, make in FAMILIES.items():
        b = make(n, rng)
        counts = (
            cg(A, b, tol=TOL).iterations,
            dcdm_solve(A, b, model=model, tol=TOL).iterations,
            dcdm_solve(A, b, model=paper_model, tol=TOL).iterations,
        )
        growth[n, family] = counts
        print(f"{n:>5d}³ {family:15s} {counts[0]:5d} {counts[1]:5d} {counts[2]:9d}")
for family in FAMILIES:
    per_doubling = [growth[2 * n, family][1] / growth[n, family][1] for n in (32, 64)]
    print(f"{family}: DCDM grows", " then ".join(f"{g:.2f}x" for g in per_doubling))

# %% [markdown]
# ## 3. A system the network was not trained on
#
# A fluid-pressure matrix: the 64³ box with two solid slabs and a solid sphere; faces to solid
# cells carry no flux. The right-hand side is random on the fluid cells.

# %%
n = 64
grid = np.indices((n, n, n))
solid = np.zeros((n, n, n), dtype=bool)
solid[20:24, :40, :] = True
solid[40:44, 24:, :] = True
solid |= ((grid - np.array([32, 32, 48])[:, None, None, None]) ** 2).sum(0) < 8**2
A = PoissonGrid((n, n, n), solid=solid)
b = np.random.default_rng(2).standard_normal(A.shape[0]) * A.fluid.reshape(-1)
results = solve_all(A, b)
for name, (result, seconds) in results.items():
    print(f"{name:22s} {result.iterations:5d} iterations, {seconds:6.2f} s")

# %% [markdown]
# ## 4. What the network does
#
# For a point source and for a random residual: a slice (through the largest entry of `r`) of
# the input `r`, of the
# network's direction `f(r)` and of the exact `A⁻¹r` (each scaled to unit maximum). The
# network's output is an approximation of `A⁻¹r` up to scale (the iteration is invariant to
# it).

# %%
n = 32
A = PoissonGrid((n, n, n))
fig, axes = plt.subplots(2, 3, figsize=(10, 6.5))
inputs = (
    point_sources(n, np.random.default_rng(4), 1),
    np.random.default_rng(5).standard_normal(n**3),
)
for row, r in zip(axes, inputs, strict=True):
    r = r / np.linalg.norm(r)
    with torch.inference_mode():
        q = model(torch.tensor(r, dtype=torch.float32).reshape(1, 1, n, n, n))
    q = q.double().numpy().ravel()
    exact = cg(A, r, tol=1e-10).x
    cosine = abs(q @ A.matvec(exact)) / np.sqrt((q @ A.matvec(q)) * (exact @ A.matvec(exact)))
    middle = int(np.unravel_index(np.argmax(np.abs(r)), (n, n, n))[0])  # through the peak
    for ax, field, title in zip(row, (r, q, exact), ("r", "f(r)", "A⁻¹ r"), strict=True):
        plane = field.reshape(n, n, n)[middle]
        ax.imshow(plane / np.abs(plane).max(), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    row[1].set_title(f"f(r)   (A-cosine with A⁻¹r: {cosine:.3f})")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Reading
#
# - At 64³ the multilevel network needs 18–22× fewer iterations than CG on all three
#   families (6–9 against 132–163), the point sources and smooth fields included, which are
#   not the training distribution; the paper's network 12–15× fewer. The paper's iteration
#   (no safeguard) does about as well with the multilevel network on these problems.
# - CG preconditioned by one AMG V-cycle needs fewer iterations still (4–6), and on this CPU
#   the multilevel DCDM and pyamg (setup included) take about the same time, both slower than
#   plain CG: a network application costs as much as 15 CG iterations here. DCDM's time pays
#   where the network is cheap (a GPU) and the matrix products are not.
# - Growth with the grid: from 32³ to 64³ to 128³ the multilevel network's iterations grow at
#   most 1.5× per doubling (4 → 6 → 9, 7 → 9 → 13, 5 → 6 → 9), at the edge of that bound on
#   two of the families; the paper's network grows 1.4–2.3× (to 16–24 at 128³), as CG does:
#   one pooling level gives it a receptive field of about 25 cells, short of the grid.
# - On the irregular domain neither network was trained on, the multilevel DCDM needs 3.8×
#   fewer iterations than CG (37 against 140), the paper's network 3.3×; without the
#   safeguard the multilevel network takes 63.
# - The slices: the network's direction is, up to its sign (which the iteration ignores),
#   close to `A⁻¹r` (A-cosines 0.991 and 0.997): a peak around the point source
#   like the Green's function, and the smooth large-scale pattern of `A⁻¹r` under the noise
#   of the random residual.
