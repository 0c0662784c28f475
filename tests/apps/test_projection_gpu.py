"""Gradient projectors and LowRankAdam on a CUDA device: the DCT projector scores by products
with the basis on the GPU (``method="auto"``) and picks NumPy's columns; the SVD projector
spans NumPy's singular subspace; LowRankAdam's steps on CUDA parameters equal the float64 NumPy
reference of its recurrence (``tests/apps/test_projection.py``)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_projection import explicit_basis, reference_low_rank_adam  # noqa: E402

from sketchla.apps import DCTProjector, LowRankAdam, SVDProjector  # noqa: E402

pytestmark = pytest.mark.gpu

DTYPES = {"float32": torch.float32, "float64": torch.float64}
RANK = 6


def gradient(shape, dtype: str, seed=0) -> np.ndarray:
    """A Gaussian ``shape`` matrix rounded to ``dtype`` (float64 NumPy holding its values)."""
    G = np.random.default_rng(seed).standard_normal(shape)
    return G.astype(dtype).astype(np.float64)


def host(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", [(40, 24), (24, 40)])
def test_dct_projector_on_cuda_equals_numpy(cuda, dtype, shape):
    """Scores ``|G Q|`` summed over rows (or ``|Q^T G|`` over columns), the ``r`` best columns
    and the projections, against the explicit basis in float64."""
    G = gradient(shape, dtype, seed=1)
    right = shape[0] >= shape[1]
    n = min(shape)
    Q = explicit_basis(n)
    S = G @ Q if right else Q.T @ G
    expected_scores = np.abs(S).sum(axis=0 if right else 1)
    eps = float(np.finfo(dtype).eps)
    score_atol = 50 * eps * float(expected_scores.max())
    order = np.argsort(-expected_scores, kind="stable")
    # the data's r-th and (r+1)-th scores are far apart: the choice is not a rounding tie
    assert expected_scores[order[RANK - 1]] - expected_scores[order[RANK]] > 4 * score_atol
    projector = DCTProjector(RANK)
    Gc = torch.tensor(G, dtype=DTYPES[dtype], device=cuda)
    np.testing.assert_allclose(host(projector.scores(Gc)), expected_scores, atol=score_atol)
    projector.update(Gc)
    assert projector.indices.device.type == "cuda"
    np.testing.assert_array_equal(projector.indices.cpu().numpy(), np.sort(order[:RANK]))
    columns = np.sort(order[:RANK])
    low = projector.project(Gc)
    assert low.device.type == "cuda"
    assert low.dtype == DTYPES[dtype]
    expected_low = S[:, columns] if right else S[columns, :]
    atol = 50 * eps * np.sqrt(n) * float(np.abs(G).max())
    np.testing.assert_allclose(host(low), expected_low, rtol=0, atol=atol)
    P = Q[:, columns]
    expected_back = expected_low @ P.T if right else P @ expected_low
    np.testing.assert_allclose(host(projector.project_back(low)), expected_back, atol=atol)


def test_dct_projector_fft_method_refuses_cuda_tensors(cuda):
    G = torch.randn(20, 10, device=cuda)
    with pytest.raises(ValueError, match="method='fft' needs a CPU tensor"):
        DCTProjector(3, method="fft").update(G)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", [(40, 24), (24, 40)])
def test_svd_projector_on_cuda_spans_numpys_singular_subspace(cuda, dtype, shape):
    """``P P^T`` (free of the singular vectors' signs) against LAPACK's; the tolerance is the
    rounding amplified by the gap after the ``r``-th singular value."""
    G = gradient(shape, dtype, seed=2)
    projector = SVDProjector(RANK).update(torch.tensor(G, dtype=DTYPES[dtype], device=cuda))
    assert projector.basis.device.type == "cuda"
    assert projector.basis.dtype == DTYPES[dtype]
    U, s, Vh = np.linalg.svd(G, full_matrices=False)
    P = Vh[:RANK].T if shape[0] >= shape[1] else U[:, :RANK]
    eps = float(np.finfo(dtype).eps)
    atol = 50 * eps * s[0] / (s[RANK - 1] - s[RANK])
    basis = host(projector.basis)
    np.testing.assert_allclose(basis @ basis.T, P @ P.T, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize(("kind", "gap"), [("dct", 3), ("svd", 100)])
@pytest.mark.parametrize("shape", [(12, 7), (7, 12)])
def test_low_rank_adam_on_cuda_equals_the_float64_reference(cuda, dtype, kind, gap, shape):
    """Eight steps with weight decay and ``scale``. The DCT projector is recomputed twice
    (update_gap 3); the SVD projector once, since the moments kept across an update would
    see the singular vectors' signs, which LAPACK and cuSOLVER may choose differently."""
    rng = np.random.default_rng(3)
    start = rng.standard_normal(shape).astype(dtype).astype(np.float64)
    grads = [rng.standard_normal(shape).astype(dtype).astype(np.float64) for _ in range(8)]
    kw = {"lr": 0.02, "betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.05}
    p = torch.tensor(start, dtype=DTYPES[dtype], device=cuda)
    optimizer = LowRankAdam([p], rank=3, projector=kind, update_gap=gap, scale=0.5, **kw)
    for G in grads:
        p.grad = torch.tensor(G, dtype=DTYPES[dtype], device=cuda)
        optimizer.step()
    expected = reference_low_rank_adam(start, grads, kind=kind, rank=3, gap=gap, scale=0.5, **kw)
    assert p.device.type == "cuda"
    assert optimizer.state[p]["exp_avg"].device.type == "cuda"
    # each step moves p by at most lr (1 + weight decay): rounding of a few ulps per step
    atol = 100 * float(np.finfo(dtype).eps) * (np.abs(start).max() + 8 * kw["lr"])
    np.testing.assert_allclose(host(p), expected, rtol=0, atol=atol)
