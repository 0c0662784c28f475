"""Write ``docs/performance.md``: sketchla beside its peers, family by family, on CPU and GPU.

    python scripts/performance_tables.py --from-asv asv_bench/.asv/results
    python scripts/performance_tables.py --from-direct cpu.log --machine "EPYC 7763, 16 cores" \\
        --from-direct-gpu gpu.log --device-name "NVIDIA H100 80GB HBM3"
    python scripts/performance_tables.py ... --check  # exit 1 when the page is out of date

The page goes to ``--output`` (default ``docs/performance.md``).

Inputs are asv results (asv 0.6: ``<results>/benchmarks.json``, ``<results>/<machine>/machine.json``
and ``<results>/<machine>/<commit>-<env>.json``, of which the newest per machine is read) or the
logs printed by ``asv_bench/direct.py`` (``--from-direct`` for a CPU machine, described by
``--machine``; ``--from-direct-gpu`` for a machine with a CUDA device, named by ``--device-name``,
of whose logs only the GPU rows are kept). A benchmark runs on the GPU when its class name starts
with ``GPU`` or its implementation names ``cuda`` or ``cupy``.

Pairing: the ``impl`` parameter of a benchmark names the implementation. ``sketchla`` and
``sketchla-*`` are sketchla's (as are the method names listed in ``SKETCHLA_METHODS``), every
other value a peer; each sketchla implementation is paired with each peer measured at the same
other parameters on the same kind of device (only with the peers on its own array library,
torch or cupy, when it names one and such peers exist), and the ratio is the peer's time over
sketchla's. A benchmark without ``impl`` times sketchla alone. Parameter names come from
``benchmarks.json`` (asv) or from the benchmark sources (``--benchmark-dir``); a log whose
benchmarks are not found there is still read, the implementation being the parameter whose
values name sketchla.

The page is a pure function of the inputs and of the command line, which it records, so that
``--check`` can tell whether it is current.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime
import difflib
import itertools
import json
import math
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK_DIR = ROOT / "asv_bench" / "benchmarks"
SCRIPT = "scripts/performance_tables.py"

# Families whose ``impl`` values name sketchla's methods without the "sketchla" prefix; there,
# every other value is the exact or reference computation that the method replaces.
SKETCHLA_METHODS = {
    "completion": frozenset({"robust-shared", "robust-sketch", "robust_altmin"}),
    "lowrank": frozenset({"lanczos_svd", "rsvd"}),
    "sampling": frozenset({"sketch", "lewis_weights", "sample"}),
}

DASH = "—"


class InputError(ValueError):
    """An input that cannot be read: the message names the file (and line) and the problem."""


# ---------------------------------------------------------------------------------------------
# Measurements and where they come from


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One benchmark at one parameter combination: seconds (``time_``) or the tracked value
    (``track_``); ``value`` is None when it did not run, and ``note`` says why."""

    benchmark: str
    params: tuple
    value: float | None
    note: str
    origin: str


@dataclasses.dataclass(frozen=True)
class BenchmarkInfo:
    """What the benchmark's definition says: its parameter names and (``track_``) unit."""

    param_names: tuple[str, ...] | None
    unit: str | None


