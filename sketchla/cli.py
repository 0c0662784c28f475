"""The ``sketchla`` command."""

from __future__ import annotations

import argparse
import sys

from . import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sketchla",
        description="Randomized numerical linear algebra on every array backend.",
    )
    parser.add_argument("--version", action="version", version=f"sketchla {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the demo of every capability and write a markdown report",
        description="Print the backends and devices available, run every demo section, and "
        "write results.md (plus figures) into the output folder.",
    )
    demo.add_argument("--out", default="sketchla-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--quick", action="store_true", help="smaller problems, one repetition")
    demo.add_argument(
        "--section",
        action="append",
        metavar="MODULE",
        help="run only this section (repeatable); default: all",
    )
    commands.add_parser("backends", help="list the array backends and devices available")
    spectrum = commands.add_parser(
        "spectrum",
        help="spectral metrics (power-law alpha, norms, ...) of a checkpoint's weight matrices",
        description="Analyse the weight matrices of a .safetensors or .pt checkpoint (loaded "
        "safely: tensors only) and print one row of metrics per matrix.",
    )
    spectrum.add_argument("path", help="a .safetensors, .pt, .pth or .bin file")
    spectrum.add_argument(
        "--farms", action="store_true", help="fit FARMS's fixed-aspect-ratio ESD instead"
    )
    spectrum.add_argument("--plot", metavar="PNG", help="save the first layer's ESD plot here")
    spectrum.add_argument(
        "--format", choices=("markdown", "csv", "json"), default="markdown",
        help="output format (default: %(default)s)",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sketchla`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        run_demo(args.out, quick=args.quick, sections=tuple(args.section) if args.section else None)
        return 0
    if args.command == "spectrum":
        return _spectrum(args)
    if args.command == "backends":
        from ._array.backends import available_backends

        for b in available_backends():
            print(f"{b.label}\t{b.xp.__name__} {b.version}")
        return 0
    parser.print_help()
    return 0


def _spectrum(args: argparse.Namespace) -> int:
    from .spectral import analyze

    try:
        report = analyze(args.path, farms=args.farms, progress=sys.stderr.isatty())
    except (FileNotFoundError, ValueError, TypeError, ImportError) as exc:
        print(f"sketchla spectrum: {exc}", file=sys.stderr)
        return 2
    for reason in report.skipped:
        print(f"sketchla spectrum: skipped {reason}", file=sys.stderr)
    if not report.rows:
        print("sketchla spectrum: no weight matrix large enough to analyse", file=sys.stderr)
        return 2
    if args.format == "markdown":
        print(report.to_markdown())
    elif args.format == "csv":
        print(report.to_csv(), end="")
    else:
        print(report.to_json())
    if args.plot:
        try:
            import matplotlib
        except ImportError:
            print("sketchla spectrum: --plot needs matplotlib", file=sys.stderr)
            return 2
        matplotlib.use("Agg")
        ax = report.plot()
        ax.figure.savefig(args.plot, dpi=120, bbox_inches="tight")
    return 0


if __name__ == "__main__":
    sys.exit(main())
