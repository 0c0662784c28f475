"""``sketchla demo``: the main job. Runs every registered demo section and writes a report.

A capability registers its section by adding its module to :data:`SECTIONS`; the module defines
``TITLE`` and ``run(context) -> SectionResult``.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .._array.backends import AvailableBackend, available_backends

__all__ = ["SECTIONS", "DemoContext", "SectionResult", "best_time", "markdown_table", "run_demo"]

#: Demo sections, in the order they run (module paths).
SECTIONS: tuple[str, ...] = (
    "sketchla.demo.random_numbers",
    "sketchla.demo.sketching",
    "sketchla.demo.least_squares",
    "sketchla.demo.low_rank",
    "sketchla.demo.sparse_svd",
    "sketchla.demo.sampling",
    "sketchla.demo.dcdm",
    "sketchla.demo.mfac",
    "sketchla.demo.spectral",
    "sketchla.demo.completion",
)


@dataclass(frozen=True)
class DemoContext:
    """What a section may use: where to write, how long to take, which backends exist."""

    out_dir: Path
    quick: bool
    backends: tuple[AvailableBackend, ...]


@dataclass
class SectionResult:
    """A section's table (one dict per row, same keys), figure files and remarks."""

    title: str
    rows: list[dict[str, object]]
    figures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def best_time(run, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``run()``, after one untimed warm-up call
    (compilation, page faults)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def markdown_table(rows: list[dict[str, object]]) -> str:
    """Rows of equal keys as a GitHub-flavoured markdown table.

    Examples
    --------
    >>> print(markdown_table([{"a": 1, "b": "x"}]))
    | a | b |
    |---|---|
    | 1 | x |
    """
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def run_demo(
    out_dir: str | Path = "sketchla-demo",
    *,
    quick: bool = False,
    sections: tuple[str, ...] | None = None,
    echo=print,
) -> Path:
    """Run the demo sections and write ``results.md`` (and figures) into ``out_dir``.

    Returns the path of the report.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # A CUDA build of JAX reserves 75% of the GPU's memory on import unless told otherwise;
    # the demo shares the GPU between JAX, Torch and CuPy.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    backends = tuple(available_backends())
    echo("Backends and devices available:")
    for b in backends:
        echo(f"  - {b.label}  [{b.xp.__name__} {b.version}]")
    context = DemoContext(out_dir=out, quick=quick, backends=backends)
    chosen = SECTIONS if sections is None else sections
    report = ["# sketchla demo", "", "Backends: " + ", ".join(b.label for b in backends), ""]
    for name in tqdm(chosen, desc="demo sections", unit="section"):
        module = importlib.import_module(name)
        began = time.perf_counter()
        result: SectionResult = module.run(context)
        elapsed = time.perf_counter() - began
        block = [f"## {result.title}", "", markdown_table(result.rows), ""]
        block += [f"- {note}" for note in result.notes]
        block += [f"![{f.stem}]({f.name})" for f in result.figures]
        block += ["", f"_(section ran in {elapsed:.1f} s)_", ""]
        report += block
        echo("\n" + "\n".join(block))
    path = out / "results.md"
    path.write_text("\n".join(report))
    echo(f"Report written to {path}")
    return path
