"""Least squares on a matrix larger than memory, through a Dask cluster.

Writes a tall matrix ``A`` (by default 2^23 x 256 float64: 16 GiB) and right-hand side ``b`` to
disk as stacks of ``.npy`` files (one per row block), then solves ``min ||A x - b||`` with
:func:`sketchla.lstsq.lstsq` on the memory-mapped blocks through a ``distributed`` cluster,
and (``--peer``) with ``dask.array.linalg.lstsq`` (TSQR) on the same data and cluster. Reports
the time of each, their accuracy (the normal-equations residual ``||A^T r|| / (||A||_F ||r||)``
and the distance between the two solutions) and the peak memory of every process, as JSON.

    python scripts/out_of_core_lstsq.py make /data/lstsq             # 16 GiB on disk
    python scripts/out_of_core_lstsq.py solve /data/lstsq --peer     # a LocalCluster here
    python scripts/out_of_core_lstsq.py solve /data/lstsq --address tcp://scheduler:8786

With ``--address`` the same script runs on an existing cluster (every worker must see the
directory, e.g. a shared file system, at the same path). ``A`` has singular values spread
evenly on a log scale over ``--condition`` (default 1e3) and ``b = A x + noise``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def make(directory: Path, rows: int, cols: int, chunk_rows: int, condition: float, seed: int):
    """Write ``A`` and ``b`` block by block (never more than one block in memory per thread)."""
    import dask.array as da

    chunks = tuple(min(chunk_rows, rows - start) for start in range(0, rows, chunk_rows))
    scales = np.logspace(0, -np.log10(condition), cols)
    x = np.random.default_rng(seed).standard_normal(cols)

    def block(kind: str, index: int, size: int) -> np.ndarray:
        rng = np.random.default_rng([seed, index])
        A = rng.standard_normal((size, cols)) * scales
        if kind == "A":
            return A
        return A @ x + 1e-2 * rng.standard_normal(size)

    for kind, shape in (("A", (rows, cols)), ("b", (rows,))):
        blocks = [
            da.from_delayed(_delayed(block)(kind, i, size), (size, *shape[1:]), np.float64)
            for i, size in enumerate(chunks)
        ]
        da.to_npy_stack(str(directory / kind), da.concatenate(blocks))
    np.save(directory / "x.npy", x)


def _delayed(function):
    import dask

    return dask.delayed(function, pure=True)


def solve(directory: Path, address: str | None, workers: int, threads: int, memory: str, peer):
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    from sketchla.lstsq import lstsq

    A = da.from_npy_stack(str(directory / "A"))
    b = da.from_npy_stack(str(directory / "b"))
    if address is None:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=threads, memory_limit=memory,
            dashboard_address=None,
        )  # fmt: skip
    else:
        cluster = address
    report = {
        "shape": list(A.shape),
        "matrix_gib": A.nbytes / 2**30,
        "chunk_rows": int(A.chunks[0][0]),
        "cluster": address or f"LocalCluster({workers} workers x {threads} threads, {memory})",
    }
    with Client(cluster) as client:
        solutions = {}
        runs = [("sketchla", lambda A, b: lstsq(A, b, seed=0).x)]
        if peer:
            runs.append(("dask.array.linalg.lstsq", lambda A, b: da.linalg.lstsq(A, b[:, None])[0]))
        warm = 2 * int(A.chunks[0][0])  # two blocks: compiles and imports, untimed
        for name, run in runs:
            _gather(run(A[:warm], b[:warm]))
            client.run(_reset_peak_rss)  # the workers' peak memory is this run's from here
            start = time.perf_counter()
            x = _gather(run(A, b))
            seconds = time.perf_counter() - start
            solutions[name] = x[:, 0] if x.ndim == 2 else x
            peaks = client.run(_peak_rss)
            report[name] = {
                "seconds": seconds,
                "worker_peak_rss_gib": sorted(v / 2**30 for v in peaks.values()),
            }
            print(f"{name}: {seconds:.1f} s", file=sys.stderr)
        # accuracy, untimed: one pass for ||A||_F, one per solution for A^T r
        frobenius = float(da.sqrt((A * A).sum()).compute())
        for name, x in solutions.items():
            r = b - A @ x
            gradient, r_norm = dask.compute(A.T @ r, da.linalg.norm(r))
            report[name]["optimality"] = float(np.linalg.norm(gradient) / (frobenius * r_norm))
            report[name]["residual_norm"] = float(r_norm)
        if peer:
            ours, theirs = solutions["sketchla"], solutions["dask.array.linalg.lstsq"]
            report["relative_difference"] = float(
                np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
            )
            report["speedup"] = (
                report["dask.array.linalg.lstsq"]["seconds"] / report["sketchla"]["seconds"]
            )
    report["client_peak_rss_gib"] = _peak_rss() / 2**30
    return report


def _gather(x):
    return x.compute() if hasattr(x, "compute") else x


def _reset_peak_rss() -> None:
    """Linux: restart the peak resident memory count (VmHWM) of this process."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    """Peak resident memory of this process (since the last reset), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    maker = commands.add_parser("make", help="write A and b to DIRECTORY")
    maker.add_argument("directory", type=Path)
    maker.add_argument("--log2-rows", type=int, default=23)
    maker.add_argument("--cols", type=int, default=256)
    maker.add_argument("--chunk-rows", type=int, default=2**16)
    maker.add_argument("--condition", type=float, default=1e3)
    maker.add_argument("--seed", type=int, default=0)
    solver = commands.add_parser("solve", help="solve the problem stored in DIRECTORY")
    solver.add_argument("directory", type=Path)
    solver.add_argument("--address", help="scheduler address of an existing cluster")
    solver.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    solver.add_argument("--threads", type=int, default=1, help="threads per worker")
    solver.add_argument("--memory-limit", default="4GiB", help="per worker (LocalCluster)")
    solver.add_argument("--peer", action="store_true", help="also time dask's TSQR lstsq")
    solver.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args(argv)
    if args.command == "make":
        args.directory.mkdir(parents=True, exist_ok=True)
        rows = 2**args.log2_rows
        make(args.directory, rows, args.cols, args.chunk_rows, args.condition, args.seed)
        return 0
    report = solve(
        args.directory, args.address, args.workers, args.threads, args.memory_limit, args.peer
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
