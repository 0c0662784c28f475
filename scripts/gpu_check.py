"""Verify sketchla on a CUDA GPU in one command: the ``gpu`` tests, the GPU benchmarks, a report.

    python scripts/gpu_check.py                      # writes gpu-check.md (``make gpu-check``)
    python scripts/gpu_check.py --test-budget 240 --bench-budget 240 --output h100.md
    python scripts/gpu_check.py --tests tests/lstsq --suites lstsq random
    python scripts/gpu_check.py --cpu-dry-run        # the same pipeline on a machine without GPU

Three steps, sized so that the default budgets fit ten minutes on an H100:

1. ``pytest -m gpu`` over ``--tests`` (default ``tests``): every test marked ``gpu``, which
   includes the CuPy and Torch-CUDA parameters of the ``backend`` fixture and the CUDA-only
   tests. It runs in a child process with ``-p no:cacheprovider`` and JUnit XML into a
   temporary folder. This module is also that child's pytest plugin (``-p gpu_check``): once
   ``--test-budget`` seconds have passed it stops the session after the current test and the
   tests not reached are reported as "not run"; a test still running ``KILL_GRACE_S`` later
   is killed with its process.
2. The GPU benchmarks: the parameter combinations of ``asv_bench/benchmarks/<suite>.py`` (every
   suite, or ``--suites``) whose class name starts with ``GPU`` or whose parameters name
   ``cuda`` or ``cupy`` (the rule of ``scripts/performance_tables.py``). A child process times
   each with ``asv_bench/direct.py`` (best of ``--repeat`` calls after one warm-up); a setup
   that raises ``NotImplementedError`` (no device, library missing) is a skip, as in asv.
   Once ``--bench-budget`` seconds are spent the benchmark in progress takes no further
   timed call and the remaining combinations are not run; one still running
   ``KILL_GRACE_S`` later is killed (reported, not counted as a failure).
   ``--bench-log`` also writes the results in ``direct.py``'s format, which
   ``scripts/performance_tables.py --from-direct-gpu`` reads.
3. A markdown report (``--output``, default ``gpu-check.md``): the card, driver, CUDA, Torch and
   CuPy versions; the test outcomes per test folder and per backend, failures listed; the
   benchmark times with their ratio to the sketchla row of the same benchmark.

Exit status: 0 when every test that ran passed and no benchmark raised (a spent budget is
reported, not failed; a test killed at the time limit fails), 1 otherwise, 3 when no CUDA
device is visible: then nothing is run and no report is written. ``--cpu-dry-run`` runs the
same pipeline on whatever is present (on a CPU every gpu test is skipped and every GPU
benchmark too), so that the script itself can be tested anywhere; its report says so at the
top.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASV_BENCH = ROOT / "asv_bench"
BENCHMARKS = ASV_BENCH / "benchmarks"

#: Seconds a child may run past its budget (the test or benchmark it is in) before it is killed.
KILL_GRACE_S = 45
#: Exit status when no CUDA device is visible (and --cpu-dry-run was not given).
EXIT_NO_GPU = 3
#: How the parent tells the pytest child (this module as a plugin) its deadline and log file.
DEADLINE_ENV = "SKETCHLA_GPU_CHECK_DEADLINE"
PROGRESS_ENV = "SKETCHLA_GPU_CHECK_PROGRESS"
#: The backends of ``tests/conftest.py`` that run on the GPU, as they appear in test ids.
GPU_BACKENDS = ("cupy", "torch-cuda")
#: ``pytest -m gpu`` and its options: no cache written into the checkout, this module as the
#: plugin that enforces the budget, JUnit XML that names each test's file, CI's Hypothesis.
PYTEST_OPTIONS = shlex.split(
    "-m gpu -p no:cacheprovider -p gpu_check -o junit_family=xunit1 --hypothesis-profile=ci "
    "--tb=short -q"
)


# -------------------------------------------------------------------------------------------
# The pytest plugin, active only in the child started by run_tests (``-p gpu_check``)

_session = None


def pytest_sessionstart(session):
    global _session
    _session = session


def pytest_collection_finish(session):
    _progress({"event": "selected", "nodeids": [item.nodeid for item in session.items]})


def pytest_runtest_logstart(nodeid, location):
    _progress({"event": "start", "nodeid": nodeid})


def pytest_runtest_logreport(report):
    if report.when == "call" or not report.passed:
        message = str(report.longrepr)[:2000] if report.longrepr is not None else ""
        _progress(
            {
                "event": "report",
                "nodeid": report.nodeid,
                "when": report.when,
                "outcome": report.outcome,
                "message": message,
            }
        )


def pytest_runtest_logfinish(nodeid, location):
    deadline = os.environ.get(DEADLINE_ENV)
    if deadline and time.time() > float(deadline) and _session is not None:
        if not _session.shouldstop:
            _progress({"event": "stopped", "after": nodeid})
        _session.shouldstop = "gpu_check: the test time budget is spent"


def _progress(event: dict) -> None:
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(event) + "\n")


# -------------------------------------------------------------------------------------------
# The device


@dataclass
class Device:
    """What is visible: ``present`` when Torch or CuPy sees a CUDA device; ``facts`` for the
    report; ``why_not`` explains an absent device."""

    present: bool
    name: str
    facts: list[tuple[str, str]]
    why_not: list[str]


def inspect_device() -> Device:
    facts: list[tuple[str, str]] = []
    why_not: list[str] = []
    names: list[str] = []
    present = False
    try:
        import torch
    except ImportError:
        torch = None
        facts.append(("torch", "not installed"))
        why_not.append("Torch is not installed")
    if torch is not None:
        facts.append(("torch", torch.__version__))
        facts.append(("CUDA (torch build)", torch.version.cuda or "none (a CPU-only build)"))
        if torch.version.cuda is None:
            why_not.append(f"torch {torch.__version__} is a CPU-only build")
        elif not torch.cuda.is_available():
            why_not.append("torch.cuda.is_available() is False")
        else:
            present = True
            names.append(torch.cuda.get_device_name(0))
            props = torch.cuda.get_device_properties(0)
            facts.append(("devices (torch)", str(torch.cuda.device_count())))
            facts.append(("memory (torch)", f"{props.total_memory / 2**30:.1f} GiB"))
            facts.append(("compute capability", f"{props.major}.{props.minor}"))
    try:
        import cupy
    except ImportError:
        cupy = None
        facts.append(("cupy", "not installed (its gpu tests are skipped)"))
        why_not.append("CuPy is not installed")
    except Exception as error:  # a CuPy wheel for another CUDA, a broken install
        cupy = None
        facts.append(("cupy", f"import failed: {type(error).__name__}: {error}"))
        why_not.append("CuPy does not import")
    if cupy is not None:
        facts.append(("cupy", cupy.__version__))
        runtime = cupy.cuda.runtime
        try:
            count = runtime.getDeviceCount()
            facts.append(("CUDA runtime (cupy)", _cuda_version(runtime.runtimeGetVersion())))
            facts.append(("CUDA driver API (cupy)", _cuda_version(runtime.driverGetVersion())))
        except Exception as error:  # CUDARuntimeError without a driver
            count = 0
            why_not.append(f"CuPy sees no device ({type(error).__name__})")
        if count > 0:
            present = True
            name = runtime.getDeviceProperties(0)["name"]
            names.append(name.decode() if isinstance(name, bytes) else str(name))
    smi = _nvidia_smi()
    if smi:
        facts.append(("driver (nvidia-smi)", ", ".join(sorted({driver for _, driver, _ in smi}))))
        facts.append(("GPUs (nvidia-smi)", "; ".join(f"{n}, {memory}" for n, _, memory in smi)))
        if not present:
            why_not.append(f"although nvidia-smi lists {smi[0][0]}")
    else:
        facts.append(("nvidia-smi", "not found, or it lists no GPU"))
    facts.insert(0, ("card", names[0] if names else "none"))
    facts.append(("python", sys.version.split()[0]))
    facts.append(("sketchla", _sketchla_version()))
    return Device(present, names[0] if names else "", facts, why_not)


def _cuda_version(number: int) -> str:
    """CUDA's integer version (12040) as 12.4."""
    return f"{number // 1000}.{number % 1000 // 10}"


