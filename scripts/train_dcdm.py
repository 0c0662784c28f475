"""Regenerate the packaged DCDM networks from a seed.

    python scripts/train_dcdm.py poisson3d            # the CPU recipe (about 45 minutes, 2 cores)
    python scripts/train_dcdm.py poisson2d            # about 4 minutes
    python scripts/train_dcdm.py poisson3d --recipe gpu --device cuda

Each run caches its Lanczos basis and checkpoints under ``--workdir``; run the same command again
to resume after an interruption. The result is written to
``sketchla/solvers/dcdm/weights/<model>.pt`` (or ``--out``).

Recipes (the paper: 64^3 grid, 10 000 Lanczos steps, 20 000 samples, batch 10, Adam 1e-4 over
many epochs, on a GPU). The CPU recipe trains on a 32^3 grid (the network is fully
convolutional; a 64^3 sample costs 11x a 32^3 one here) with a Lanczos run scaled to the grid
(4 % of the unknowns, as the paper's 10 000 of 262 144), a cosine-decayed learning rate that
starts ten times the paper's, and half of every batch drawn from the residuals the solver meets
(replay; see ``sketchla.solvers.dcdm.training``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from sketchla.solvers import PoissonGrid
from sketchla.solvers.dcdm import DCDMNet, TrainingData, lanczos_ritz, save_model, train

REPLAY_EVERY = 20  # solver residuals join the data (see sketchla.solvers.dcdm.training)

RECIPES = {
    ("poisson3d", "cpu"): dict(
        grid=(32, 32, 32), lanczos=1300, steps=4000, batch=10, lr=1e-3, final_lr=3e-5
    ),
    # GPU: the Lanczos basis is built on the host in float64 (about 50 GB of RAM and hours of
    # reorthogonalisation at 64^3 x 10 000); not run yet.
    ("poisson3d", "gpu"): dict(
        grid=(64, 64, 64), lanczos=10000, steps=40000, batch=10, lr=3e-4, final_lr=1e-5
    ),
    ("poisson2d", "cpu"): dict(
        grid=(32, 32), lanczos=200, steps=10000, batch=10, lr=1e-3, final_lr=3e-5
    ),
    ("poisson2d", "gpu"): dict(
        grid=(256, 256), lanczos=2600, steps=20000, batch=10, lr=3e-4, final_lr=1e-5
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["poisson3d", "poisson2d"])
    parser.add_argument("--recipe", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="override the recipe's optimiser steps")
    parser.add_argument("--workdir", type=Path, default=Path("dcdm-training"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()
    recipe = dict(RECIPES[args.model, args.recipe])
    if args.steps is not None:
        recipe["steps"] = args.steps
    grid = "x".join(map(str, recipe["grid"]))
    tag = f"{args.model}-{args.recipe}-{grid}-{recipe['steps']}steps-seed{args.seed}"
    args.workdir.mkdir(parents=True, exist_ok=True)

    A = PoissonGrid(recipe["grid"])
    basis = args.workdir / f"{tag}-ritz.npz"
    if basis.exists():
        saved = np.load(basis)
        values, vectors = saved["values"], saved["vectors"]
    else:
        start = time.perf_counter()
        values, vectors = lanczos_ritz(A, recipe["lanczos"], seed=args.seed)
        np.savez(basis, values=values, vectors=vectors)
        print(f"Lanczos, {recipe['lanczos']} steps: {time.perf_counter() - start:.0f} s")
    data = TrainingData.from_ritz(values, vectors, A.grid_shape)
    if args.threads:  # after Lanczos: numba's first kernel call resets torch's thread count
        torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    model = DCDMNet(dim=len(recipe["grid"]))
    start = time.perf_counter()
    losses = train(
        model,
        A,
        data,
        steps=recipe["steps"],
        batch_size=recipe["batch"],
        lr=recipe["lr"],
        final_lr=recipe["final_lr"],
        schedule_steps=recipe.get("schedule"),
        replay_every=REPLAY_EVERY,
        seed=args.seed,
        checkpoint=args.workdir / f"{tag}-checkpoint.pt",
        device=args.device,
    )
    info = {
        "recipe": args.recipe,
        "seed": args.seed,
        "grid": list(recipe["grid"]),
        "lanczos_steps": recipe["lanczos"],
        "steps": recipe["steps"],
        "schedule_steps": recipe.get("schedule", recipe["steps"]),
        "batch_size": recipe["batch"],
        "lr": recipe["lr"],
        "final_lr": recipe["final_lr"],
        "replay_every": REPLAY_EVERY,
        "final_loss": float(np.mean(losses[-100:])),
        "torch": str(torch.__version__),
    }
    packaged = Path(__file__).parents[1] / "sketchla/solvers/dcdm/weights"
    out = args.out or packaged / f"{args.model}.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(model.cpu(), out, info)
    np.save(args.workdir / f"{tag}-losses.npy", np.asarray(losses))
    print(
        f"trained in {time.perf_counter() - start:.0f} s; mean loss of the last 100 steps "
        f"{info['final_loss']:.4f}; written to {out}"
    )


if __name__ == "__main__":
    main()