@dataclasses.dataclass(frozen=True)
class Source:
    """The measurements of one machine (CPU) or one card (GPU)."""

    device: str  # "CPU" or "GPU"
    title: str
    provenance: str
    measurements: tuple[Measurement, ...]
    info: dict[str, BenchmarkInfo]


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_LABEL = r"(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*){2,})(?P<args>\(.*\))"
_SKIPPED = re.compile(rf"{_LABEL}\s+skipped \((?P<why>.*)\)")
_TIMED = re.compile(
    rf"{_LABEL}\s+(?P<value>{_NUMBER})\s*(?P<unit>ns|us|µs|ms|s)"
    rf"(?:\s+(?:ratio to first\s+)?(?:{_NUMBER})x?)?"
)
_TRACKED = re.compile(rf"{_LABEL}\s+(?P<value>{_NUMBER})")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def read_direct_log(path: Path) -> list[Measurement]:
    """The measurements printed by ``asv_bench/direct.py`` into ``path``.

    Blank lines and lines starting with ``#`` are ignored; any other line must be a benchmark
    label ``suite.Class.method(params)`` followed by ``skipped (why)``, by a time
    (``1.07 ms  ratio to first 1.00``, ``0.123 s  1.00x``) for a ``time_`` benchmark, or by a
    number for a ``track_`` one.
    """
    measurements = []
    for number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        origin = f"{path}:{number}"
        method = line.split("(", 1)[0].rsplit(".", 1)[-1]
        kind = method.split("_", 1)[0]
        if kind not in ("time", "track"):
            raise InputError(
                f"{origin}: cannot read this line of a direct.py log (a time_ or track_ "
                f"benchmark label, then its result, was expected): {raw!r}"
            )
        if match := _SKIPPED.fullmatch(line):
            value, note = None, match["why"]
        elif kind == "time" and (match := _TIMED.fullmatch(line)):
            value, note = float(match["value"]) * _SECONDS[match["unit"]], ""
            if math.isnan(value):
                value, note = None, "no time (nan)"
        elif kind == "track" and (match := _TRACKED.fullmatch(line)):
            value, note = float(match["value"]), ""
        else:
            expected = "a time such as '1.07 ms'" if kind == "time" else "a number"
            raise InputError(
                f"{origin}: cannot read this line of a direct.py log ({expected} or "
                f"'skipped (reason)' after the label was expected): {raw!r}"
            )
        measurements.append(
            Measurement(match["name"], _parse_args(match["args"], origin), value, note, origin)
        )
    return measurements


def _parse_args(text: str, origin: str) -> tuple:
    try:
        args = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InputError(f"{origin}: the parameters {text} are not Python literals") from None
    return args if isinstance(args, tuple) else (args,)


def read_asv_results(
    results_dir: Path, machines: Sequence[str] = ()
) -> list[tuple[dict, dict, Path]]:
    """``(machine.json, newest results file, its path)`` for each machine under ``results_dir``
    that has results (all of them, or those named in ``machines``), sorted by machine name."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"{results_dir}: no such asv results directory")
    found = []
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        if machines and folder.name not in machines:
            continue
        files = sorted(p for p in folder.glob("*.json") if p.name != "machine.json")
        if not files:
            continue
        if not (folder / "machine.json").is_file():
            raise InputError(f"{folder}: asv results without a machine.json")
        machine = _load_json(folder / "machine.json")
        runs = [(_load_json(p), p) for p in files]
        for data, path in runs:
            for key in ("results", "result_columns", "date"):
                if key not in data:
                    raise InputError(f"{path}: not an asv 0.6 results file (no {key!r})")
        data, path = max(runs, key=lambda run: (run[0]["date"] or 0, run[1].name))
        found.append((machine, data, path))
    missing = set(machines) - {path.parent.name for _, _, path in found}
    if missing:
        raise InputError(f"{results_dir}: no results for asv machine(s) {sorted(missing)}")
    if not found:
        raise InputError(f"{results_dir}: no asv results files")
    return found


def asv_measurements(data: dict, path: Path) -> list[Measurement]:
    """The ``time_`` and ``track_`` measurements of one asv results file (other benchmark types
    are left out). A NaN result is a skipped combination, a null one a failed one."""
    columns = data["result_columns"]
    if "result" not in columns or "params" not in columns:
        raise InputError(f"{path}: result_columns lacks 'result' or 'params': {columns}")
    at_result, at_params = columns.index("result"), columns.index("params")
    measurements = []
    for name, row in sorted(data["results"].items()):
        if name.rsplit(".", 1)[-1].split("_", 1)[0] not in ("time", "track"):
            continue
        result = row[at_result] if len(row) > at_result else None
        params = row[at_params] if len(row) > at_params and row[at_params] else []
        combos = list(itertools.product(*[[_literal(v) for v in values] for values in params]))
        if result is None:
            result = [None] * len(combos)
        if not isinstance(result, list) or len(result) != len(combos):
            raise InputError(
                f"{path}: {name} has {len(combos)} parameter combinations but the results "
                f"{result!r}"
            )
        for combo, value in zip(combos, result, strict=True):
            if value is None:
                measured, note = None, "failed"
            elif isinstance(value, (int, float)) and math.isnan(value):
                measured, note = None, "skipped"
            elif isinstance(value, (int, float)):
                measured, note = float(value), ""
            else:
                raise InputError(f"{path}: {name}{combo}: result {value!r} is not a number")
            measurements.append(Measurement(name, combo, measured, note, str(path)))
    return measurements


def _literal(text):
    """asv stores parameter values as their repr: ``"'sketchla'"`` -> ``'sketchla'``."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _load_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None


