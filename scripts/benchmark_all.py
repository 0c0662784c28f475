"""Time every asv suite with ``asv_bench/direct.py``, one log per suite, then rebuild
``docs/performance.md`` from the logs.

    python scripts/benchmark_all.py                    # every suite not yet logged, then the page
    python scripts/benchmark_all.py --force lstsq      # redo one suite
    python scripts/benchmark_all.py --tables-only      # the page from the logs there are

A long job (tens of minutes on two cores; nothing else should run meanwhile): each suite's log
is written when the suite ends (``asv_bench/logs/cpu-<suite>.log``), and a suite whose log
exists is skipped, so an interrupted run resumes where it stopped. The suites whose calls
take seconds to minutes (``HEAVY``) are timed without a warm-up call and with fewer repeats.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "asv_bench" / "logs"
SUITES = sorted(
    p.stem for p in (ROOT / "asv_bench" / "benchmarks").glob("*.py") if not p.stem.startswith("_")
)
#: Suites with calls of seconds or minutes: best of two, no warm-up call.
HEAVY = {"completion", "fastrp", "lowrank", "lstsq", "peft", "projection", "spectral"}


def machine() -> str:
    """The CPU model and core count, from /proc/cpuinfo where there is one."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores"


def run_suite(suite: str) -> None:
    options = ["--repeat", "2", "--no-warmup"] if suite in HEAVY else ["--repeat", "3"]
    command = [sys.executable, str(ROOT / "asv_bench" / "direct.py"), suite, *options]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{suite}: direct.py failed (status {done.returncode})")
    header = f"# python asv_bench/direct.py {suite} {' '.join(options)}  ({seconds:.0f} s)\n"
    (LOGS / f"cpu-{suite}.log").write_text(header + done.stdout)
    print(f"{suite}: {seconds:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", help="only these suites (default: every one)")
    parser.add_argument("--force", nargs="*", default=[], help="suites to time again")
    parser.add_argument("--tables-only", action="store_true")
    parser.add_argument("--date", default=datetime.date.today().isoformat())
    args = parser.parse_args(argv)
    LOGS.mkdir(parents=True, exist_ok=True)
    if not args.tables_only:
        for suite in args.suites or SUITES:
            if suite in args.force or not (LOGS / f"cpu-{suite}.log").exists():
                run_suite(suite)
    logs = [f"asv_bench/logs/cpu-{s}.log" for s in SUITES if (LOGS / f"cpu-{s}.log").exists()]
    tables = [sys.executable, "scripts/performance_tables.py"]
    tables += ["--from-direct", *logs, "--machine", machine(), "--date", args.date]
    return subprocess.run(tables, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
