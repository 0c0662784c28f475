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
# # Randomized SVD: error against time, beside scikit-learn and torch
#
# {func}`sketchla.lowrank.rsvd` computes a rank-$k$ approximation $U\,\mathrm{diag}(s)\,V^\top$
# from a sample $A\Omega$ of the range of $A$, sharpened by $q$ power iterations (Halko,
# Martinsson & Tropp 2011). Its error approaches the optimum $\sigma_{k+1}$ as $q$ grows; each
# iteration costs two more products with $A$. This notebook measures the spectral-norm error
# $\|A - U\,\mathrm{diag}(s)\,V^\top\|_2/\sigma_{k+1}$ against the time, for $q = 0, \dots, 6$,
# beside scikit-learn's `randomized_svd` and `torch.svd_lowrank` with the same numbers of power
# iterations, on two spectra: a slow decay $\sigma_i = 1/i$ and a fast one $\sigma_i = 0.9^i$.
# The user guide page {doc}`/user-guide/lowrank` explains the methods.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.utils.extmath import randomized_svd

from sketchla.lowrank import estimate_error, rsvd

n, k, directions = 2048, 32, 400
rng = np.random.default_rng(0)
U0 = np.linalg.qr(rng.standard_normal((n, directions)))[0]
V0 = np.linalg.qr(rng.standard_normal((n, directions)))[0]
spectra = {
    "slow: 1/i": 1.0 / np.arange(1, directions + 1),
    "fast: 0.9^i": 0.9 ** np.arange(directions),
}


def best_of_3(f):
    f()  # warm up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        value = f()
        times.append(time.perf_counter() - start)
    return min(times), value


def solvers(A, q):
    At = torch.from_numpy(A)

    def torch_svd():
        torch.manual_seed(0)  # svd_lowrank draws from torch's global generator
        U, s, V = torch.svd_lowrank(At, q=k + 10, niter=q)
        return U[:, :k].numpy(), s[:k].numpy(), V[:, :k].numpy().T

    return {
        "sketchla rsvd": lambda: tuple(rsvd(A, k, power_iters=q, seed=0)),
        "scikit-learn randomized_svd": lambda: randomized_svd(A, k, n_iter=q, random_state=0),
        "torch.svd_lowrank": torch_svd,
    }


results = {}
for label, sigma in spectra.items():
    A = ((U0 * sigma) @ V0.T).astype(np.float32)
    A64 = A.astype(np.float64)
    for q in range(0, 7, 2):
        for name, solve in solvers(A, q).items():
            seconds, (U, s, Vh) = best_of_3(solve)
            U, s, Vh = (np.asarray(x, dtype=np.float64) for x in (U, s, Vh))
            error = estimate_error(A64, U, s, Vh, rtol=1e-6, seed=1).estimate / sigma[k]
            results[label, name, q] = (seconds, error)

print(f"A: float32 {n} x {n}, k = {k}; time in ms (best of 3), error / sigma_(k+1)\n")
print("| spectrum | q | " + " | ".join(solvers(A, 0)) + " |")
print("| --- | ---: | " + " | ".join("---" for _ in solvers(A, 0)) + " |")
for label in spectra:
    for q in range(0, 7, 2):
        cells = [
            f"{1e3 * results[label, name, q][0]:.0f} ms, {results[label, name, q][1]:.4f}"
            for name in solvers(A, 0)
        ]
        print(f"| {label} | {q} | " + " | ".join(cells) + " |")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
markers = {"sketchla rsvd": "o-", "scikit-learn randomized_svd": "s--", "torch.svd_lowrank": "^:"}
for ax, label in zip(axes, spectra, strict=True):
    for name, style in markers.items():
        points = [results[label, name, q] for q in range(0, 7, 2)]
        ax.semilogy([1e3 * t for t, _ in points], [e - 1 for _, e in points], style, label=name)
    ax.set_title(f"spectrum {label}")
    ax.set_xlabel("time (ms); points: q = 0, 2, 4, 6")
    ax.set_ylabel("error / sigma_(k+1) - 1")
    ax.legend(fontsize=8)
fig.tight_layout()

# %%
for label in spectra:
    for q in range(2, 7, 2):  # (at q = 0 the error is a random variable spread over +-10 %)
        ours = results[label, "sketchla rsvd", q][1]
        # the same algorithm: errors within a few percent of the peers' at the same q
        assert ours <= 1.05 * results[label, "torch.svd_lowrank", q][1] + 1e-3
    assert results[label, "sketchla rsvd", 6][1] < 1.05  # near the optimum with q = 6

# %% [markdown]
# All three libraries run the same algorithm, so at the same number of power iterations their
# errors agree to a few percent (differences come from the random test matrices and the
# renormalisation: Cholesky QR for sketchla, Householder QR for torch, LU for scikit-learn,
# which lags at $q = 2$). Without power iterations the error is 1.5-2.5 times the optimum; two
# bring it within a few percent of $\sigma_{k+1}$ on both spectra, and more add little. The
# times differ by how the products and the small factorisations are done: all three spend most
# of their time in the $2q + 2$ products with $A$ (float32 BLAS); sketchla orthonormalises by
# Cholesky QR (two small Gram matrices, several times faster than a Householder QR of the tall
# block) and takes the SVD of $B = Q^\top A$ through a QR of $B^\top$. Read the timings as orders
# of magnitude: they depend on the machine and on what else runs on it.