def asv_benchmark_info(results_dir: Path) -> dict[str, BenchmarkInfo]:
    """Parameter names and units from ``benchmarks.json`` (empty when it is absent)."""
    path = Path(results_dir) / "benchmarks.json"
    if not path.is_file():
        return {}
    return {
        name: BenchmarkInfo(tuple(entry.get("param_names") or ()), entry.get("unit"))
        for name, entry in _load_json(path).items()
        if isinstance(entry, dict)
    }


def source_benchmark_info(folder: Path) -> dict[str, BenchmarkInfo]:
    """Parameter names and ``track_`` units read (not imported) from the benchmark sources:
    ``param_names = [...]`` and ``track_x.unit = "..."`` in a class or the classes it derives
    from in the same module."""
    info = {}
    for path in sorted(Path(folder).glob("*.py")) if folder else ():
        if path.name.startswith("_"):
            continue
        classes = {
            node.name: node
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.ClassDef)
        }
        for cls in classes.values():
            lineage, names, units, methods = _lineage(cls, classes), None, {}, []
            for ancestor in lineage:
                for node in ancestor.body:
                    if isinstance(node, ast.FunctionDef) and node.name.startswith(
                        ("time_", "track_")
                    ):
                        methods.append(node.name)
                    elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                        target = node.targets[0]
                        if isinstance(target, ast.Name) and target.id == "param_names":
                            names = names or _literal_or_none(node.value)
                        elif (
                            isinstance(target, ast.Attribute)
                            and target.attr == "unit"
                            and isinstance(target.value, ast.Name)
                        ):
                            units.setdefault(target.value.id, _literal_or_none(node.value))
            for method in dict.fromkeys(methods):
                key = f"{path.stem}.{cls.name}.{method}"
                info[key] = BenchmarkInfo(tuple(names) if names else None, units.get(method))
    return info


