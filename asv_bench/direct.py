"""Time the asv benchmark classes directly, without asv installed (e.g. on a lent GPU machine).

    python asv_bench/direct.py random            # every time_* of benchmarks/random.py
    python asv_bench/direct.py random --repeat 7

Prints one line per benchmark and parameter: the best of ``--repeat`` runs after one warm-up
(none with ``--no-warmup``, for calls of minutes), and the ratio to the first implementation
(sketchla) of the same benchmark; then the value of each ``track_*``. Skipped combinations
(``NotImplementedError`` in ``setup``, as in asv) are reported as such.

The same loop is importable (``scripts/gpu_check.py`` uses it): :func:`cases` lists a suite's
benchmarks and parameter combinations, :func:`run_case` runs one and returns a :class:`Record`,
:func:`format_line` prints it as above.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sketchla.demo import best_time

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    """One benchmark method of one class, with one combination of its parameters."""

    suite: str
    cls: type
    method: str
    combo: tuple

    @property
    def benchmark(self) -> str:
        """``Class.method``, e.g. ``GPUDenseTall.time_solve``."""
        return f"{self.cls.__name__}.{self.method}"

    @property
    def label(self) -> str:
        """The CLI's label, e.g. ``lstsq.GPUDenseTall.time_solve('torch', 'float32')``."""
        return f"{self.suite}.{self.benchmark}{self.combo}"

    @property
    def param_names(self) -> list[str]:
        """One name per parameter (asv's ``param_names``; ``param<i>`` where it has none)."""
        names = list(getattr(self.cls, "param_names", None) or [])[: len(self.combo)]
        return names + [f"param{i}" for i in range(len(names), len(self.combo))]


@dataclass(frozen=True)
class Record:
    """What one :class:`Case` gave: ``kind`` is ``"time"`` (``value`` in seconds, the best of
    ``calls`` timed calls), ``"track"`` (the tracked value) or ``"skipped"`` (``reason``: the
    ``NotImplementedError`` of setup)."""

    case: Case
    kind: str
    value: float | None = None
    reason: str = ""
    calls: int = 0


def cases(suite: str) -> list[Case]:
    """Every ``time_*`` and ``track_*`` benchmark of ``benchmarks/<suite>.py`` with each of its
    parameter combinations, in the order the CLI runs them (classes and methods by name)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    module = importlib.import_module(f"benchmarks.{suite}")
    found = []
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
            found.extend(Case(suite, cls, method, combo) for combo in itertools.product(*params))
    return found


def run_case(
    case: Case, *, repeat: int = 5, warmup: bool = True, deadline: float | None = None
) -> Record:
    """Set ``case`` up and time it (best of ``repeat`` calls, after one untimed call unless
    ``warmup`` is false) or read its tracked value. With a ``deadline`` (a ``time.time()``),
    no further call starts after it once one has been timed. Exceptions other than the
    ``NotImplementedError`` of a skipped setup propagate."""
    bench = case.cls()
    try:
        bench.setup(*case.combo)
    except NotImplementedError as why:
        return Record(case, "skipped", reason=str(why))
    run = getattr(bench, case.method)
    if case.method.startswith("track_"):
        return Record(case, "track", float(run(*case.combo)))
    if warmup and deadline is None:
        return Record(case, "time", best_time(lambda: run(*case.combo), repeat), calls=repeat)
    if warmup:
        run(*case.combo)
    times = []
    while len(times) < repeat and (deadline is None or not times or time.time() < deadline):
        times.append(_timed(run, case.combo))
    return Record(case, "time", min(times), calls=len(times))


def format_line(record: Record, first: float | None = None) -> str:
    """``record`` as the CLI prints it; a time's ratio is to ``first`` (default: itself)."""
    label = record.case.label
    if record.kind == "skipped":
        return f"{label:70s} skipped ({record.reason})"
    if record.kind == "track":
        return f"{label:70s} {record.value:.4g}"
    seconds = record.value
    ratio = seconds / (first or seconds)
    return f"{label:70s} {1e3 * seconds:9.2f} ms  ratio to first {ratio:6.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", help="module name under asv_bench/benchmarks, e.g. random")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-warmup", action="store_true", help="no untimed call first")
    parser.add_argument("--only", nargs="+", metavar="CLASS", help="only these classes")
    args = parser.parse_args(argv)
    first: dict[tuple[type, str], float] = {}
    for case in cases(args.suite):
        if args.only and case.cls.__name__ not in args.only:
            continue
        record = run_case(case, repeat=args.repeat, warmup=not args.no_warmup)
        if record.kind == "time":
            key = (case.cls, case.method)
            first[key] = first.get(key) or record.value
        print(format_line(record, first.get((case.cls, case.method))))
    return 0


def _timed(run, combo) -> float:
    began = time.perf_counter()
    run(*combo)
    return time.perf_counter() - began


if __name__ == "__main__":
    sys.exit(main())
