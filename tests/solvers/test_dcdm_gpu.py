"""DCDM on a CUDA device: a Torch-CUDA right-hand side keeps the whole solve on the GPU, the
packaged network included; a torch module runs where its weights are; a CuPy right-hand side
gets its solution back as CuPy. Each reaches the tolerance with the NumPy solve's iteration
count (to one, for rounding) and its solution (to the error the tolerance allows:
``||x - x_numpy|| <= 2 kappa tol ||x_numpy||``)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sketchla.solvers import PoissonGrid, cg  # noqa: E402
from sketchla.solvers.dcdm import dcdm_solve  # noqa: E402

pytestmark = pytest.mark.gpu

GRID = (16, 16, 16)
TOL = 1e-6


def poisson_condition(grid) -> float:
    """``lambda_max / lambda_min`` of the Dirichlet Laplacian on ``grid``."""
    low = sum(2 * (1 - np.cos(np.pi / (s + 1))) for s in grid)
    high = sum(2 * (1 - np.cos(np.pi * s / (s + 1))) for s in grid)
    return high / low


@pytest.fixture(scope="module")
def reference():
    """The problem and its NumPy solve with the packaged 3-D network."""
    A = PoissonGrid(GRID)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    return A, b, dcdm_solve(A, b, tol=TOL)


def check_against_numpy(x: np.ndarray, iterations: int, reference) -> None:
    A, b, expected = reference
    residual = np.linalg.norm(b - A.matvec(x)) / np.linalg.norm(b)
    assert residual <= 1.01 * TOL  # the true residual, not only the recurrence's
    assert abs(iterations - expected.iterations) <= 1
    error = np.linalg.norm(x - expected.x) / np.linalg.norm(expected.x)
    assert error <= 2 * poisson_condition(GRID) * TOL


def test_a_torch_cuda_right_hand_side_solves_on_the_gpu(cuda, reference):
    _, b, _ = reference
    result = dcdm_solve(reference[0], torch.from_numpy(b).to(cuda), tol=TOL)
    assert result.converged
    assert result.x.device.type == "cuda"
    assert result.x.dtype == torch.float64
    check_against_numpy(result.x.cpu().numpy(), result.iterations, reference)


def test_a_module_with_weights_on_the_gpu_runs_there(cuda, reference):
    """A 1 x 1 x 1 convolution of weight 1 on the GPU (the identity map: DCDM is then CG)
    with a NumPy right-hand side: the solution comes back as NumPy."""
    A, b, _ = reference
    identity = torch.nn.Conv3d(1, 1, 1, bias=False, dtype=torch.float64).to(cuda)
    torch.nn.init.ones_(identity.weight)
    calls = []
    identity.register_forward_hook(lambda _m, inputs, _out: calls.append(inputs[0].device))
    result = dcdm_solve(A, b, model=identity, tol=TOL)
    assert result.converged
    assert isinstance(result.x, np.ndarray)
    assert {device.type for device in calls} == {"cuda"}
    assert abs(result.iterations - cg(A, b, tol=TOL).iterations) <= 1
    residual = np.linalg.norm(b - A.matvec(result.x)) / np.linalg.norm(b)
    assert residual <= 1.01 * TOL


def test_a_cupy_right_hand_side_comes_back_as_cupy(reference):
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("CuPy sees no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip("CuPy sees no CUDA device")
    A, b, _ = reference
    result = dcdm_solve(A, cupy.asarray(b), tol=TOL)
    assert result.converged
    assert isinstance(result.x, cupy.ndarray)
    check_against_numpy(cupy.asnumpy(result.x), result.iterations, reference)
