"""PEFT initialisers on a CUDA device: the splits of a weight on the GPU equal NumPy's (the
dense LAPACK references, or the same call on the NumPy array where the result is randomized),
in the weight's dtype and on its device; a CuPy weight comes back as CUDA tensors; a model on
the GPU keeps its outputs when its layers become adapters."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sketchla.apps import apply_pissa, corda, loldu, pissa, svfit  # noqa: E402

pytestmark = pytest.mark.gpu

DTYPES = {"float32": torch.float32, "float64": torch.float64}
RANK = 6


def spectrum_matrix(shape, decay=0.8, seed=0):
    """``U diag(decay**i) V^T`` (float64 NumPy) with random orthonormal ``U``, ``V``, and its
    singular values."""
    rng = np.random.default_rng(seed)
    m, n = shape
    k = min(shape)
    U = np.linalg.qr(rng.standard_normal((m, k)))[0]
    V = np.linalg.qr(rng.standard_normal((n, k)))[0]
    s = decay ** np.arange(k)
    return (U * s) @ V.T, s


def rounded(W: np.ndarray, dtype: str) -> np.ndarray:
    """``W`` rounded to ``dtype`` and back to float64: the matrix both sides see."""
    return W.astype(dtype).astype(np.float64)


def principal_tolerance(dtype: str, s: np.ndarray, rank: int = RANK) -> float:
    """Entrywise bound on the difference of two rank-``rank`` principal parts computed in
    ``dtype``: rounding (``eps ||W||``) amplified by the conditioning of the top singular
    subspace (``sigma_1 / (sigma_r - sigma_{r+1})``)."""
    eps = float(np.finfo(dtype).eps)
    return 50 * eps * s[0] * (1 + s[0] / (s[rank - 1] - s[rank]))


def top_part(W: np.ndarray, rank: int = RANK) -> np.ndarray:
    U, s, Vh = np.linalg.svd(W, full_matrices=False)
    return (U[:, :rank] * s[:rank]) @ Vh[:rank]


def host(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("method", ["svd", "rsvd"])
def test_pissa_on_cuda_equals_numpy(cuda, dtype, method):
    """``"svd"`` against LAPACK's principal part; ``"rsvd"`` (randomized) against the same
    call on the NumPy array: the counter-based sketch is the same on both devices."""
    W, s = spectrum_matrix((60, 40))
    W = rounded(W, dtype)
    init = pissa(torch.tensor(W, dtype=DTYPES[dtype], device=cuda), RANK, method=method, seed=0)
    assert init.A.device.type == "cuda"
    assert init.B.device.type == "cuda"
    assert init.residual.device.type == "cuda"
    assert init.A.dtype == DTYPES[dtype]
    if method == "svd":
        expected = top_part(W)
    else:
        reference = pissa(W.astype(dtype), RANK, method=method, seed=0)
        expected = host(reference.B) @ host(reference.A)
    atol = principal_tolerance(dtype, s)
    np.testing.assert_allclose(host(init.B) @ host(init.A), expected, rtol=0, atol=atol)
    np.testing.assert_allclose(host(init.weight()), W, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_svfit_on_cuda_equals_numpy(cuda, dtype):
    W, s = spectrum_matrix((40, 60), seed=1)
    W = rounded(W, dtype)
    init = svfit(torch.tensor(W, dtype=DTYPES[dtype], device=cuda), RANK, method="svd")
    assert init.s.device.type == "cuda"
    assert init.s.dtype == DTYPES[dtype]
    eps = float(np.finfo(dtype).eps)
    expected_s = np.linalg.svd(W, compute_uv=False)[:RANK]
    np.testing.assert_allclose(host(init.s), expected_s, rtol=0, atol=50 * eps * s[0])
    principal = (host(init.U) * host(init.s)) @ host(init.Vh)
    atol = principal_tolerance(dtype, s)
    np.testing.assert_allclose(principal, top_part(W), rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_loldu_on_cuda_equals_scipys_lu(cuda, dtype):
    """The leading ``rank`` components of the pivoted LU: ``(P L)[:, :r] U[:r]``. A Gaussian
    matrix's partial pivots are far from ties, so both devices pick the same rows."""
    rng = np.random.default_rng(2)
    W = rounded(rng.standard_normal((40, 30)), dtype)
    init = loldu(torch.tensor(W, dtype=DTYPES[dtype], device=cuda), RANK, scale=2.0)
    assert init.d.device.type == "cuda"
    assert init.d.dtype == DTYPES[dtype]
    P, L, U = scipy.linalg.lu(W)
    expected = (P @ L)[:, :RANK] @ U[:RANK]
    principal = init.scale * ((host(init.PL) * host(init.d)) @ host(init.U))
    eps = float(np.finfo(dtype).eps)
    atol = 200 * eps * float(np.abs(W).max()) * W.shape[1]
    np.testing.assert_allclose(principal, expected, rtol=0, atol=atol)
    np.testing.assert_allclose(host(init.weight()), W, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("mode", ["ipm", "kpm"])
def test_corda_on_cuda_equals_numpy(cuda, dtype, mode):
    """Against the definition: ``C' = C + 0.01 mean(diag C) I``, ``W C' = U S V^T``, the
    picked components ``U_r S_r V_r^T C'^{-1}``."""
    W, _ = spectrum_matrix((32, 16), seed=3)
    W = rounded(W, dtype)
    X = np.random.default_rng(4).standard_normal((500, 16))
    C = rounded(X.T @ X / 500, dtype)
    init = corda(
        torch.tensor(W, dtype=DTYPES[dtype], device=cuda),
        torch.tensor(C, dtype=DTYPES[dtype], device=cuda),
        RANK,
        mode=mode,
    )
    assert init.A.device.type == "cuda"
    assert init.A.dtype == DTYPES[dtype]
    damped = C + 0.01 * np.mean(np.diag(C)) * np.eye(16)
    U, S, Vh = np.linalg.svd(W @ damped, full_matrices=False)
    picked = slice(0, RANK) if mode == "ipm" else slice(16 - RANK, 16)
    expected = (U[:, picked] * S[picked]) @ np.linalg.solve(damped, Vh[picked].T).T
    gaps = np.abs(np.diff(S))
    boundary = RANK - 1 if mode == "ipm" else 16 - RANK - 1
    eps = float(np.finfo(dtype).eps)
    condition = np.linalg.cond(damped)
    atol = 50 * eps * S[0] * condition * (1 + S[0] / gaps[boundary])
    np.testing.assert_allclose(host(init.singular_values), S, rtol=0, atol=50 * eps * S[0])
    np.testing.assert_allclose(host(init.B) @ host(init.A), expected, rtol=0, atol=atol)


def test_pissa_of_a_cupy_weight_returns_cuda_tensors(cuda):
    """A weight "array" of another CUDA library is read in place (``__cuda_array_interface__``)
    and the factors are Torch tensors on the same device."""
    cupy = pytest.importorskip("cupy")
    W, s = spectrum_matrix((60, 40), seed=5)
    init = pissa(cupy.asarray(W), RANK, method="svd")
    assert isinstance(init.A, torch.Tensor)
    assert init.A.device.type == "cuda"
    assert init.A.dtype == torch.float64
    atol = principal_tolerance("float64", s)
    np.testing.assert_allclose(host(init.B) @ host(init.A), top_part(W), rtol=0, atol=atol)


def test_apply_pissa_keeps_a_cuda_models_outputs(cuda):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)).to(cuda)
    x = torch.randn(5, 32, device=cuda)
    with torch.no_grad():
        before = model(x)
        apply_pissa(model, 8, seed=0)
        after = model(x)
    assert all(p.device.type == "cuda" for p in model.parameters())
    torch.testing.assert_close(after, before, rtol=0, atol=1e-5)
