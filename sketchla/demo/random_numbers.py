"""Demo section: the counter-based generator on every backend (identity, addressing, speed)."""

from __future__ import annotations

import numpy as np

from .._array import to_numpy
from ..random import Generator
from . import DemoContext, SectionResult, best_time

TITLE = "Counter-based random numbers: one seed, the same numbers everywhere"


def _sync(xp):
    name = xp.__name__
    if "torch" in name:
        import torch

        return torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    if "cupy" in name:
        import cupy

        return cupy.cuda.Device().synchronize
    return lambda: None


def run(context: DemoContext) -> SectionResult:
    n = 10**6 if context.quick else 10**7
    repeats = 1 if context.quick else 3
    try:
        import jax

        jax.config.update("jax_enable_x64", True)  # the demo compares float64 streams
    except ImportError:
        pass
    reference_normal = Generator(0).normal(n)
    reference_signs = Generator(0).signs(n)
    rows = []
    for b in context.backends:
        kw = {"xp": b.xp, "device": b.device, "dtype": b.xp.float64}
        normal = to_numpy(Generator(0).normal(n, **kw))
        signs = to_numpy(Generator(0).signs(n, **kw))
        ulps = np.max(np.abs(normal - reference_normal) / np.spacing(np.abs(reference_normal)))
        sync = _sync(b.xp)

        def generate(kw=kw, sync=sync):
            Generator(0).normal(n, **kw)
            sync()

        seconds = best_time(generate, repeats)
        rows.append(
            {
                "backend": b.label,
                "signs identical to NumPy": "yes"
                if np.array_equal(signs, reference_signs)
                else "NO",
                "normals: max diff (ulps)": f"{ulps:.0f}",
                f"{n:.0e} normals (ms)": f"{1e3 * seconds:.1f}",
            }
        )
    numpy_rng = np.random.default_rng(0)
    numpy_seconds = best_time(lambda: numpy_rng.standard_normal(n), repeats)
    rows.append(
        {
            "backend": "peer: numpy.random.default_rng().standard_normal",
            "signs identical to NumPy": "-",
            "normals: max diff (ulps)": "-",
            f"{n:.0e} normals (ms)": f"{1e3 * numpy_seconds:.1f}",
        }
    )
    whole = Generator(0).normal(6000)
    block = Generator(0).normal(1000, start=5000)
    notes = [
        "Any block is addressable: values [5000, 6000) generated alone "
        + ("equal" if np.array_equal(block, whole[5000:]) else "DIFFER FROM")
        + " the slice of the whole stream.",
        "NumPy and Torch-CPU share the numba kernel; GPU backends run the portable Philox code.",
    ]
    figures = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from scipy import stats

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(
            reference_normal[: 10**6],
            bins=200,
            density=True,
            alpha=0.6,
            label="Generator(0).normal",
        )
        grid = np.linspace(-5, 5, 400)
        ax.plot(grid, stats.norm.pdf(grid), "k", lw=1, label="N(0, 1) density")
        ax.set_xlabel("value")
        ax.legend()
        fig.tight_layout()
        path = context.out_dir / "rng_normal_histogram.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        figures.append(path)
    except ImportError:
        notes.append("matplotlib is not installed: no figure (pip install sketchla[plot]).")
    return SectionResult(TITLE, rows, figures, notes)
