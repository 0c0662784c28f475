"""Time the asv benchmark classes directly, without asv installed (e.g. on a lent GPU machine).

    python asv_bench/direct.py random            # every time_* of benchmarks/random.py
    python asv_bench/direct.py random --repeat 7

Prints one line per benchmark and parameter: the best of ``--repeat`` runs after one warm-up
(none with ``--no-warmup``, for calls of minutes), and the ratio to the first implementation
(sketchla) of the same benchmark; then the value of each ``track_*``. Skipped combinations
(``NotImplementedError`` in ``setup``, as in asv) are reported as such.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import sys
import time
from pathlib import Path

from sketchla.demo import best_time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", help="module name under asv_bench/benchmarks, e.g. random")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-warmup", action="store_true", help="no untimed call first")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    module = importlib.import_module(f"benchmarks.{args.suite}")
    for cls_name in sorted(n for n in dir(module) if isinstance(getattr(module, n), type)):
        cls = getattr(module, cls_name)
        methods = [m for m in dir(cls) if m.startswith(("time_", "track_"))]
        if not methods:
            continue
        params = getattr(cls, "params", None)
        if params is None:
            params = []  # one call without parameters
        elif not isinstance(params[0], list):
            params = [params]
        for method in methods:
            first = None
            for combo in itertools.product(*params):
                bench = cls()
                label = f"{args.suite}.{cls_name}.{method}{combo}"
                try:
                    bench.setup(*combo)
                except NotImplementedError as why:
                    print(f"{label:70s} skipped ({why})")
                    continue
                run = getattr(bench, method)
                if method.startswith("track_"):
                    print(f"{label:70s} {run(*combo):.4g}")
                    continue
                if args.no_warmup:
                    seconds = min(_timed(run, combo) for _ in range(args.repeat))
                else:
                    seconds = best_time(lambda run=run, c=combo: run(*c), args.repeat)
                first = first or seconds
                print(f"{label:70s} {1e3 * seconds:9.2f} ms  ratio to first {seconds / first:6.2f}")
    return 0


def _timed(run, combo) -> float:
    began = time.perf_counter()
    run(*combo)
    return time.perf_counter() - began


if __name__ == "__main__":
    sys.exit(main())
