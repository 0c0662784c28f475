"""``scripts/gpu_check.py``: its CPU dry run writes the report's tables, and without a GPU it
stops with a message, a non-zero status and no report."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"
TEST_HEADER = "| family | passed | failed | skipped | not run |"
BACKEND_HEADER = "| backend | passed | failed | skipped | not run |"
TIMING_HEADER = "| benchmark | params | seconds | ratio to sketchla |"


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gpu_check = _load_script()


@pytest.fixture(scope="module")
def gpu_present() -> bool:
    return gpu_check.inspect_device().present


def run_script(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def table_rows(report: str, header: str) -> list[list[str]]:
    """The cells of the markdown table whose header line is ``header``."""
    lines = report.splitlines()
    start = lines.index(header) + 2  # past the header and the |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_cpu_dry_run_writes_every_table(tmp_path, gpu_present):
    """Two test modules (one marked gpu throughout, one with the backend fixture) and one
    benchmark suite. On a GPU machine the benchmark budget is 0, so that this test stays
    short there too: its combinations are then listed as not run."""
    output = tmp_path / "report.md"
    budget = "0" if gpu_present else "120"
    tests = ["tests/apps/test_projection_gpu.py", "tests/_array/test_namespace.py"]
    done = run_script(
        "--cpu-dry-run",
        "--output",
        str(output),
        "--tests",
        *tests,
        "--suites",
        "mfac",
        "--bench-budget",
        budget,
        "--test-budget",
        "120",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = output.read_text()
    assert report.startswith("# GPU check: CPU dry run")
    assert "## Device" in report
    device = dict(table_rows(report, "| item | value |"))
    assert "torch" in device
    assert "card" in device
    families = {row[0]: row[1:] for row in table_rows(report, TEST_HEADER)}
    assert set(families) == {"tests/_array", "tests/apps", "**all**"}
    passed, failed, skipped, not_run = map(int, families["**all**"])
    assert failed == 0
    assert not_run == 0
    assert passed + skipped == 19  # 17 projection tests, 2 GPU backends of test_namespace
    if not gpu_present:
        assert skipped == 19
    backends = {row[0] for row in table_rows(report, BACKEND_HEADER)}
    assert backends == {"cupy", "torch-cuda", "other"}
    assert table_rows(report, TIMING_HEADER) == []  # nothing timed without a GPU (or budget)
    not_timed = table_rows(report, "| benchmark | params | status | reason |")
    assert [row[:2] for row in not_timed] == [
        ["mfac.GPUIHVP.time_ihvp", "impl=sketchla"],
        ["mfac.GPUIHVP.time_ihvp", "impl=two-passes"],
    ]
    status = "not run (budget)" if gpu_present else "skipped"
    assert {row[2] for row in not_timed} == {status}


def test_without_a_gpu_it_stops_and_writes_nothing(tmp_path, gpu_present):
    if gpu_present:
        pytest.skip("a CUDA device is visible: the real check would run")
    output = tmp_path / "report.md"
    done = run_script("--output", str(output), "--tests", "tests/_array/test_namespace.py")
    assert done.returncode == gpu_check.EXIT_NO_GPU
    assert re.search(r"no CUDA device is visible", done.stderr)
    assert "--cpu-dry-run" in done.stderr
    assert not output.exists()


def test_ratios_pair_each_row_with_the_sketchla_row_on_its_library():
    def row(impl, dtype, seconds):
        return gpu_check.BenchRow(
            f"{impl}-{dtype}",
            "lstsq.GPUDenseTall.time_solve",
            f"impl={impl}, dtype={dtype}",
            impl,
            f"dtype={dtype}",
            "time",
            seconds,
        )

    rows = [
        row("sketchla-torch", "float32", 1.0),
        row("torch", "float32", 3.0),
        row("sketchla-cupy", "float32", 2.0),
        row("cupy", "float32", 1.0),
        row("sketchla-torch", "float64", 5.0),
        row("peer", "float64", 1.0),
    ]
    references = [gpu_check.reference_row(r, rows).label for r in rows]
    assert references == [
        "sketchla-torch-float32",
        "sketchla-torch-float32",
        "sketchla-cupy-float32",
        "sketchla-cupy-float32",
        "sketchla-torch-float64",
        "sketchla-torch-float64",  # no library in common: the first sketchla row
    ]


@pytest.mark.parametrize(
    ("nodeid", "backend"),
    [
        ("tests/sketch/test_operators.py::test_apply[cupy-float32-srht]", "cupy"),
        ("tests/sketch/test_operators.py::test_apply[torch-cuda-float64]", "torch-cuda"),
        ("tests/mfac/test_ihvp.py::test_streamed_on_cuda", "other"),
        ("tests/apps/test_peft_gpu.py::test_pissa_on_cuda_equals_numpy[svd-float32]", "other"),
    ],
)
def test_backend_of_a_test_id(nodeid, backend):
    assert gpu_check.backend_of(nodeid) == backend
