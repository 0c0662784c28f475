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
# # Least squares: time and accuracy against n
#
# {func}`sketchla.lstsq.lstsq` solves $\min_x \|Ax - b\|_2$ by preconditioned iterative
# refinement: a preconditioner $P$ with $AP$ nearly orthonormal, then heavy-ball iterations until
# the forward error is at the level of rounding. $P$ is $R^{-1}$ for the $R$ factor of the QR of a
# sketch $SA$ with $m$ rows (sketch-and-precondition), or of the Cholesky factorisation of
# $A^\top A$ (the Gram route, which `"auto"` takes for dense, not too ill-conditioned $A$ when it
# is predicted cheaper). This notebook measures, for tall dense problems of growing height $n$,
#
# * the time, beside SciPy's LAPACK drivers `gelsd` (SVD based, `scipy.linalg.lstsq`'s default)
#   and `gelsy` (QR with column pivoting);
# * the accuracy: the excess of the residual over the optimal one and the forward error, both
#   measured against a Householder QR solution;
#
# and then, at fixed $n$, the number of iterations as the condition number $\kappa(A)$ grows. The
# user guide page {doc}`/user-guide/lstsq` explains the method and its options.

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg

from sketchla.lstsq import lstsq


def best_of_3(f):
    """The best time of three runs after a warm-up, and the value of the last run."""
    f()  # warm up (numba compilation, caches)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        value = f()
        times.append(time.perf_counter() - start)
    return min(times), value


def qr_solve(A, b):
    """The reference: Householder QR (LAPACK geqrf through NumPy), then a triangular solve."""
    Q, R = np.linalg.qr(A)
    return scipy.linalg.solve_triangular(R, Q.T @ b)


# %% [markdown]
# ## 1. Time and accuracy against $n$
#
# $A$ is an $n \times 64$ Gaussian matrix ($\kappa(A)$ close to 1) and
# $b = A x_0 + 0.1\,\xi$ with Gaussian $x_0$ and noise $\xi$, for $n = 2^{12}, \dots, 2^{16}$.
# Each solver's time is the best of three runs after a warm-up; sketchla's seed is fixed, so each
# run draws the same sketch. For each solution $x$ we record
#
# * the **residual excess** $\|b - Ax\| / \|b - A x_{\mathrm{QR}}\| - 1$, how much worse than the
#   optimum the fit is (it can be slightly negative: the reference is rounded too);
# * the **forward error** $\|x - x_{\mathrm{QR}}\| / \|x_{\mathrm{QR}}\|$.
#
# For a well-conditioned problem the Householder QR solution $x_{\mathrm{QR}}$ is accurate to a few
# units of roundoff, so both numbers measure each solver's own error.

# %%
d = 64
heights = [2**k for k in range(12, 17)]
solvers = {
    "sketchla auto": lambda A, b: lstsq(A, b, seed=0).x,
    "sketchla sketch": lambda A, b: lstsq(A, b, method="sketch_and_precondition", seed=0).x,
    "scipy gelsd": lambda A, b: scipy.linalg.lstsq(A, b)[0],
    "scipy gelsy": lambda A, b: scipy.linalg.lstsq(A, b, lapack_driver="gelsy")[0],
}
timing = {name: [] for name in solvers}
excess = {name: [] for name in solvers}
forward = {name: [] for name in solvers}
details = []

for n in heights:
    rng = np.random.default_rng(n)
    A = rng.standard_normal((n, d))
    b = A @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    x_ref = qr_solve(A, b)
    r_ref = np.linalg.norm(b - A @ x_ref)
    for name, solve in solvers.items():
        seconds, x = best_of_3(lambda solve=solve, A=A, b=b: solve(A, b))
        timing[name].append(seconds)
        excess[name].append(np.linalg.norm(b - A @ x) / r_ref - 1)
        forward[name].append(np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref))
    auto = lstsq(A, b, seed=0)
    sketched = lstsq(A, b, method="sketch_and_precondition", seed=0)
    details.append((n, auto, sketched))

names = list(solvers)
print(f"A of n x {d}; time in ms, best of 3\n")
print(
    "|      n | auto: method, iterations | sketch: m, iterations | "
    + " | ".join(f"{name:>15s}" for name in names)
    + " |"
)
print("| -----: | --- | --- | " + " | ".join("-" * 14 + ":" for _ in names) + " |")
for i, (n, auto, sketched) in enumerate(details):
    times = " | ".join(f"{timing[name][i] * 1e3:15.1f}" for name in names)
    print(
        f"| {n:6d} | {auto.method}, {auto.iterations} | "
        f"{sketched.sketch_size}, {sketched.iterations} | {times} |"
    )
assert all(auto.converged and sketched.converged for _, auto, sketched in details)

