"""Run every benchmark once (``asv run --python=same --quick --dry-run``) and fail on any error.

asv 0.6 has no ``--strict`` flag and exits 0 when a benchmark raises, so this wrapper reads its
output: a benchmark reported as ``failed`` or a traceback fails the smoke run. Benchmarks skipped
on purpose (``NotImplementedError``: no GPU, optional library missing) do not. It sets
``SKETCHLA_BENCH_SMOKE=1``, with which the few suites that take minutes per call at full size
(``benchmarks._peers.size``) run a small instance of the same code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASV = [sys.executable, "-m", "asv"]


def main() -> int:
    subprocess.run(
        [*ASV, "machine", "--yes", "--machine", "smoke"], cwd=HERE, check=True, capture_output=True
    )
    run = subprocess.run(
        [
            *ASV,
            "run",
            "--python=same",
            "--quick",
            "--dry-run",
            "--machine",
            "smoke",
            "--show-stderr",
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        env={**os.environ, "SKETCHLA_BENCH_SMOKE": "1"},
    )
    output = run.stdout + run.stderr
    print(output)
    problems = [
        line
        for line in output.splitlines()
        if re.search(r"\bfailed\b|Traceback|Error(?!\(')", line)
        and "NotImplementedError" not in line
    ]
    if run.returncode != 0 or problems:
        print("asv smoke run failed:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    print("asv smoke run: every benchmark ran (or was skipped on purpose).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
