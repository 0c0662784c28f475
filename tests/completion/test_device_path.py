"""The device path (batched Array-API kernels, what Torch and CuPy run on a GPU) gives the CPU
path's answers: forced here on Torch's CPU tensors."""

from __future__ import annotations

import numpy as np
import pytest

import sketchla.completion.altmin as altmin
from sketchla.completion import complete

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "options",
    [{}, {"method": "altmin"}, {"preconditioner": "sketch", "sketch_factor": 2}, {"ridge": 1e-9}],
    ids=["robust-shared", "exact", "robust-sketch", "ridge"],
)
def test_device_path_equals_the_cpu_path(monkeypatch, options):
    rng = np.random.default_rng(0)
    M = rng.standard_normal((150, 4)) @ rng.standard_normal((4, 100))
    rows, cols = np.nonzero(rng.random(M.shape) < 0.35)
    observed = (torch.as_tensor(rows), torch.as_tensor(cols), torch.as_tensor(M[rows, cols]))
    cpu = complete(observed, M.shape, rank=4, seed=0, **options)
    monkeypatch.setattr(altmin, "_DEVICE_PATH_ON_CPU", True)
    device = complete(observed, M.shape, rank=4, seed=0, **options)
    assert isinstance(device.U, torch.Tensor)
    assert device.U.dtype == torch.float64
    assert device.converged
    assert cpu.converged
    truth = np.linalg.norm(M)
    for result in (cpu, device):
        assert np.linalg.norm(result.to_dense().numpy() - M) <= 1e-6 * truth
    # same iterates up to rounding: the same number of iterations, histories close
    assert device.iterations == cpu.iterations
    np.testing.assert_allclose(device.train_rmse_history[:3], cpu.train_rmse_history[:3], rtol=1e-8)


def test_device_path_in_float32_stops_at_its_roundoff(monkeypatch):
    rng = np.random.default_rng(1)
    M = rng.standard_normal((120, 3)) @ rng.standard_normal((3, 90))
    rows, cols = np.nonzero(rng.random(M.shape) < 0.4)
    values = torch.as_tensor(M[rows, cols], dtype=torch.float32)
    monkeypatch.setattr(altmin, "_DEVICE_PATH_ON_CPU", True)
    result = complete((torch.as_tensor(rows), torch.as_tensor(cols), values), M.shape, 3, seed=0)
    assert result.U.dtype == torch.float32
    error = np.linalg.norm(result.to_dense().double().numpy() - M) / np.linalg.norm(M)
    assert error <= 1e-4  # 100 u32 per iteration's plateau rule; measured ~1e-7