def _nvidia_smi() -> list[tuple[str, str, str]]:
    """Name, driver version and memory of each GPU that nvidia-smi lists (none without it)."""
    if shutil.which("nvidia-smi") is None:
        return []
    query = "--query-gpu=name,driver_version,memory.total"
    try:
        out = subprocess.run(
            ["nvidia-smi", query, "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [[part.strip() for part in line.split(",")] for line in out.splitlines()]
    return [(row[0], row[1], row[2]) for row in rows if len(row) == 3]


def _sketchla_version() -> str:
    try:
        import sketchla
    except ImportError:
        return "not importable"
    return sketchla.__version__


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes)" if dirty else head


# -------------------------------------------------------------------------------------------
# Children with a hard time limit


def _run_child(command: Sequence[str], *, timeout: float, log: Path, env: dict) -> tuple[int, bool]:
    """Run ``command`` in ROOT with its output in ``log``; kill its whole process group after
    ``timeout`` seconds. Returns the exit status and whether it was killed."""
    with open(log, "w", encoding="utf-8") as out:
        child = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return child.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            return child.wait(), True
        except BaseException:  # Ctrl-C: leave no child behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            raise


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: this one, with ``scripts/`` importable (the plugin)."""
    path = os.pathsep.join(filter(None, [str(ROOT / "scripts"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def _read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line cut by a kill
            events.append(json.loads(line))
    return events


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


# -------------------------------------------------------------------------------------------
# 1. The gpu tests


@dataclass
class Outcome:
    nodeid: str
    outcome: str  # passed, failed, error, skipped
    message: str = ""
    details: str = ""

    @property
    def family(self) -> str:
        """The test module's folder (``tests/lstsq``)."""
        return family_of(self.nodeid)


@dataclass
class PytestRun:
    command: list[str]
    budget: float
    seconds: float
    returncode: int
    outcomes: list[Outcome]
    not_run: list[str]
    stopped_by_budget: bool
    killed: bool
    hung: str | None
    log_tail: str

    @property
    def problem(self) -> str | None:
        """Why the run itself (not a test) went wrong, or None."""
        if self.killed:
            hung = f" in {self.hung}" if self.hung else ""
            return f"pytest was killed {KILL_GRACE_S} s after its budget ran out{hung}"
        if self.returncode == 5:
            return "pytest selected no test marked gpu"
        if self.returncode in (0, 1) or (self.returncode == 2 and self.stopped_by_budget):
            return None
        return f"pytest exited with status {self.returncode} (collection or internal error)"

    @property
    def failed(self) -> list[Outcome]:
        return [t for t in self.outcomes if t.outcome in ("failed", "error")]


def family_of(nodeid: str) -> str:
    return str(Path(nodeid.split("::", 1)[0]).parent)


def backend_of(nodeid: str) -> str:
    """The GPU backend of :data:`GPU_BACKENDS` in the test id's parameters, or ``other``
    (tests marked gpu that pick their device themselves)."""
    params = nodeid.rsplit("[", 1)[1].rstrip("]") if nodeid.endswith("]") else ""
    return next((b for b in GPU_BACKENDS if b in params), "other")


def run_tests(paths: Sequence[str], budget: float, workdir: Path) -> PytestRun:
    junit, progress, log = workdir / "junit.xml", workdir / "tests.jsonl", workdir / "pytest.log"
    command = [sys.executable, "-m", "pytest", *PYTEST_OPTIONS, f"--junitxml={junit}", *paths]
    began = time.time()
    env = _child_env({DEADLINE_ENV: str(began + budget), PROGRESS_ENV: str(progress)})
    returncode, killed = _run_child(command, timeout=budget + KILL_GRACE_S, log=log, env=env)
    seconds = time.time() - began
    events = _read_events(progress)
    selected = next((e["nodeids"] for e in reversed(events) if e["event"] == "selected"), [])
    outcomes = read_junit(junit) if junit.exists() else outcomes_from_events(events)
    hung = None
    if killed:
        started = [e["nodeid"] for e in events if e["event"] == "start"]
        finished = {t.nodeid for t in outcomes}
        hung = next((n for n in reversed(started) if n not in finished), None)
        if hung is not None:
            outcomes.append(
                Outcome(hung, "error", "killed: still running when the hard time limit came")
            )
    ran = {t.nodeid for t in outcomes}
    not_run = [nodeid for nodeid in selected if nodeid not in ran]
    stopped = any(e["event"] == "stopped" for e in events)
    shown = ["pytest", *command[3:]]  # the temporary file's name would only be noise
    shown[shown.index(f"--junitxml={junit}")] = "--junitxml=<temporary file>"
    return PytestRun(
        command=shown,
        budget=budget,
        seconds=seconds,
        returncode=returncode,
        outcomes=outcomes,
        not_run=not_run,
        stopped_by_budget=stopped,
        killed=killed,
        hung=hung,
        log_tail=_tail(log),
    )


def read_junit(path: Path) -> list[Outcome]:
    """Outcomes from pytest's JUnit XML (``junit_family=xunit1``: each case has its file)."""
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        nodeid = _junit_nodeid(case)
        outcome, message, details = "passed", "", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = child.get("message", "")
                details = child.text or ""
                if outcome != "skipped":
                    break  # a failure outranks a skip reported for the same test
        outcomes.append(Outcome(nodeid, outcome, message, details))
    return outcomes


def _junit_nodeid(case: ET.Element) -> str:
    name, classname = case.get("name", ""), case.get("classname", "")
    file = case.get("file")
    if file:
        module = file.removesuffix(".py").replace("/", ".").replace("\\", ".")
        inner = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
        return "::".join(filter(None, [file.replace("\\", "/"), *inner.split("."), name]))
    return "::".join([classname.replace(".", "/") + ".py", name])


def outcomes_from_events(events: Iterable[dict]) -> list[Outcome]:
    """Outcomes from the plugin's log, for a run killed before pytest wrote its XML."""
    by_id: dict[str, Outcome] = {}
    for event in events:
        if event["event"] != "report":
            continue
        nodeid, outcome = event["nodeid"], event["outcome"]
        if outcome == "failed" and event["when"] != "call":
            outcome = "error"
        known = by_id.get(nodeid)
        if known is None or known.outcome == "passed" or outcome in ("failed", "error"):
            lines = event["message"].splitlines()
            first = next((x[1:].strip() for x in lines if x.startswith("E ")), lines[-1:])
            by_id[nodeid] = Outcome(nodeid, outcome, "".join(first), event["message"])
    return list(by_id.values())


# -------------------------------------------------------------------------------------------
# 2. The GPU benchmarks


def benchmark_suites() -> list[str]:
    return sorted(p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_"))


def is_gpu_case(case) -> bool:
    """A benchmark combination that runs on the GPU: its class name starts with ``GPU`` or a
    parameter names ``cuda`` or ``cupy`` (the rule of ``scripts/performance_tables.py``)."""
    names_gpu = any(isinstance(p, str) and ("cuda" in p or "cupy" in p) for p in case.combo)
    return case.cls.__name__.startswith("GPU") or names_gpu


def bench_worker(suites: Sequence[str], repeat: int, deadline: float, records: Path) -> int:
    """The child of :func:`run_benchmarks`: plan every GPU combination of ``suites``, then run
    them in order until ``deadline`` (a ``time.time()``), one JSON line per event."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX shares the GPU
    sys.path.insert(0, str(ASV_BENCH))
    import direct

    def emit(event: dict) -> None:
        with open(records, "a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")

    planned = []
    for suite in suites:
        try:
            found = [c for c in direct.cases(suite) if is_gpu_case(c)]
        except Exception as error:
            emit({"event": "suite-error", "suite": suite, "reason": _exception_text(error)})
            continue
        for case in found:
            emit({"event": "plan", **_describe(case)})
            planned.append(case)
    for case in planned:
        if time.time() > deadline:
            emit(
                {
                    "event": "result",
                    "label": case.label,
                    "kind": "budget",
                    "reason": "not run: the benchmark time budget was spent",
                }
            )
            continue
        emit({"event": "start", "label": case.label})
        try:
            record = direct.run_case(case, repeat=repeat, deadline=deadline)
            result = {"kind": record.kind, "value": record.value, "calls": record.calls}
            result["reason"] = record.reason
        except Exception as error:
            result = {
                "kind": "error",
                "reason": _exception_text(error),
                "details": traceback.format_exc(limit=-8),
            }
        emit({"event": "result", "label": case.label, **result})
        _release_device_memory()
    return 0


def _describe(case) -> dict:
    """The plan entry of a case: its label, benchmark, parameters as text, its implementation
    (the ``impl`` parameter, else the first) and the other parameters (for ratios)."""
    pairs = [f"{n}={v}" for n, v in zip(case.param_names, case.combo, strict=True)]
    at = case.param_names.index("impl") if "impl" in case.param_names else 0
    return {
        "label": case.label,
        "benchmark": f"{case.suite}.{case.benchmark}",
        "params": ", ".join(pairs),
        "impl": str(case.combo[at]) if case.combo else "",
        "others": ", ".join(pair for i, pair in enumerate(pairs) if i != at),
    }


def _exception_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:300]


def _release_device_memory() -> None:
    """Free what the last benchmark left in the allocators' caches before the next one."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        with contextlib.suppress(Exception):
            cupy.get_default_memory_pool().free_all_blocks()


@dataclass
class BenchRow:
    label: str
    benchmark: str
    params: str
    impl: str
    others: str
    kind: str = "not run"  # time, track, skipped, budget, error, killed, not run
    value: float | None = None
    reason: str = ""
    details: str = ""
    calls: int = 0


@dataclass
class BenchRun:
    suites: list[str]
    budget: float
    repeat: int
    seconds: float
    rows: list[BenchRow]
    suite_errors: list[tuple[str, str]]
    killed: bool
    returncode: int
    log_tail: str
    problems: list[str] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        return sum(row.kind in kinds for row in self.rows)


def run_benchmarks(suites: Sequence[str], repeat: int, budget: float, workdir: Path) -> BenchRun:
    records, log = workdir / "benchmarks.jsonl", workdir / "benchmarks.log"
    began = time.time()
    worker = [str(Path(__file__).resolve()), "--bench-worker", "--records", str(records)]
    options = ["--repeat", str(repeat), "--deadline", str(began + budget), "--suites", *suites]
    command, env = [sys.executable, *worker, *options], _child_env()
    returncode, killed = _run_child(command, timeout=budget + KILL_GRACE_S, log=log, env=env)
    seconds = time.time() - began
    rows: dict[str, BenchRow] = {}
    suite_errors = []
    running = None
    for event in _read_events(records):
        if event["event"] == "plan":
            rows[event["label"]] = BenchRow(**{k: v for k, v in event.items() if k != "event"})
        elif event["event"] == "start":
            running = event["label"]
        elif event["event"] == "result":
            row = rows[event["label"]]
            row.kind, row.value = event["kind"], event.get("value")
            row.reason, row.details = event.get("reason", ""), event.get("details", "")
            row.calls = event.get("calls", 0)
            running = None
        elif event["event"] == "suite-error":
            suite_errors.append((event["suite"], event["reason"]))
    problems = []
    if running is not None:  # the child ended inside this benchmark
        row = rows[running]
        row.kind = "killed" if killed else "error"
        row.reason = (
            f"killed {KILL_GRACE_S} s after the budget ran out"
            if killed
            else f"the benchmark process died here (status {returncode})"
        )
    elif returncode != 0:
        problems.append(f"the benchmark process exited with status {returncode}")
    for row in rows.values():
        if row.kind == "not run":
            row.reason = "not reached: the benchmark process ended before it"
    return BenchRun(
        suites=list(suites),
        budget=budget,
        repeat=repeat,
        seconds=seconds,
        rows=list(rows.values()),
        suite_errors=suite_errors,
        killed=killed,
        returncode=returncode,
        log_tail=_tail(log),
        problems=problems,
    )


def reference_row(row: BenchRow, rows: Sequence[BenchRow]) -> BenchRow | None:
    """The sketchla row that ``row``'s time is compared with: same benchmark and other
    parameters, ``impl`` starting with ``sketchla``, on the same library (torch or cupy) when
    there are several; the first one otherwise."""
    candidates = [
        r
        for r in rows
        if r.kind == "time"
        and r.benchmark == row.benchmark
        and r.others == row.others
        and r.impl.startswith("sketchla")
    ]
    same_library = [r for r in candidates if _library(r.impl) == _library(row.impl)]
    return (same_library or candidates or [None])[0]


def _library(impl: str) -> str:
    return "cupy" if "cupy" in impl else "torch" if "torch" in impl else ""


def write_bench_log(run: BenchRun, path: Path) -> None:
    """The results as ``asv_bench/direct.py`` prints them (``performance_tables.py`` reads
    this); budget-skipped rows as skips, errors as comments."""
    lines = [f"# scripts/gpu_check.py: best of {run.repeat} after one warm-up"]
    first: dict[str, float] = {}
    for row in run.rows:
        if row.kind == "time":
            first.setdefault(row.benchmark, row.value)
            ratio = row.value / first[row.benchmark]
            lines.append(f"{row.label:70s} {1e3 * row.value:9.2f} ms  ratio to first {ratio:6.2f}")
        elif row.kind == "track":
            lines.append(f"{row.label:70s} {row.value:.4g}")
        elif row.kind in ("skipped", "budget"):
            lines.append(f"{row.label:70s} skipped ({row.reason})")
        else:
            lines.append(f"# {row.label} {row.kind}: {row.reason}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -------------------------------------------------------------------------------------------
# 3. The report


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub markdown table; the header is written even without rows."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _details(summary: str, text: str) -> list[str]:
    """``text`` verbatim in a block that GitHub shows collapsed (nothing without text)."""
    if not text:
        return []
    return [
        "",
        f"<details><summary><code>{summary}</code></summary>\n\n```\n{text}\n```\n\n</details>",
    ]


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def render_report(
    *,
    device: Device,
    dry_run: bool,
    command: str,
    began: datetime.datetime,
    seconds: float,
    tests: PytestRun,
    bench: BenchRun,
) -> str:
    out: list[str] = []
    if dry_run:
        out.append("# GPU check: CPU dry run")
        out.append("")
        card = f"the {device.name} was used" if device.present else "no CUDA device was used"
        out.append(
            f"> `--cpu-dry-run`: {card}. This report checks the pipeline, not the GPU: "
            "tests and benchmarks that need a CUDA device were skipped, not passed."
        )
    else:
        out.append(f"# GPU check: {device.name}")
    out += [
        "",
        f"`{command}`, started {began:%Y-%m-%d %H:%M} UTC at commit {_git_revision()}, "
        f"took {_seconds(seconds)}.",
        "",
        "## Device",
        "",
    ]
    out.append(table(["item", "value"], device.facts))
    out += ["", *_test_section(tests), "", *_bench_section(bench), ""]
    return "\n".join(out)


def _test_section(run: PytestRun) -> list[str]:
    counts: dict[str, Counter] = defaultdict(Counter)
    backends: dict[str, Counter] = defaultdict(Counter)
    for t in run.outcomes:
        outcome = "failed" if t.outcome == "error" else t.outcome
        counts[t.family][outcome] += 1
        backends[backend_of(t.nodeid)][outcome] += 1
    for nodeid in run.not_run:
        counts[family_of(nodeid)]["not run"] += 1
        backends[backend_of(nodeid)]["not run"] += 1
    columns = ["passed", "failed", "skipped", "not run"]
    total = sum(counts.values(), Counter())
    lines = ["## Tests: `pytest -m gpu`", ""]
    ran = len(run.outcomes)
    lines.append(
        f"`{shlex.join(run.command)}`: {ran} tests reported in "
        f"{_seconds(run.seconds)} (budget {_seconds(run.budget)}): "
        + ", ".join(f"{total[c]} {c}" for c in columns)
        + "."
    )
    if run.not_run:
        lines += [
            "",
            f"**Incomplete:** the test budget was spent; {len(run.not_run)} selected "
            "tests did not run (column *not run*). Raise `--test-budget` or narrow "
            "`--tests`.",
        ]
    if run.problem:
        lines += ["", f"**Problem:** {run.problem}. The end of pytest's output:", ""]
        lines.append(f"```\n{run.log_tail}\n```")
    lines += ["", "Per test folder (family):", ""]
    rows = [[family, *(counts[family][c] for c in columns)] for family in sorted(counts)]
    rows.append(["**all**", *(total[c] for c in columns)])
    lines.append(table(["family", *columns], rows))
    lines += ["", "Per backend (`other`: gpu tests that choose their device themselves):", ""]
    lines.append(
        table(
            ["backend", *columns],
            [[b, *(backends[b][c] for c in columns)] for b in sorted(backends)],
        )
    )
    reasons = Counter(t.message for t in run.outcomes if t.outcome == "skipped")
    if reasons:
        lines += ["", "Skip reasons:", ""]
        lines.append(table(["reason", "tests"], reasons.most_common(10)))
    lines += ["", "### Failures", ""]
    if not run.failed:
        lines.append("None.")
    for t in run.failed:
        message = t.message.strip().splitlines()[0][:300] if t.message.strip() else t.outcome
        lines.append(f"- `{t.nodeid}` ({t.outcome}): {message}")
    for t in run.failed[:20]:
        lines += _details(t.nodeid, "\n".join(t.details.strip().splitlines()[-40:]))
    return lines


def _bench_section(run: BenchRun) -> list[str]:
    gpu_rows = len(run.rows)
    lines = ["## Benchmarks: the GPU rows of `asv_bench/benchmarks`", ""]
    lines.append(
        f"Suites {', '.join(run.suites)}: {gpu_rows} GPU combinations; {run.count('time')} "
        f"timed, {run.count('track')} tracked, {run.count('skipped')} skipped, "
        f"{run.count('budget', 'not run')} not run, {run.count('error')} failed, "
        f"{run.count('killed')} killed at the time limit, in "
        f"{_seconds(run.seconds)} (budget {_seconds(run.budget)}). Times are the best of "
        f"{run.repeat} calls after one warm-up (`asv_bench/direct.py`)."
    )
    if run.count("budget", "killed"):
        lines += [
            "",
            f"**Budget spent:** after {_seconds(run.budget)} the remaining "
            f"{run.count('budget', 'not run')} combinations were skipped (status *not run* below). "
            "Raise `--bench-budget` or narrow `--suites`.",
        ]
    for problem in run.problems:
        lines += ["", f"**Problem:** {problem}. The end of its output:", ""]
        lines.append(f"```\n{run.log_tail}\n```")
    for suite, reason in run.suite_errors:
        lines += ["", f"**Suite `{suite}` did not import:** {reason}"]
    timed = [r for r in run.rows if r.kind == "time"]
    lines += ["", "### Timings", ""]
    if not timed:
        lines += ["No benchmark was timed.", ""]
    rows = []
    for row in timed:
        ref = reference_row(row, run.rows)
        ratio = f"{row.value / ref.value:.2f} (to {ref.impl})" if ref else "—"
        seconds = f"{row.value:.4g}"
        if row.calls < run.repeat:
            seconds += f" (best of {row.calls}: budget spent)"
        rows.append([row.benchmark, row.params, seconds, ratio])
    lines.append(table(["benchmark", "params", "seconds", "ratio to sketchla"], rows))
    lines += [
        "",
        "The ratio is this row's time over that of the sketchla row of the same "
        "benchmark and other parameters (on the same library where there are several).",
    ]
    tracked = [r for r in run.rows if r.kind == "track"]
    if tracked:
        lines += ["", "### Tracked values", ""]
        lines.append(
            table(
                ["benchmark", "params", "value"],
                [[r.benchmark, r.params, f"{r.value:.4g}"] for r in tracked],
            )
        )
    others = [r for r in run.rows if r.kind not in ("time", "track")]
    lines += ["", "### Not timed", ""]
    if not others:
        lines.append("None.")
    else:
        statuses = {"budget": "not run (budget)", "not run": "not run (process ended)"}
        lines.append(
            table(
                ["benchmark", "params", "status", "reason"],
                [[r.benchmark, r.params, statuses.get(r.kind, r.kind), r.reason] for r in others],
            )
        )
    for row in [r for r in run.rows if r.kind == "error"][:20]:
        lines += _details(row.label, row.details.strip())
    return lines


# -------------------------------------------------------------------------------------------
# The command


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Defaults fit ten minutes on an H100: 300 s of tests, 180 s of benchmarks.",
    )
    parser.add_argument("--output", default="gpu-check.md", help="the markdown report")
    parser.add_argument(
        "--cpu-dry-run",
        action="store_true",
        help="run the pipeline without requiring a GPU (tests the script)",
    )
    parser.add_argument(
        "--tests",
        nargs="+",
        default=["tests"],
        metavar="PATH",
        help="test files or folders, relative to the repository (default: tests)",
    )
    parser.add_argument(
        "--suites",
        nargs="+",
        metavar="NAME",
        choices=benchmark_suites(),
        help="benchmark modules of asv_bench/benchmarks (default: all)",
    )
    parser.add_argument(
        "--test-budget",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="after this, pytest stops after the current test (default 300)",
    )
    parser.add_argument(
        "--bench-budget",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="after this, no further benchmark starts (default 180)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per benchmark (3)")
    parser.add_argument(
        "--bench-log",
        metavar="PATH",
        help="also write the benchmark results in asv_bench/direct.py's format",
    )
    # the benchmark child (run_benchmarks starts this same script)
    parser.add_argument("--bench-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--records", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.test_budget < 0 or args.bench_budget < 0:
        parser.error("budgets must be at least 0 seconds")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    suites = args.suites or benchmark_suites()
    if args.bench_worker:
        return bench_worker(suites, args.repeat, args.deadline, Path(args.records))
    began_at = datetime.datetime.now(datetime.timezone.utc)
    began = time.time()
    device = inspect_device()
    if not device.present and not args.cpu_dry_run:
        print(
            "gpu_check: no CUDA device is visible (" + "; ".join(device.why_not) + "). "
            "Nothing was run and no report was written. Run this on a machine with a CUDA "
            "GPU (with a CUDA build of Torch and/or CuPy installed), or pass --cpu-dry-run "
            "to exercise the script itself.",
            file=sys.stderr,
        )
        return EXIT_NO_GPU
    output = Path(args.output).resolve()
    tests = [_from_here(path) for path in args.tests]
    where = device.name or "no CUDA device (dry run)"
    print(
        f"gpu_check: {where}; pytest -m gpu over {' '.join(tests)} (budget {args.test_budget:g} s)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        test_run = run_tests(tests, args.test_budget, Path(tmp))
        print(
            f"gpu_check: {len(test_run.outcomes)} tests reported, {len(test_run.failed)} "
            f"failed, {len(test_run.not_run)} not run, in {test_run.seconds:.0f} s; "
            f"benchmarks of {', '.join(suites)} (budget {args.bench_budget:g} s)",
            flush=True,
        )
        bench_run = run_benchmarks(suites, args.repeat, args.bench_budget, Path(tmp))
    report = render_report(
        device=device,
        dry_run=args.cpu_dry_run,
        began=began_at,
        command=shlex.join(["python", "scripts/gpu_check.py", *(argv or sys.argv[1:])]),
        seconds=time.time() - began,
        tests=test_run,
        bench=bench_run,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_text(report, encoding="utf-8")
    partial.replace(output)
    if args.bench_log:
        write_bench_log(bench_run, Path(args.bench_log))
    failed = bool(
        test_run.failed
        or test_run.problem
        or bench_run.count("error")
        or bench_run.suite_errors
        or bench_run.problems
    )
    print(
        f"gpu_check: {bench_run.count('time')} benchmarks timed, "
        f"{bench_run.count('skipped')} skipped, {bench_run.count('budget')} not run "
        f"(budget), {bench_run.count('error')} failed; report: {output}"
        + ("; FAILURES, see the report" if failed else "")
    )
    return 1 if failed else 0


def _from_here(path: str) -> str:
    """A --tests path given from the current folder, made absolute when it exists from here
    (pytest runs in the repository root); node ids (``file::test``) keep their suffix."""
    file, sep, rest = path.partition("::")
    here = Path(file)
    if not here.is_absolute() and here.exists() and Path.cwd().resolve() != ROOT:
        return str(here.resolve()) + sep + rest
    return path


if __name__ == "__main__":
    sys.exit(main())