def _lineage(cls: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> list[ast.ClassDef]:
    lineage = [cls]
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in classes and base.id != cls.name:
            lineage += _lineage(classes[base.id], classes)
    return lineage


def _literal_or_none(node: ast.expr):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Pairing sketchla with its peers


def is_sketchla(impl, suite: str) -> bool:
    """Whether an ``impl`` value of family ``suite`` names a sketchla implementation."""
    return isinstance(impl, str) and (
        impl == "sketchla"
        or impl.startswith("sketchla-")
        or impl in SKETCHLA_METHODS.get(suite, ())
    )


def impl_position(
    benchmark: str, measurements: Iterable[Measurement], info: BenchmarkInfo | None
) -> int | None:
    """Which parameter is the implementation: the one named ``impl``; where the names are not
    known, the first whose values name sketchla. None: the benchmark times sketchla alone."""
    if info is not None and info.param_names is not None:
        names = info.param_names
        return names.index("impl") if "impl" in names else None
    suite = benchmark.split(".", 1)[0]
    combos = [m.params for m in measurements]
    for k in range(max((len(c) for c in combos), default=0)):
        if any(len(c) > k and is_sketchla(c[k], suite) for c in combos):
            return k
    return None


def device_of(benchmark: str, impl) -> str:
    """``"GPU"`` for a ``GPU*`` class or an implementation naming cuda or cupy, else ``"CPU"``."""
    cls = benchmark.split(".")[-2]
    on_gpu = cls.startswith("GPU") or (isinstance(impl, str) and ("cuda" in impl or "cupy" in impl))
    return "GPU" if on_gpu else "CPU"


@dataclasses.dataclass(frozen=True)
class TimeRow:
    benchmark: str  # Class.method
    parameters: str
    sketchla: str
    time: float | None
    peer: str
    peer_time: float | None

    @property
    def ratio(self) -> float | None:
        """Peer time over sketchla's time: above 1, sketchla is faster."""
        if self.time is None or self.peer_time is None or self.time <= 0:
            return None
        return self.peer_time / self.time


@dataclasses.dataclass(frozen=True)
class TrackRow:
    benchmark: str
    parameters: str
    implementation: str
    value: float
    unit: str


@dataclasses.dataclass
class FamilyTables:
    """The rows of one family: timings, tracked values, and what did not run (by benchmark
    class, parameters, implementation and reason: the methods concerned)."""

    times: list[TimeRow] = dataclasses.field(default_factory=list)
    tracks: list[TrackRow] = dataclasses.field(default_factory=list)
    not_measured: dict[tuple[str, str, str, str], list[str]] = dataclasses.field(
        default_factory=dict
    )


def family_tables(source: Source) -> dict[str, FamilyTables]:
    """The rows of ``source`` that ran on its kind of device, by family, families sorted."""
    by_benchmark: dict[str, list[Measurement]] = {}
    seen: dict[tuple, str] = {}
    for m in source.measurements:
        key = (m.benchmark, m.params)
        if key in seen:
            raise InputError(f"{m.origin}: {m.benchmark}{m.params} also measured at {seen[key]}")
        seen[key] = m.origin
        by_benchmark.setdefault(m.benchmark, []).append(m)
    families: dict[str, FamilyTables] = {}
    for benchmark in sorted(by_benchmark):
        measurements = by_benchmark[benchmark]
        info = source.info.get(benchmark)
        names = info.param_names if info else None
        if names is not None and any(len(m.params) != len(names) for m in measurements):
            info = None  # results of another revision: positional parameters
        k = impl_position(benchmark, measurements, info)
        groups: dict[tuple, list[tuple[str, Measurement]]] = {}
        for m in measurements:
            impl = m.params[k] if k is not None and k < len(m.params) else "sketchla"
            if device_of(benchmark, impl) == source.device:
                rest = tuple((i, v) for i, v in enumerate(m.params) if i != k)
                groups.setdefault(rest, []).append((str(impl), m))
        if groups:
            tables = families.setdefault(benchmark.split(".", 1)[0], FamilyTables())
            _add_rows(tables, benchmark, groups, info, with_impl=k is not None)
    return dict(sorted(families.items()))


def _add_rows(
    tables: FamilyTables,
    benchmark: str,
    groups: dict[tuple, list[tuple[str, Measurement]]],
    info: BenchmarkInfo | None,
    with_impl: bool,
) -> None:
    """Add the rows of one benchmark, whose measurements are grouped by the parameters other
    than the implementation."""
    suite, cls, method = benchmark.rsplit(".", 2)
    short = f"{cls}.{method}"
    names = info.param_names if info else None
    for rest, entries in groups.items():
        parameters = _parameters(rest, names)
        for impl, m in entries:
            if m.value is None:
                key = (cls, parameters, impl, m.note or "not measured")
                tables.not_measured.setdefault(key, []).append(method)
        ran = [(impl, m.value) for impl, m in entries if m.value is not None]
        if method.startswith("track_"):
            unit = (info.unit if info else None) or ""
            tables.tracks += [TrackRow(short, parameters, i, v, unit) for i, v in ran]
            continue
        ours = [(i, v) for i, v in ran if not with_impl or is_sketchla(i, suite)]
        peers = [(i, v) for i, v in ran if with_impl and not is_sketchla(i, suite)]
        for impl, seconds in ours:
            alike = [(p, v) for p, v in peers if _library(p) == _library(impl) is not None]
            for peer, peer_seconds in alike or peers or [(DASH, None)]:
                tables.times.append(TimeRow(short, parameters, impl, seconds, peer, peer_seconds))
        if not ours:
            tables.times += [TimeRow(short, parameters, DASH, None, p, v) for p, v in peers]


def _library(impl: str) -> str | None:
    """The array library an implementation names, if it names one."""
    return next((name for name in ("torch", "cupy") if name in impl), None)


def _parameters(rest: tuple[tuple[int, object], ...], names: tuple[str, ...] | None) -> str:
    if not rest:
        return DASH
    return ", ".join(f"{names[i]}={value}" if names else f"{value}" for i, value in rest)


# ---------------------------------------------------------------------------------------------
# The page


def format_seconds(seconds: float | None) -> str:
    """Three significant digits in s, ms, µs or ns: ``0.00123`` -> ``"1.23 ms"``."""
    if seconds is None:
        return DASH
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{_three_digits(seconds / scale)} {unit}"
    return f"{_three_digits(seconds / 1e-9)} ns"


def _three_digits(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def format_ratio(ratio: float | None) -> str:
    """``3.0`` -> ``"3.00"``; two decimals below 10, one below 100, none above."""
    return DASH if ratio is None else _three_digits(ratio)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _code(text: str) -> str:
    return DASH if text == DASH else f"`{text}`"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_page(sources: Sequence[Source], command: str, note: str = "") -> str:
    """The Markdown of ``docs/performance.md``."""
    lines = [
        "# Performance",
        "",
        "sketchla beside its peers, family by family, as timed by the asv suites in",
        "`asv_bench/benchmarks` (one file per family). Each row pairs one sketchla",
        "implementation with one peer measured at the same parameters on the same machine;",
        "**peer / sketchla** is the peer's time divided by sketchla's, so a value above 1 means",
        "sketchla is faster. Some peers are yardsticks rather than libraries: `one-pass` and",
        "`two-passes` time the bare passes over the data that any method needs. The accuracy",
        "tables give the `track_*` values of the same runs (a speed-up is never an accuracy",
        "loss), and what did not run (an optional library missing, too large) is listed under",
        "each family.",
        "",
        "This page is generated from benchmark results: do not edit it by hand. To regenerate it,",
        "run from the repository root:",
        "",
        "```console",
        f"$ {command}",
        "```",
        "",
    ]
    if note:
        lines += [":::{note}", note, ":::", ""]
    for device in ("CPU", "GPU"):
        lines += [f"## {device}", ""]
        chosen = [s for s in sources if s.device == device]
        if not chosen and device == "GPU":
            lines += [
                "No GPU results were given: run `asv_bench/direct.py` on a machine with a CUDA",
                "device and pass its log with `--from-direct-gpu LOG --device-name CARD`.",
                "",
            ]
        elif not chosen:
            lines += ["No CPU results were given.", ""]
        for source in chosen:
            lines += [f"### {source.title}", "", source.provenance, ""]
            families = family_tables(source)
            if not families:
                lines += [f"No {device} benchmark ran.", ""]
            for family, tables in families.items():
                lines += _family_lines(family, tables)
    return "\n".join(lines).rstrip("\n") + "\n"


def _family_lines(family: str, tables: FamilyTables) -> list[str]:
    lines = [f"#### {family}", ""]
    if tables.times:
        header = ["Benchmark", "Parameters", "sketchla", "Time", "Peer", "Peer time"]
        rows = [
            (
                _code(r.benchmark),
                r.parameters,
                _code(r.sketchla),
                format_seconds(r.time),
                _code(r.peer),
                format_seconds(r.peer_time),
                format_ratio(r.ratio),
            )
            for r in tables.times
        ]
        lines += [*_table([*header, "Peer / sketchla"], rows), ""]
    if tables.tracks:
        rows = [
            (_code(r.benchmark), r.parameters, _code(r.implementation), f"{r.value:.4g}", r.unit)
            for r in tables.tracks
        ]
        lines += ["Accuracy:", ""]
        lines += [*_table(["Benchmark", "Parameters", "Implementation", "Value", "Unit"], rows)]
        lines += [""]
    if tables.not_measured:
        lines += ["Not measured:", ""]
        for (cls, parameters, impl, why), methods in tables.not_measured.items():
            where = "" if parameters == DASH else f"{parameters}, "
            which = ", ".join(f"`{method}`" for method in methods)
            lines.append(f"- `{cls}` ({where}`{impl}`): {why} ({which})")
        lines += [""]
    return lines


# ---------------------------------------------------------------------------------------------
# Command line


def _machine_title(machine: dict) -> str:
    parts = [str(machine.get("cpu") or machine.get("machine") or "unknown CPU")]
    if machine.get("num_cpu"):
        parts.append(f"{machine['num_cpu']} cores")
    if str(machine.get("ram", "")).isdigit():  # kB, as asv records it
        parts.append(f"{int(machine['ram']) / 1024**2:.0f} GB RAM")
    if machine.get("os"):
        parts.append(str(machine["os"]))
    return ", ".join(parts)


def _date(milliseconds) -> str:
    when = datetime.datetime.fromtimestamp(milliseconds / 1000, tz=datetime.timezone.utc)
    return when.date().isoformat()


def _shown(path: str) -> str:
    """``path`` relative to the repository when inside it, in POSIX form."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(ROOT):
        return resolved.relative_to(ROOT).as_posix()
    return Path(path).as_posix()


def build_sources(args: argparse.Namespace) -> list[Source]:
    sources = []
    if args.from_asv:
        info = asv_benchmark_info(args.from_asv)
        for machine, data, path in read_asv_results(args.from_asv, args.asv_machine):
            measurements = tuple(asv_measurements(data, path))
            commit = str(data.get("commit_hash") or "")[:8]
            provenance = (
                f"asv results of commit `{commit}` ({_date(data['date'])}), machine "
                f"`{machine.get('machine', path.parent.name)}`: `{_shown(str(path))}`."
            )
            title = _machine_title(machine)
            sources.append(Source("CPU", title, provenance, measurements, info))
            card = f"{args.device_name} (host: {title})"
            gpu = Source("GPU", card, provenance, measurements, info)
            if _ran(gpu):
                if not args.device_name:
                    raise InputError(f"{path}: has GPU results: name the card with --device-name")
                sources.append(gpu)
    info = source_benchmark_info(args.benchmark_dir)
    for device, logs, title in (
        ("CPU", args.from_direct, args.machine),
        ("GPU", args.from_direct_gpu, args.device_name),
    ):
        if not logs:
            continue
        measurements = tuple(m for log in logs for m in read_direct_log(log))
        when = f" of {args.date}" if args.date else ""
        files = ", ".join(f"`{_shown(log)}`" for log in logs)
        provenance = f"`asv_bench/direct.py` log{'s' if len(logs) > 1 else ''}{when}: {files}."
        source = Source(device, title, provenance, measurements, info)
        if device == "CPU" and _ran(dataclasses.replace(source, device="GPU")):
            raise InputError(
                f"{', '.join(logs)}: has GPU results: pass the log with --from-direct-gpu and "
                "--device-name"
            )
        sources.append(source)
    return sources


def _ran(source: Source) -> bool:
    """Whether any benchmark of ``source`` ran on its kind of device."""
    return any(t.times or t.tracks for t in family_tables(source).values())


def command_line(args: argparse.Namespace) -> str:
    """The command that regenerates the page, options in a fixed order (not as typed)."""
    words = ["python", SCRIPT]
    if args.from_asv:
        words += ["--from-asv", _shown(args.from_asv)]
        for machine in args.asv_machine:
            words += ["--asv-machine", machine]
    if args.from_direct:
        words += ["--from-direct", *map(_shown, args.from_direct), "--machine", args.machine]
    if args.from_direct_gpu:
        words += ["--from-direct-gpu", *map(_shown, args.from_direct_gpu)]
    if args.device_name:
        words += ["--device-name", args.device_name]
    if args.date:
        words += ["--date", args.date]
    if args.note:
        words += ["--note", args.note]
    if Path(args.benchmark_dir).resolve() != BENCHMARK_DIR:
        words += ["--benchmark-dir", _shown(args.benchmark_dir)]
    words += ["--output", _shown(args.output)]
    return shlex.join(words)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-asv", metavar="DIR", help="asv results directory")
    parser.add_argument(
        "--asv-machine", action="append", default=[], metavar="NAME", help="only this machine"
    )
    parser.add_argument("--from-direct", nargs="+", default=[], metavar="LOG", help="CPU logs")
    parser.add_argument("--machine", help="the CPU machine of --from-direct (model, cores)")
    parser.add_argument(
        "--from-direct-gpu", nargs="+", default=[], metavar="LOG", help="logs of a GPU machine"
    )
    parser.add_argument("--device-name", help="the GPU card of the GPU results")
    parser.add_argument("--date", help="YYYY-MM-DD on which the direct.py logs were written")
    parser.add_argument("--note", default="", help="a note shown at the top of the page")
    parser.add_argument("--benchmark-dir", default=str(BENCHMARK_DIR), help=argparse.SUPPRESS)
    parser.add_argument("--output", default="docs/performance.md", metavar="PATH")
    parser.add_argument("--check", action="store_true", help="compare with --output, write nothing")
    args = parser.parse_args(argv)
    if not (args.from_asv or args.from_direct or args.from_direct_gpu):
        parser.error("give --from-asv DIR, --from-direct LOG... or --from-direct-gpu LOG...")
    if args.from_direct and not args.machine:
        parser.error("--from-direct needs --machine (the CPU model and cores)")
    if args.from_direct_gpu and not args.device_name:
        parser.error("--from-direct-gpu needs --device-name (the card)")
    if args.date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.date):
        parser.error(f"--date must be YYYY-MM-DD, got {args.date!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        page = render_page(build_sources(args), command_line(args), args.note)
    except (InputError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output = Path(args.output)
    if args.check:
        current = output.read_text() if output.is_file() else ""
        if current == page:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), page.splitlines(), str(output), "generated", lineterm=""
        )
        print("\n".join(itertools.islice(diff, 60)), file=sys.stderr)
        print(f"{output} is out of date: run {command_line(args)}", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
