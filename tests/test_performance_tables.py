"""scripts/performance_tables.py: direct.py logs and asv results become the performance page."""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "performance_tables", ROOT / "scripts" / "performance_tables.py"
)
tables = importlib.util.module_from_spec(_spec)
sys.modules["performance_tables"] = tables  # dataclasses look their module up
_spec.loader.exec_module(tables)

CPU_LOG = """\
lstsq.TimeLstsq.time_solve('sketchla', 100000)   0.123 s  1.00x
lstsq.TimeLstsq.time_solve('scipy', 100000)   0.369 s  3.00x
lstsq.TimeLstsq.time_solve('sketchla', 1000)                    2.00 ms  ratio to first   0.02
lstsq.TimeLstsq.time_solve('scipy', 1000)                       1.00 ms  ratio to first   0.01
lstsq.TimeLstsq.time_solve('pyamg', 1000)                  skipped (pyamg is not installed)
lstsq.TimeLstsq.track_error('sketchla', 100000)            1.5e-12
lstsq.TimeLstsq.track_error('scipy', 100000)               3e-14
lstsq.GPUTall.time_solve('sketchla-torch',)                skipped (no CUDA device)
random.Normal.time_normal('sketchla',)                         1.07 ms  ratio to first   1.00
random.Normal.time_normal('numpy',)                            1.36 ms  ratio to first   1.27
random.Normal.time_normal('sketchla-cupy',)                skipped (cupy is not installed)
sensing.Step.time_step('srft', 256)                            5.00 ms  ratio to first   1.00
"""

GPU_LOG = """\
# written on the lent machine
random.Normal.time_normal('sketchla',)                         9.00 ms  ratio to first   1.00
random.Normal.time_normal('sketchla-torch-cuda',)              0.50 ms  ratio to first   0.06
random.Normal.time_normal('torch-cuda',)                       0.75 ms  ratio to first   0.08
random.Normal.time_normal('cupy',)                             2.00 ms  ratio to first   0.22
random.Normal.time_normal('sketchla-cupy',)                    1.00 ms  ratio to first   0.11
"""


def _row(page: str, start: str) -> list[str]:
    """The cells of the one table row of ``page`` that starts with ``start``."""
    rows = [line for line in page.splitlines() if line.startswith(start)]
    assert len(rows) == 1, rows
    return [cell.strip() for cell in rows[0].strip("|").split(" | ")]


def _page(tmp_path, *argv):
    """The page written for ``argv``; parameter names only from ``--benchmark-dir`` if given
    (not from the repository's suites)."""
    output = tmp_path / "performance.md"
    if "--benchmark-dir" not in argv:
        argv = [*argv, "--benchmark-dir", str(tmp_path / "no-suites")]
    assert tables.main([*argv, "--output", str(output)]) == 0
    return output.read_text()


def test_direct_log_lines_are_read(tmp_path):
    log = tmp_path / "cpu.log"
    log.write_text(CPU_LOG)
    measurements = tables.read_direct_log(log)
    first, skipped, track = measurements[0], measurements[4], measurements[5]
    assert (first.benchmark, first.params, first.value) == (
        "lstsq.TimeLstsq.time_solve",
        ("sketchla", 100000),
        0.123,
    )
    assert measurements[2].value == pytest.approx(2e-3)
    assert (skipped.value, skipped.note) == (None, "pyamg is not installed")
    assert track.value == 1.5e-12
    assert len(measurements) == 12


def test_direct_log_tables_pair_sketchla_with_each_peer(tmp_path):
    log = tmp_path / "cpu.log"
    log.write_text(CPU_LOG)
    page = _page(tmp_path, "--from-direct", str(log), "--machine", "Test CPU, 2 cores")
    large = _row(page, "| `TimeLstsq.time_solve` | 100000 |")
    small = _row(page, "| `TimeLstsq.time_solve` | 1000 |")
    normal = _row(page, "| `Normal.time_normal` |")
    alone = _row(page, "| `Step.time_step` |")
    assert large[2:] == ["`sketchla`", "123 ms", "`scipy`", "369 ms", "3.00"]
    assert small[3:] == ["2.00 ms", "`scipy`", "1.00 ms", "0.50"]
    assert normal[2:] == ["`sketchla`", "1.07 ms", "`numpy`", "1.36 ms", "1.27"]
    assert alone == ["`Step.time_step`", "srft, 256", "`sketchla`", "5.00 ms", "—", "—", "—"]
    assert _row(page, "| `TimeLstsq.track_error` | 100000 | `scipy`")[3:] == ["3e-14", ""]
    assert "- `TimeLstsq` (1000, `pyamg`): pyamg is not installed (`time_solve`)" in page
    assert "### Test CPU, 2 cores" in page
    assert "No GPU results were given" in page
    assert "cupy" not in page  # a GPU row of a CPU log: neither timed nor listed
    assert page.index("#### lstsq") < page.index("#### random") < page.index("#### sensing")


