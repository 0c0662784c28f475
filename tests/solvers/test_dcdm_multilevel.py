"""The multilevel DCDM network (structure, exact linear cases, homogeneity, configuration) and
the oneDNN convolution path both networks use on CPU."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.nn import functional as F  # noqa: E402

from sketchla.solvers.dcdm import DCDMNet, MultilevelNet, load_model, save_model  # noqa: E402
from sketchla.solvers.dcdm.models import build_model  # noqa: E402
from sketchla.solvers.dcdm.network import _Conv2d, _Conv3d  # noqa: E402

U32 = float(np.finfo(np.float32).eps) / 2
U64 = float(np.finfo(np.float64).eps) / 2


def small(dim, seed=0, **options):
    torch.manual_seed(seed)
    options.setdefault("channels", 3)
    options.setdefault("pairs", 1)
    return MultilevelNet(dim=dim, **options)


def identity_levels(dim, **options):
    """Every level's map is the identity (lift and projection pass channel 0, pairs are zero),
    so the network is the linear ``sum_l g^l P^l R^l``."""
    net = MultilevelNet(dim=dim, channels=2, pairs=1, **options)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        for level in (net.finest, net.coarse):
            level.lift.weight[(0, 0) + (1,) * dim] = 1.0
            level.project.weight[(0, 0) + (0,) * dim] = 1.0
    return net


def halvings(shape, min_size):
    count = 1
    while min(shape) > min_size:
        shape = [-(-s // 2) for s in shape]
        count += 1
    return count


@pytest.mark.parametrize(
    "grid", [(7, 9), (8, 8), (1, 1), (1, 5), (3, 32), (7, 9, 5), (2, 2, 2), (1, 4, 5), (17, 6, 9)]
)
def test_output_shape_equals_input_shape(grid):
    net = small(len(grid))
    x = torch.randn(2, 1, *grid, generator=torch.Generator().manual_seed(0))
    y = net(x)
    assert y.shape == x.shape
    assert bool(torch.isfinite(y).all())


@pytest.mark.parametrize("min_size", [1, 2, 3])
@pytest.mark.parametrize("grid", [(2, 2), (3, 5), (64, 64, 33), (128, 128, 128), (5, 100)])
def test_level_count(grid, min_size):
    assert small(len(grid), min_size=min_size).levels(grid) == halvings(list(grid), min_size)


@pytest.mark.parametrize(("grid", "gain"), [((16, 16), 4.0), ((8, 8, 8), 4.0), ((32, 8), 2.5)])
def test_constant_residual_gets_the_sum_of_the_level_gains(grid, gain):
    """Pooling and multilinear interpolation keep a constant, so with identity level maps a
    constant ``c`` comes back as ``c (1 + g + ... + g^(L-1))``: the gain is applied once per
    level and every level is visited."""
    net = identity_levels(len(grid), gain=gain).double()
    levels = net.levels(grid)
    assert levels == halvings(list(grid), 2)
    out = net(torch.full((1, 1, *grid), 0.5, dtype=torch.float64))
    expected = 0.5 * sum(gain**level for level in range(levels))
    torch.testing.assert_close(out, torch.full_like(out, expected), rtol=8 * U64, atol=0)


def test_identity_levels_match_an_explicit_two_level_sum():
    """On a 4 x 4 grid (two levels): ``f(r) = r + g P R r`` with ``R`` 2 x 2 averaging and ``P``
    bilinear interpolation with half-cell centres (weights 3/4, 1/4; clamped at the edges)."""
    net = identity_levels(2, gain=4.0).double()
    r = torch.randn(1, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    coarse = r[0, 0].reshape(2, 2, 2, 2).mean(axis=(1, 3))  # (2, 2)
    P = torch.tensor([[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]], dtype=torch.float64)
    expected = r[0, 0] + 4.0 * P @ coarse @ P.T
    torch.testing.assert_close(net(r)[0, 0], expected, rtol=0, atol=32 * U64)


@pytest.mark.parametrize("n", [6, 7, 8, 9, 13])
@pytest.mark.parametrize("dim", [2, 3])
def test_coarse_correction_of_a_ramp_is_exact_inside_even_and_odd_grids(n, dim):
    """Average pooling then multilinear interpolation reproduces a linear function away from
    the edges, on odd axes too (where the last coarse cell is half outside the grid): with
    identity level maps on a two-level grid, ``f(r) = r + g P R r = (1 + g) r`` there. Cells
    0 and ``n - 1`` (and ``n - 2`` on odd axes) see the clamped edge and are left out."""
    gain = 4.0
    net = identity_levels(dim, gain=gain, min_size=(n + 1) // 2).double()
    assert net.levels((n,) * dim) == 2
    ramp = torch.arange(n, dtype=torch.float64) + 0.25
    r = ramp.reshape((1, 1, n) + (1,) * (dim - 1)).expand((1, 1) + (n,) * dim)
    out = net(r.contiguous())[0, 0]
    inside = slice(1, n - 1 - n % 2)
    edges = (slice(None),) * (dim - 1)
    torch.testing.assert_close(
        out[(inside, *edges)], (1 + gain) * r[0, 0][(inside, *edges)], rtol=0, atol=64 * n * U64
    )


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("c", [1e-6, 0.37, 1e5])
def test_positively_homogeneous(dim, c):
    """No biases and ReLU: ``f(c r) = c f(r)`` for ``c > 0``, so the grid's size (which sets
    the entries of a unit residual) does not change what the network does."""
    net = small(dim, seed=4).double().requires_grad_(False)
    r = torch.randn(
        1, 1, *(9,) * dim, dtype=torch.float64, generator=torch.Generator().manual_seed(4)
    )
    base = net(r)
    scale = float(base.abs().max())
    torch.testing.assert_close(net(c * r), c * base, rtol=0, atol=64 * U64 * c * scale)


def test_levels_share_one_map():
    """The parameters do not depend on the grid: one map for the finest level, one for all the
    coarser ones."""
    net = small(3, channels=8, pairs=2)
    per_map = 8 * 27 + 2 * 2 * 8 * 8 * 27 + 8  # lift, two pairs, projection; no biases
    assert sum(p.numel() for p in net.parameters()) == 2 * per_map
    assert not any(name.endswith("bias") for name, _ in net.named_parameters())


@pytest.mark.parametrize(
    "options",
    [
        {"dim": 1},
        {"channels": 0},
        {"pairs": -1},
        {"gain": 0.0},
        {"gain": float("nan")},
        {"min_size": 0},
    ],
)
def test_bad_configuration_raises(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        MultilevelNet(**options)


def test_wrong_input_shape_raises():
    with pytest.raises(ValueError, match="expected a"):
        small(3)(torch.zeros(1, 1, 4, 4))


def test_config_and_packaged_format_round_trip(tmp_path):
    net = small(2, seed=6, channels=3, pairs=2, gain=3.0, min_size=3)
    config = net.config()
    assert config["architecture"] == "multilevel"
    again = build_model(config)
    assert isinstance(again, MultilevelNet)
    save_model(net, tmp_path / "m.pt", {"seed": 6})
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    loaded = build_model(saved["config"])
    loaded.load_state_dict(saved["state"])
    x = torch.randn(1, 1, 13, 10, generator=torch.Generator().manual_seed(6))
    assert torch.equal(net(x), loaded(x))
    assert isinstance(build_model(DCDMNet(2, channels=2).config()), DCDMNet)  # no key: paper's
    with pytest.raises(ValueError, match="architecture"):
        build_model({"architecture": "transformer", "dim": 2})


def test_packaged_3d_default_is_multilevel_and_the_others_are_the_papers():
    assert isinstance(load_model("poisson3d"), MultilevelNet)
    assert isinstance(load_model("poisson3d-paper"), DCDMNet)
    assert isinstance(load_model("poisson2d"), DCDMNet)


# ---------------------------------------------------------------------------------------------
# the oneDNN convolution
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_fast_convolution_equals_torchs(dim, batch, channels_last, bias):
    """Same values and gradients as ``F.conv``. Each is a float32 sum of ``n`` products (values
    and input gradients: ``n = channels * 3^d``; weight gradients: ``n = batch * 11^d``), so two
    summation orders differ by at most ``2 n u32`` times the same sum of absolute values,
    computed here in float64."""
    conv_fn = F.conv3d if dim == 3 else F.conv2d
    conv = (_Conv3d if dim == 3 else _Conv2d)(4, 5, 3, padding=1, bias=bias)
    layout = torch.channels_last_3d if dim == 3 else torch.channels_last
    if channels_last:
        conv = conv.to(memory_format=layout)
    generator = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, 4, *(11,) * dim, generator=generator, requires_grad=True)
    out = conv(x.contiguous(memory_format=layout) if channels_last else x)
    reference = conv_fn(x, conv.weight, conv.bias, padding=1)
    grad = torch.randn(out.shape, generator=generator)
    ours = (out, *torch.autograd.grad(out, (x, conv.weight), grad))
    theirs = (reference, *torch.autograd.grad(reference, (x, conv.weight), grad))

    x_abs = x.detach().abs().double().requires_grad_()
    w_abs = conv.weight.detach().abs().double().requires_grad_()
    b_abs = None if conv.bias is None else conv.bias.detach().abs().double()
    sums = conv_fn(x_abs, w_abs, b_abs, padding=1)
    grad_sums = torch.autograd.grad(
        conv_fn(x_abs, w_abs, padding=1), (x_abs, w_abs), grad.abs().double()
    )
    terms = (4 * 3**dim + 1, 5 * 3**dim, batch * 11**dim)
    for a, b, magnitude, n in zip(ours, theirs, (sums, *grad_sums), terms, strict=True):
        assert a.shape == b.shape
        error = (a.double() - b.double()).abs()
        assert bool((error <= 2 * n * U32 * magnitude).all()), float((error / magnitude).max())


def test_fast_convolution_is_taken_by_both_networks(monkeypatch):
    """Every float32 CPU convolution of both networks goes to oneDNN (forward calls counted, in
    training mode); float64 does not."""
    calls = []
    onednn = torch.mkldnn_convolution

    def counting(*args):
        calls.append(args[0].shape)
        return onednn(*args)

    monkeypatch.setattr(torch, "mkldnn_convolution", counting)
    for net in (small(3), DCDMNet(dim=2, channels=2, pairs=(1, 1, 1))):
        convolutions = sum(isinstance(m, (_Conv2d, _Conv3d)) for m in net.modules())
        x = torch.randn((1, 1) + (8,) * net.dim, generator=torch.Generator().manual_seed(0))
        calls.clear()
        net(x).sum().backward()
        if isinstance(net, MultilevelNet):  # each level runs one of two equal maps
            convolutions = convolutions // 2 * net.levels(x.shape[2:])
        assert len(calls) == convolutions
        calls.clear()
        net.double()(x.double())
        assert calls == []


def test_fast_convolution_leaves_other_modes_to_torch(monkeypatch):
    """Padding modes other than zeros, string padding and CPU autocast keep torch's path."""
    monkeypatch.setattr(torch, "mkldnn_convolution", None)  # called: a TypeError
    x = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(3))
    for options in ({"padding": 1, "padding_mode": "circular"}, {"padding": "same"}):
        conv = _Conv2d(2, 2, 3, **options)
        plain = torch.nn.Conv2d(2, 2, 3, **options)
        plain.load_state_dict(conv.state_dict())
        assert torch.equal(conv(x), plain(x))
    conv = _Conv2d(2, 2, 3, padding=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16


def test_fast_convolution_leaves_float64_and_disabled_onednn_to_torch():
    conv = _Conv3d(2, 2, 3, padding=1).double()
    x = torch.randn(1, 2, 5, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(conv(x), F.conv3d(x, conv.weight, conv.bias, padding=1))
    conv32 = _Conv2d(2, 2, 3, padding=1)
    x32 = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(1))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "TF32 acceleration")  # torch's note on Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False):
            assert torch.equal(conv32(x32), F.conv2d(x32, conv32.weight, conv32.bias, padding=1))