# %%
styles = {
    "sketchla auto": "C0o-",
    "sketchla sketch": "C3d-",
    "scipy gelsd": "C1s-",
    "scipy gelsy": "C2^-",
}
fig, (ax_time, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
for name in solvers:
    ax_time.loglog(heights, timing[name], styles[name], ms=4, label=name)
    floor = 1e-17  # excess and errors of exactly 0 (or below) are drawn at the floor
    ax_acc.loglog(heights, np.maximum(forward[name], floor), styles[name], ms=4, label=name)
    ax_acc.loglog(
        heights,
        np.maximum(np.abs(excess[name]), floor),
        styles[name][:2] + ":",
        ms=4,
        alpha=0.6,
    )
ax_time.set_title(f"time, A of n x {d}")
ax_time.set_xlabel("n")
ax_time.set_ylabel("seconds (best of 3)")
ax_time.legend()
ax_acc.axhline(np.finfo(float).eps, color="0.7", lw=4, alpha=0.5, zorder=0)
ax_acc.set_title("accuracy against Householder QR")
ax_acc.set_xlabel("n")
ax_acc.set_ylabel("solid: forward error; dotted: |residual excess|")
ax_acc.set_ylim(1e-17, 1e-12)
for ax in (ax_time, ax_acc):
    ax.set_xticks(heights, [f"$2^{{{int(np.log2(n))}}}$" for n in heights])
    ax.minorticks_off()
fig.suptitle("sketchla.lstsq beside scipy.linalg.lstsq (grey: machine epsilon)")
fig.tight_layout()

# %%
for name in solvers:
    assert max(forward[name]) < 1e-13, name
    assert max(np.abs(excess[name])) < 1e-13, name

# %% [markdown]
# Every solver returns the least-squares solution to within a few units of roundoff: the
# forward errors stay within about ten times machine epsilon (grey) and the residual excess at
# or below it, for every $n$. sketchla gets there by iterating, with the error estimate as its
# stopping rule, and its number of iterations does not depend on $n$ (the table above): the
# preconditioner's distortion fixes the rate of convergence, about $\sqrt{d/m}$ for the sketch
# and $u\,\kappa(A)^2$ for the Gram matrix, so that the Gram route needs a single (exact) step
# on these well-conditioned problems.
#
# All the times grow linearly in $n$, so their ratios are set by $d$, not by $n$. LAPACK spends
# about $2d^2$ flops per row of $A$ (a Householder QR or an SVD); the Gram route $d^2$ flops per
# row, in the fastest BLAS-3 kernel (`syrk`), and one or two passes; the sketch route reads each
# row once per iteration, about $8d$ bytes, some 17 times here, plus a sketch and the QR of the
# $m \times d$ sketch, which do not grow with $n$. At $d = 64$ the sketch route and LAPACK run
# neck and neck once $n$ is large, and at small $n$ sketchla's fixed costs (the sketch, the QR of
# $SA$, a few Python operations per iteration) dominate. The gap opens with $d$: the speed table
# of {doc}`/user-guide/lstsq` has problems with $d$ = 256 and 2 000. Timings depend on the
# machine and on what else runs on it; read them as orders of magnitude and trends.

# %% [markdown]
# ## 2. Iterations against the condition number
#
# With a sketch, the preconditioned matrix $AR^{-1}$ has singular values in
# $[1/(1+\varepsilon), 1/(1-\varepsilon)]$ whatever $\kappa(A)$, so the number of iterations
# of sketch-and-precondition should not grow with $\kappa(A)$. (The Gram route's distortion,
# about $u\kappa^2$, does grow: `"auto"` takes it up to $\kappa \approx 10^7$ and the sketch
# beyond; the table shows which.) We fix
# $n = 2^{14}$, $d = 64$, and build $A = U \Sigma V^\top$ with singular values spaced
# logarithmically from 1 to $1/\kappa$, for $\kappa = 10^0, 10^2, \dots, 10^{10}$, and
# $b = A x_0 + r$ with $\|x_0\| = 1$ and $r$ orthogonal to the range of $A$, so that $x_0$ is the
# exact solution and $\|r\|$ the optimal residual. Two residual sizes: a nearly consistent
# system, $\|r\| = 10^{-10}$, and a noisy one, $\|r\| = 10^{-4}$.
#
# A backward-stable solver's forward error grows like $u\,(\kappa + \kappa^2 \|r\|)$ here
# ($\|A\| = \|x_0\| = 1$, $u$ the unit roundoff); `gelsd` is shown for comparison.

# %%
n, d = 2**14, 64
kappas = [10.0**k for k in range(0, 11, 2)]
residual_sizes = [1e-10, 1e-4]


def conditioned_problem(n, d, kappa, residual, seed):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = (U * np.logspace(0, -np.log10(kappa), d)) @ V.T
    x0 = rng.standard_normal(d)
    x0 /= np.linalg.norm(x0)
    r = rng.standard_normal(n)
    r -= U @ (U.T @ r)
    r *= residual / np.linalg.norm(r)
    return A, A @ x0 + r, x0


runs = {}
for residual in residual_sizes:
    for kappa in kappas:
        A, b, x0 = conditioned_problem(n, d, kappa, residual, seed=int(np.log10(kappa)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # recorded as `converged` below
            result = lstsq(A, b, method="sketch_and_precondition", seed=0)
            auto = lstsq(A, b, seed=0)
        x_gelsd = scipy.linalg.lstsq(A, b)[0]
        runs[residual, kappa] = {
            "iterations": result.iterations,
            "converged": result.converged and auto.converged,
            "sketchla": np.linalg.norm(result.x - x0),
            "auto": np.linalg.norm(auto.x - x0),
            "auto_run": f"{auto.method}, {auto.iterations}",
            "gelsd": np.linalg.norm(x_gelsd - x0),
            "condition_estimate": result.condition_estimate,
        }

print(f"n = {n}, d = {d}\n")
print(
    "| ‖r‖ | κ | κ estimate | iterations (sketch) | converged | error sketch | "
    "auto: method, iterations | error auto | error gelsd |"
)
print("| ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |")
for (residual, kappa), run in runs.items():
    print(
        f"| {residual:.0e} | {kappa:.0e} | {run['condition_estimate']:.1e} | "
        f"{run['iterations']} | {run['converged']} | {run['sketchla']:.1e} | "
        f"{run['auto_run']} | {run['auto']:.1e} | {run['gelsd']:.1e} |"
    )

# %%
fig, (ax_it, ax_err) = plt.subplots(1, 2, figsize=(11, 4.2))
for i, residual in enumerate(residual_sizes):
    color = f"C{i}"
    label = f"‖r‖ = {residual:.0e}"
    its = [runs[residual, k]["iterations"] for k in kappas]
    ax_it.semilogx(kappas, its, color=color, marker="o", ms=4, label=label)
    ax_err.loglog(
        kappas,
        [runs[residual, k]["sketchla"] for k in kappas],
        color=color,
        marker="o",
        ms=4,
        label=f"sketchla, {label}",
    )
    ax_err.loglog(
        kappas,
        [runs[residual, k]["gelsd"] for k in kappas],
        color=color,
        ls=":",
        marker="s",
        ms=4,
        label=f"gelsd, {label}",
    )
    failed = [k for k in kappas if not runs[residual, k]["converged"]]
    if failed:
        ax_it.semilogx(
            failed,
            [runs[residual, k]["iterations"] for k in failed],
            "x",
            color="k",
            ms=9,
            label="stopped with converged=False" if i == len(residual_sizes) - 1 else None,
        )
u = np.finfo(float).eps / 2
for i, residual in enumerate(residual_sizes):
    attainable = [u * (k + k**2 * residual) for k in kappas]
    ax_err.loglog(kappas, attainable, color=f"C{i}", lw=5, alpha=0.2, zorder=0)
ax_it.set_ylim(0, None)
ax_it.set_title(f"iterations, n = {n}, d = {d}")
ax_it.set_xlabel("κ(A)")
ax_it.set_ylabel("iterations")
ax_it.legend()
ax_err.set_title("forward error ‖x − x₀‖ (wide: u (κ + κ² ‖r‖))")
ax_err.set_xlabel("κ(A)")
ax_err.legend(fontsize=8)
fig.tight_layout()

# %%
for residual in residual_sizes:
    series = [runs[residual, k] for k in kappas]
    assert all(run["converged"] for run in series)
    assert max(run["iterations"] for run in series) <= 30
    for run in series:
        assert run["sketchla"] <= max(10 * run["gelsd"], 1e-14)
        assert run["auto"] <= max(10 * run["gelsd"], 1e-14)

# %% [markdown]
# On the nearly consistent system the number of iterations stays within a small band over ten
# decades of $\kappa$, where an unpreconditioned Krylov method (LSQR, CG on the normal equations)
# would need a number of iterations growing like $\kappa$. The few extra iterations at large
# $\kappa$ come from the float64 floor: rounding in the gradient stops the progress at about
# $u\kappa$, far above the target $8u$; once the error estimate stalls there, the iteration
# continues with exact (double-double) gradients, at the same rate. The condition estimate taken
# from the sketch tracks $\kappa$, and the forward error follows `gelsd`'s along the floor:
# recomputing the residual from $A$ at every step is what makes the iteration forward stable
# (Epperly, Meier & Nakatsukasa 2024).
#
# With the larger residual the attainable accuracy is $u\kappa^2\|r\|$, much worse at large
# $\kappa$, for every solver, and sketchla's error again follows `gelsd`'s. Where
# $\kappa\,\|r\|$ is large, the sketch-and-solve starting point is far from the solution
# (relative error above 1); the iteration judges its progress on the absolute size of its steps,
# so it keeps going until it reaches the floor.
