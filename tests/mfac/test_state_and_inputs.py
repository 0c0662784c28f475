"""The M-FAC models' state (state dicts, copies, pickles), failures that must leave them
unchanged, float32 diagonals at large condition numbers, and input handling: index dtypes,
devices, autograd inputs, backends the models cannot use."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from sketchla.mfac import SlidingWindowIHVP, StaticIHVP


def filled_window(seed=0, m=4, d=12, steps=7, **options):
    rng = np.random.default_rng(seed)
    window = SlidingWindowIHVP(m, d, 0.1, **options)
    for _ in range(steps):
        window.update(rng.standard_normal(d))
    return window, rng


def test_a_state_dict_is_a_snapshot():
    """Updates after ``state_dict()`` do not leak into it: restoring it gives the window as it
    was, with a Gram matrix that matches its gradients."""
    window, rng = filled_window()
    snapshot = window.state_dict()
    x = rng.standard_normal(12)
    before = window.ihvp(x)
    for _ in range(3):
        window.update(rng.standard_normal(12))
    window.load_state_dict(snapshot)
    np.testing.assert_array_equal(window.ihvp(x), before)
    G = snapshot["gradients"]
    np.testing.assert_allclose(window._gram, G @ G.T, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"position": 4}, "position"),
        ({"position": -1}, "position"),
        ({"count": -2}, "count"),
        ({"gram": np.zeros((3, 3))}, r"Gram matrix of shape \(3, 3\)"),
        ({"gradients": np.zeros((4, 11))}, r"gradients of shape \(4, 11\)"),
        ({"gradients": np.full((4, 12), np.nan)}, "gradients"),
    ],
)
def test_a_bad_state_is_refused_and_changes_nothing(change, match):
    window, rng = filled_window()
    state = {**window.state_dict(), **change}
    x = rng.standard_normal(12)
    before, position = window.ihvp(x), window.position
    with pytest.raises(ValueError, match=match):
        window.load_state_dict(state)
    np.testing.assert_array_equal(window.ihvp(x), before)
    assert window.position == position


def test_models_survive_pickle_and_deepcopy():
    window, rng = filled_window()
    static = StaticIHVP(rng.standard_normal((5, 12)), 0.2, block_size=5)
    x = rng.standard_normal(12)
    for model in (window, static):
        for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            np.testing.assert_array_equal(clone.ihvp(x), model.ihvp(x))
    clone = pickle.loads(pickle.dumps(window))
    g = rng.standard_normal(12)
    np.testing.assert_array_equal(clone.update_ihvp(g), window.update_ihvp(g))


def test_too_small_a_damp_names_damp_and_leaves_the_window():
    rng = np.random.default_rng(1)
    g = rng.standard_normal(6) * 1e10
    with pytest.raises(ValueError, match="damp"):
        StaticIHVP(np.stack([g, g, 2 * g]), 1e-300)
    window = SlidingWindowIHVP(3, 6, 1e-300)
    window.update(g)
    saved = window.state_dict()
    with pytest.raises(ValueError, match="damp"):
        window.update_ihvp(g)
    after = window.state_dict()
    np.testing.assert_array_equal(after["gradients"], saved["gradients"])
    np.testing.assert_array_equal(after["gram"], saved["gram"])
    assert (window.position, window.count) == (saved["position"], saved["count"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float32_diagonal_stays_positive_and_accurate_at_large_kappa(seed):
    """``1 - ||W_:q||^2`` cancels by up to ``kappa``: from a float32 ``W`` it would go
    negative at ``kappa ~ 10^8``. The diagonal is kept from the float64 ``W``."""
    rng = np.random.default_rng(seed)
    G = (30 * rng.standard_normal((64, 20))).astype(np.float32)
    damp = 1e-5
    model = StaticIHVP(G, damp)
    G64 = G.astype(np.float64)
    F = damp * np.eye(20) + G64.T @ G64 / 64
    exact = np.diag(np.linalg.inv(F))  # kappa(F) ~ 1e7: inv's own error ~ 1e-9 relative
    diag = model.diag()
    assert diag.dtype == np.float32
    assert np.all(diag > 0)
    np.testing.assert_allclose(diag, exact, rtol=1e-6)
    j = np.arange(20)
    np.testing.assert_allclose(model.entries(j, j), exact, rtol=1e-6)


def test_index_arrays_of_any_integer_dtype_and_empty_lists():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    G = torch.tensor(rng.standard_normal((4, 10)))
    model = StaticIHVP(G, 0.1)
    expected = model.entries(torch.tensor([1, 2]), torch.tensor([1, 3]))
    for dtype in (torch.int8, torch.int16, torch.int32, torch.uint8):
        index = torch.tensor([1, 2], dtype=dtype), torch.tensor([1, 3], dtype=dtype)
        torch.testing.assert_close(model.entries(*index), expected)
    assert model.entries([], []).shape == (0,)
    result = model.obs_update(torch.ones(10, dtype=torch.float64), [])
    assert result.loss_increase == 0.0


def test_autograd_inputs_do_not_enter_the_window():
    torch = pytest.importorskip("torch")
    window = SlidingWindowIHVP(3, 5, 0.1, xp="torch", dtype=torch.float64)
    g = torch.ones(5, dtype=torch.float64, requires_grad=True)
    y = window.update_ihvp(g * 2)
    assert not y.requires_grad
    assert not window.state_dict()["gram"].requires_grad
    assert not StaticIHVP(torch.ones((2, 5), requires_grad=True), 0.1).diag().requires_grad


def test_a_model_streamed_to_the_cpu_matches_the_plain_one():
    """``device=`` with host memory only (no CUDA needed): the same numbers. (Inputs on
    another device are refused: ``test_streamed_blocks_on_the_gpu_match_the_host``.)"""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    G = torch.tensor(rng.standard_normal((6, 40)))
    x = torch.tensor(rng.standard_normal(40))
    plain, streamed = (
        StaticIHVP(G, 0.3, block_size=16),
        StaticIHVP(G, 0.3, block_size=16, device="cpu"),
    )
    torch.testing.assert_close(streamed.ihvp(x), plain.ihvp(x), rtol=1e-14, atol=0)
    torch.testing.assert_close(streamed.diag(), plain.diag(), rtol=1e-14, atol=0)
    j = torch.tensor([0, 17, 39])
    torch.testing.assert_close(streamed.entries(j, j), plain.entries(j, j))


def test_a_two_dimensional_list_is_a_shape_error():
    window = SlidingWindowIHVP(2, 3, 0.1)
    with pytest.raises(ValueError, match=r"g must have shape \(3,\), got \(1, 3\)"):
        window.update([[1.0, 2.0, 3.0]])


def test_obs_update_refuses_immutable_arrays_up_front():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    enabled = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        model = StaticIHVP(jnp.ones((2, 4)), 0.1)
        with pytest.raises(TypeError, match="in place"):
            model.obs_update(jnp.ones(4), [0])
    finally:
        jax.config.update("jax_enable_x64", enabled)


def test_jax_without_float64_is_refused():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    enabled = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(TypeError, match="jax_enable_x64"):
            StaticIHVP(jnp.ones((2, 3)), 0.1)
    finally:
        jax.config.update("jax_enable_x64", enabled)
