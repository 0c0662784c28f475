"""``analyze``: models as torch modules, state dicts, safetensors and torch checkpoints; the
report's exports and plot; the ``sketchla spectrum`` command; unsafe and unreadable files."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from sketchla.cli import main
from sketchla.spectral import analyze, esd, spectral_metrics

torch = pytest.importorskip("torch")


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 4),
    )  # fmt: skip


def test_rows_are_the_metrics_of_each_weight():
    model = mlp()
    report = analyze(model)
    assert [row["name"] for row in report.rows] == ["0.weight", "2.weight"]
    assert report.skipped == ["4.weight: 4 < min_size=10 rows or columns"]
    for row in report.rows:
        W = dict(model.named_parameters())[row["name"]].detach().double().numpy()
        expected = spectral_metrics(esd(W), W.shape)
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, rel=1e-12), key
        assert (row["N"], row["M"]) == (max(W.shape), min(W.shape))


def test_a_state_dict_a_safetensors_file_and_a_torch_checkpoint_agree(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    model = mlp(1)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    safetensors.save_file(state, str(tmp_path / "model.safetensors"))
    torch.save(model.state_dict(), tmp_path / "model.pt")
    reports = [
        analyze(model),
        analyze(model.state_dict()),
        analyze(state),
        analyze(tmp_path / "model.safetensors"),
        analyze(str(tmp_path / "model.pt")),
    ]
    alphas = [[row["alpha"] for row in r.rows] for r in reports]
    for other in alphas[1:]:
        np.testing.assert_allclose(other, alphas[0], rtol=1e-12)


def test_convolution_layers_pool_their_kernel_positions():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 32, 3)
    report = analyze(torch.nn.Sequential(conv))
    row = report.rows[0]
    assert row["matrices"] == 9
    assert row["shape"] == (32, 16, 3, 3)
    assert report.evals["0.weight"].size == 9 * 16


def test_farms_rows():
    report = analyze(mlp(), farms=True, rows=32, windows=3)
    assert all(row["farms"] for row in report.rows)
    assert report.evals["0.weight"].size == 9 * 32


def test_summary_and_exports():
    pd = pytest.importorskip("pandas")
    report = analyze(mlp())
    summary = report.summary()
    assert summary["layers"] == 2
    assert summary["alpha"] == pytest.approx(np.mean([r["alpha"] for r in report.rows]))
    frame = report.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["name"]) == ["0.weight", "2.weight"]
    markdown = report.to_markdown()
    assert markdown.splitlines()[0].startswith("| name | N | M | alpha")
    assert len(markdown.splitlines()) == 4
    rows = json.loads(report.to_json())
    assert rows[0]["shape"] == "128x64"
    assert report.to_csv().splitlines()[0].startswith("name,shape,N,M")


def test_plot_draws_the_esd_and_the_fit():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    report = analyze(mlp())
    ax = report.plot("2.weight")
    assert ax.get_title() == "2.weight"
    assert ax.get_xscale() == "log"
    with pytest.raises(KeyError, match="no layer"):
        report.plot("nope")


def test_the_spectrum_command(tmp_path, capsys):
    torch.save(mlp().state_dict(), tmp_path / "model.pt")
    assert main(["spectrum", str(tmp_path / "model.pt"), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["0.weight", "2.weight"]
    assert main(["spectrum", str(tmp_path / "model.pt"), "--plot", str(tmp_path / "esd.png")]) == 0
    assert (tmp_path / "esd.png").stat().st_size > 1000
    assert "| name |" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_unsafe_and_unreadable_checkpoints_are_refused(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"layer.weight": Payload()}, f)
    with pytest.raises(ValueError, match="weights_only"):
        analyze(tmp_path / "evil.pt")
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    pytest.importorskip("safetensors")
    with pytest.raises(ValueError, match="safetensors"):
        analyze(tmp_path / "broken.safetensors")
    (tmp_path / "weights.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="format"):
        analyze(tmp_path / "weights.npz")
    with pytest.raises(FileNotFoundError):
        analyze(tmp_path / "missing.pt")
    assert main(["spectrum", str(tmp_path / "evil.pt")]) == 2
    assert "weights_only" in capsys.readouterr().err
    assert "this must never run" not in capsys.readouterr().out


def test_models_without_weights_and_non_finite_weights():
    with pytest.raises(ValueError, match="no weight matrices"):
        analyze(torch.nn.Sequential(torch.nn.ReLU()))
    with pytest.raises(ValueError, match="no weight matrices"):
        analyze({"bias": np.ones(3)})
    with pytest.raises(TypeError, match="model must be"):
        analyze(42)
    with pytest.raises(ValueError, match="finite"):
        analyze({"w.weight": np.full((20, 20), np.nan)})


def test_farms_metrics_use_the_windows_shape():
    """A pure Gaussian 2048 x 256 matrix seen through 256 x 256 windows: the Marchenko-Pastur
    law to compare with is the windows' (Q = 1), not the matrix's (Q = 8)."""
    W = np.random.default_rng(0).standard_normal((2048, 256))
    row = analyze({"w.weight": W}, farms=True, rows=256, windows=4).rows[0]
    assert row["num_spikes"] <= 2
    assert 0.9 < row["mp_softrank"] < 1.2


def test_bfloat16_modules_and_safetensors(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = mlp(2).to(torch.bfloat16)
    safetensors_torch.save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "m.safetensors")
    )
    expected = [row["alpha"] for row in analyze(mlp(2).to(torch.bfloat16).float()).rows]
    for source in (model, tmp_path / "m.safetensors"):
        np.testing.assert_allclose([row["alpha"] for row in analyze(source).rows], expected)


def test_embeddings_and_wrapped_checkpoints(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(100, 32), torch.nn.Linear(32, 16))
    assert [row["name"] for row in analyze(model).rows] == ["0.weight", "1.weight"]
    torch.save({"model": model.state_dict(), "step": 3}, tmp_path / "checkpoint.pt")
    assert len(analyze(tmp_path / "checkpoint.pt")) == 2


def test_json_writes_non_finite_values_as_null():
    report = analyze({"e.weight": np.eye(32)})  # one repeated eigenvalue: alpha = inf
    rows = json.loads(report.to_json())
    assert rows[0]["alpha"] is None
    with pytest.raises(ValueError, match="no layers"):
        analyze({"e.weight": np.ones((4, 4))}, min_size=10).summary()


def test_the_spectrum_command_reports_skipped_layers(tmp_path, capsys):
    torch.save({"small.weight": torch.randn(64, 4)}, tmp_path / "small.pt")
    assert main(["spectrum", str(tmp_path / "small.pt")]) == 2
    err = capsys.readouterr().err
    assert "skipped small.weight" in err
    assert "no weight matrix" in err
