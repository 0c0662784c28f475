"""The ``sketchla`` command: version, help, backends, and the demo's report."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sketchla import __version__
from sketchla.cli import main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"sketchla {__version__}"
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_backends_lists_numpy(capsys):
    assert main(["backends"]) == 0
    assert capsys.readouterr().out.startswith("numpy (cpu)")


def test_demo_writes_a_report(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "sketchla.cli", "demo", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Backends and devices available" in result.stdout
    report = (out / "results.md").read_text()
    assert "| numpy (cpu) | yes | 0 |" in report
    assert "equal the slice" in report
    assert "NO" not in report.replace("NumPy", "")
    assert "## Sketching operators against their peers" in report
    assert "## Poisson solves: CG against DCDM with the packaged network" in report
    assert "sketchla dcdm_solve (poisson3d)" in report
    assert "## M-FAC: products with the inverse empirical Fisher" in report
    assert "| sketchla StaticIHVP.ihvp |" in report
    assert "## Spectral analysis of all-MiniLM-L6-v2" in report
    assert "## Matrix completion by robust alternating minimization" in report
    assert "| robust_altmin |" in report
    for family in ("countsketch", "saso", "srht", "srft", "gaussian", "very_sparse"):
        assert f"| {family} |" in report