def test_gpu_log_keeps_its_gpu_rows_and_pairs_on_the_device(tmp_path):
    cpu, gpu = tmp_path / "cpu.log", tmp_path / "gpu.log"
    cpu.write_text(CPU_LOG)
    gpu.write_text(GPU_LOG)
    argv = ["--from-direct", str(cpu), "--machine", "Test CPU"]
    argv += ["--from-direct-gpu", str(gpu), "--device-name", "Test GPU", "--date", "2026-01-02"]
    page = _page(tmp_path, *argv)
    on_gpu = page[page.index("## GPU") :]
    ours = "| `Normal.time_normal` | — | `sketchla-torch-cuda` | 500 µs"
    assert _row(on_gpu, f"{ours} | `torch-cuda`")[-2:] == ["750 µs", "1.50"]
    assert _row(on_gpu, "| `Normal.time_normal` | — | `sketchla-cupy`")[-3:] == [
        "`cupy`",
        "2.00 ms",
        "2.00",
    ]
    assert f"{ours} | `cupy`" not in on_gpu  # each with the peer on its own library
    assert "9.00 ms" not in on_gpu  # the GPU machine's CPU rows are left out
    assert "### Test GPU" in on_gpu
    assert "log of 2026-01-02" in on_gpu
    command = shlex.split(page.split("$ ", 1)[1].split("\n", 1)[0])
    assert command[2:6] == ["--from-direct", str(cpu), "--machine", "Test CPU"]
    assert command[6:10] == ["--from-direct-gpu", str(gpu), "--device-name", "Test GPU"]


def test_parameter_names_and_units_come_from_the_benchmark_sources(tmp_path):
    suites = tmp_path / "benchmarks"
    suites.mkdir()
    (suites / "solvers.py").write_text(
        "class Base:\n"
        "    param_names = ['n', 'impl']\n"
        "    def time_solve(self, n, impl):\n"
        "        pass\n"
        "    def track_iterations(self, n, impl):\n"
        "        pass\n"
        "    track_iterations.unit = 'iterations'\n"
        "class Poisson(Base):\n"
        "    params = ([16], ['scipy-cg', 'sketchla-cg'])\n"
    )
    log = tmp_path / "cpu.log"
    log.write_text(
        "solvers.Poisson.time_solve(16, 'scipy-cg')        8.00 ms  ratio to first 1.00\n"
        "solvers.Poisson.time_solve(16, 'sketchla-cg')     2.00 ms  ratio to first 0.25\n"
        "solvers.Poisson.track_iterations(16, 'sketchla-cg')     41\n"
    )
    argv = ["--from-direct", str(log), "--machine", "M", "--benchmark-dir", str(suites)]
    page = _page(tmp_path, *argv)
    assert _row(page, "| `Poisson.time_solve` |")[1:] == [
        "n=16",
        "`sketchla-cg`",
        "2.00 ms",
        "`scipy-cg`",
        "8.00 ms",
        "4.00",
    ]
    assert _row(page, "| `Poisson.track_iterations` |")[3:] == ["41", "iterations"]
    assert "--benchmark-dir" in page


def _asv_results(tmp_path, gpu_values=(float("nan"), float("nan"))):
    """A results directory as asv 0.6 writes it (one machine, one commit)."""
    results = tmp_path / "results"
    (results / "box").mkdir(parents=True)
    (results / "box" / "machine.json").write_text(
        json.dumps(
            {
                "arch": "x86_64",
                "cpu": "Test CPU @ 3GHz",
                "machine": "box",
                "num_cpu": "16",
                "os": "Linux 6.1",
                "ram": "67108864",
                "version": 1,
            }
        )
    )
    impls = ["'sketchla'", "'numpy'", "'torch-cuda'", "'sketchla-torch-cuda'"]
    benchmarks = {
        "random.Normal.time_normal": {"param_names": ["impl"], "type": "time", "unit": "seconds"},
        "random.Normal.track_ks": {"param_names": ["impl"], "type": "track", "unit": "p-value"},
        "mfac.Update.time_update": {"param_names": ["(d, m)"], "type": "time"},
        "fastrp.Large.time_fastrp": {"param_names": [], "type": "time", "unit": "seconds"},
        "version": 2,
    }
    (results / "benchmarks.json").write_text(json.dumps(benchmarks))
    columns = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a"]
    run = {
        "commit_hash": "0123456789abcdef",
        "env_name": "existing-py",
        "date": 1767312000000,  # 2026-01-02 00:00 UTC
        "params": {"machine": "box"},
        "python": "3.11",
        "requirements": {},
        "env_vars": {},
        "result_columns": columns,
        "results": {
            "random.Normal.time_normal": [
                [0.002, 0.005, *gpu_values],
                [impls],
                "abc",
                1,
                2.0,
                [None, None, None, None],
            ],
            "random.Normal.track_ks": [[0.5, 0.25, None, None], [impls], "abc"],
            "mfac.Update.time_update": [[0.001, None], [["(65536, 256)", "(262144, 256)"]], "a"],
            "fastrp.Large.time_fastrp": [[1.5], [], "abc"],
        },
        "durations": {},
        "version": 2,
    }
    # asv writes NaN for a skipped combination (json.dumps does the same)
    (results / "box" / "01234567-existing-py.json").write_text(json.dumps(run))
    old = dict(run, date=run["date"] - 10**9, results={})
    (results / "box" / "76543210-existing-py.json").write_text(json.dumps(old))
    return results


