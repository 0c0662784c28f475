"""scripts/out_of_core_lstsq.py, at a toy size: it writes the stacks, solves through a
LocalCluster beside dask's TSQR, and reports times, accuracy and memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "out_of_core_lstsq.py"


def test_make_then_solve_with_the_peer(tmp_path):
    data = tmp_path / "problem"
    run = [sys.executable, str(SCRIPT)]
    subprocess.run(
        [*run, "make", str(data), "--log2-rows", "13", "--cols", "8", "--chunk-rows", "1024"],
        check=True,
    )
    A = np.concatenate([np.load(data / "A" / f"{i}.npy") for i in range(8)])
    b = np.concatenate([np.load(data / "b" / f"{i}.npy") for i in range(8)])
    assert A.shape == (8192, 8)
    singular = np.linalg.svd(A, compute_uv=False)
    assert 500 < singular[0] / singular[-1] < 2000  # condition 1e3 by construction
    report_file = tmp_path / "report.json"
    subprocess.run(
        [*run, "solve", str(data), "--peer", "--workers", "1", "--json", str(report_file)],
        check=True,
        capture_output=True,
    )
    report = json.loads(report_file.read_text())
    assert report["shape"] == [8192, 8]
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    residual = float(np.linalg.norm(b - A @ x))
    for name in ("sketchla", "dask.array.linalg.lstsq"):
        assert report[name]["seconds"] > 0
        assert report[name]["optimality"] < 1e-13
        assert report[name]["residual_norm"] == pytest.approx(residual, rel=1e-12)
        assert all(0 < peak < 4 for peak in report[name]["worker_peak_rss_gib"])
    assert report["relative_difference"] < 1e-12