def test_asv_results_tables(tmp_path):
    page = _page(tmp_path, "--from-asv", str(_asv_results(tmp_path)))
    assert "### Test CPU @ 3GHz, 16 cores, 64 GB RAM, Linux 6.1" in page
    assert "asv results of commit `01234567` (2026-01-02)" in page
    assert _row(page, "| `Normal.time_normal` |")[2:] == [
        "`sketchla`",
        "2.00 ms",
        "`numpy`",
        "5.00 ms",
        "2.50",
    ]
    assert _row(page, "| `Normal.track_ks` | — | `numpy` |")[3:] == ["0.25", "p-value"]
    update = _row(page, "| `Update.time_update` |")
    assert update[:4] == ["`Update.time_update`", "(d, m)=(65536, 256)", "`sketchla`", "1.00 ms"]
    assert _row(page, "| `Large.time_fastrp` |")[1:4] == ["—", "`sketchla`", "1.50 s"]
    assert "- `Update` ((d, m)=(262144, 256), `sketchla`): failed (`time_update`)" in page
    assert "No GPU results were given" in page  # the GPU rows were skipped (NaN)


def test_asv_gpu_results_need_the_card_name(tmp_path):
    results = _asv_results(tmp_path, gpu_values=(0.0004, 0.0002))
    with pytest.raises(tables.InputError, match="name the card with --device-name"):
        tables.build_sources(tables.parse_args(["--from-asv", str(results)]))
    page = _page(tmp_path, "--from-asv", str(results), "--device-name", "Test GPU")
    on_gpu = page[page.index("## GPU") :]
    assert "### Test GPU (host: Test CPU @ 3GHz" in on_gpu
    assert _row(on_gpu, "| `Normal.time_normal` |")[2:] == [
        "`sketchla-torch-cuda`",
        "200 µs",
        "`torch-cuda`",
        "400 µs",
        "2.00",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Traceback (most recent call last):", r"log:2: cannot read this line"),
        ("lstsq.TimeLstsq.time_solve('sketchla', 10)   fast", r"log:2: .*a time such as"),
        ("lstsq.TimeLstsq.track_error('sketchla', 10)   1.0 ms", r"log:2: .*a number"),
        ("lstsq.TimeLstsq.mem_use('sketchla', 10)   12", r"log:2: .*a time_ or track_"),
        ("lstsq.TimeLstsq.time_solve(sketchla, 10)   1.0 ms", r"log:2: the parameters .* literal"),
    ],
)
def test_a_line_that_is_not_direct_py_output_is_a_clear_error(tmp_path, line, message):
    log = tmp_path / "log"
    log.write_text(
        f"random.Normal.time_normal('sketchla',)   1.07 ms  ratio to first   1.00\n{line}\n"
    )
    with pytest.raises(tables.InputError, match=message):
        tables.read_direct_log(log)


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    log = tmp_path / "log"
    log.write_text("random.Normal.time_normal('sketchla',)   1.07 ms\n" * 2)
    argv = ["--from-direct", str(log), "--machine", "M", "--output", str(tmp_path / "p.md")]
    assert tables.main(argv) == 2
    assert "also measured at" in capsys.readouterr().err
    assert not (tmp_path / "p.md").exists()


def test_check_compares_without_writing(tmp_path, capsys):
    log = tmp_path / "cpu.log"
    log.write_text(CPU_LOG)
    output = tmp_path / "performance.md"
    argv = ["--from-direct", str(log), "--machine", "M", "--output", str(output)]
    assert tables.main([*argv, "--check"]) == 1
    assert tables.main(argv) == 0
    assert tables.main([*argv, "--check"]) == 0
    output.write_text(output.read_text().replace("3.00", "2.00"))
    assert tables.main([*argv, "--check"]) == 1
    assert "is out of date: run python scripts/performance_tables.py" in capsys.readouterr().err


def test_the_committed_page_is_what_its_command_writes(monkeypatch):
    page = (ROOT / "docs" / "performance.md").read_text()
    command = shlex.split(page.split("```console\n$ ", 1)[1].split("\n", 1)[0])
    assert command[:2] == ["python", "scripts/performance_tables.py"]
    monkeypatch.chdir(ROOT)
    assert tables.main([*command[2:], "--check"]) == 0
