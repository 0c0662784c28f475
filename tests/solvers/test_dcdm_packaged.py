"""The packaged DCDM networks: they load with ``weights_only=True``, are small, and make
``dcdm_solve`` converge in a fraction of CG's iterations on grids and systems beyond their
training (the issue's targets are measured at 64^3 and beyond in the benchmark and the
notebook; here the same claims at sizes a test can afford)."""

from __future__ import annotations

import warnings
from importlib import resources

import numpy as np
import pytest
import scipy.ndimage

torch = pytest.importorskip("torch")

import sketchla  # noqa: E402
from sketchla.solvers import PoissonGrid, cg  # noqa: E402
from sketchla.solvers.dcdm import (  # noqa: E402
    PACKAGED_MODELS,
    DCDMNet,
    MultilevelNet,
    dcdm_solve,
    load_model,
)
from sketchla.solvers.dcdm.models import build_model  # noqa: E402

TOL = 1e-4
U32 = float(np.finfo(np.float32).eps) / 2


def weights_file(name):
    return resources.files("sketchla.solvers.dcdm").joinpath("weights", f"{name}.pt")


@pytest.mark.parametrize("name", PACKAGED_MODELS)
def test_packaged_model_loads_safely_and_is_small(name):
    path = weights_file(name)
    with resources.as_file(path) as file:
        assert file.stat().st_size < 2 * 2**20
        saved = torch.load(file, weights_only=True)  # no pickled code
    assert set(saved) == {"config", "state", "info"}
    model = load_model(name)
    architecture = MultilevelNet if name == "poisson3d" else DCDMNet
    assert type(model) is architecture
    assert model.dim == int(name.split("-")[0][-2])
    assert not model.training
    assert model.training_info["seed"] == saved["info"]["seed"]
    reference = build_model(saved["config"])
    reference.load_state_dict(saved["state"])
    x = torch.randn((1, 1) + (6,) * model.dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out, expected = model(x), reference(x)
    for key, value in saved["state"].items():  # the saved weights, bit for bit
        assert torch.equal(model.state_dict()[key].contiguous(), value.contiguous()), key
    # The loaded model runs channels-last, which changes only the order of each convolution's
    # sums (at most 16 * 3^d float32 products). The bound below, one such rounding per
    # convolution applied (at every level of a multilevel network) relative to the output's
    # largest entry, is an estimate, not a proven bound: ReLUs and skips can amplify or cancel.
    convolutions = sum(isinstance(m, torch.nn.modules.conv._ConvNd) for m in model.modules())
    if isinstance(model, MultilevelNet):
        convolutions *= model.levels(x.shape[2:])
    bound = convolutions * 16 * 3**model.dim * U32
    scale = float(expected.abs().max())
    torch.testing.assert_close(out, expected, rtol=0, atol=bound * scale)


def test_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="model must be one of"):
        load_model("poisson4d")
    with pytest.raises(ValueError, match="model must be one of"):
        dcdm_solve(PoissonGrid((4, 4)), np.ones(16), model="poisson4d")


def test_top_level_import():
    assert sketchla.dcdm_solve is dcdm_solve


def families(n, dim, seed):
    rng = np.random.default_rng(seed)
    shape = (n,) * dim
    smooth = scipy.ndimage.gaussian_filter(rng.standard_normal(shape), n / 12, mode="constant")
    point = np.zeros(shape)
    point[tuple(rng.integers(n // 4, 3 * n // 4, size=dim))] = 1.0
    return {
        "white noise": rng.standard_normal(n**dim),
        "smooth field": smooth.ravel(),
        "point source": point.ravel(),
    }


@pytest.mark.parametrize(
    ("name", "dim", "n", "factor"),
    [(None, 3, 32, 8), ("poisson3d-paper", 3, 32, 4), (None, 2, 96, 8)],
)
def test_packaged_model_beats_cg(name, dim, n, factor):
    """Measured when the models were packaged, at 32^3: 11-14x (multilevel), 12-14x (the
    paper's); 2-D at 64^2-128^2 about 20x. The bounds leave room for other right-hand sides."""
    A = PoissonGrid((n,) * dim)
    for family, b in families(n, dim, seed=n).items():
        plain = cg(A, b, tol=TOL).iterations
        deep = dcdm_solve(A, b, model=name, tol=TOL)  # None: the default of the grid's dim
        assert deep.converged, family
        residual = np.linalg.norm(b - A.matvec(deep.x)) / np.linalg.norm(b)
        assert residual <= 1.01 * TOL, family  # the true residual, not only the recurrence's
        assert factor * deep.iterations <= plain, (family, deep.iterations, plain)


def growth(model):
    """Iterations at 32^3 and 64^3 for each right-hand-side family."""
    counts = {}
    for family in ("white noise", "smooth field", "point source"):
        counts[family] = []
        for n in (32, 64):
            b = families(n, 3, seed=7)[family]
            result = dcdm_solve(PoissonGrid((n,) * 3), b, model=model, tol=TOL)
            assert result.converged, (model, family, n)
            counts[family].append(result.iterations)
    return counts


def test_default_3d_model_iterations_grow_at_most_1_5x_per_doubling():
    """The issue's size-independence target, 32^3 -> 64^3 (the benchmark and the notebook
    carry it on to 128^3), on the three families together; each family alone may exceed it by
    one iteration, the resolution of a count that crosses the tolerance. Measured when
    packaged: 5 -> 6, 6 -> 9, 6 -> 7 (17 -> 22), against the paper's one-level network's
    5 -> 8, 6 -> 12, 6 -> 9 (17 -> 29), which this test must tell apart."""
    ours, papers = growth(None), growth("poisson3d-paper")
    total = np.sum(list(ours.values()), axis=0)
    assert total[1] <= 1.5 * total[0], ours
    for family, (coarse, fine) in ours.items():
        assert fine <= 1.5 * coarse + 1, (family, coarse, fine)
    paper_total = np.sum(list(papers.values()), axis=0)
    assert total[1] / total[0] < paper_total[1] / paper_total[0], (ours, papers)


def test_packaged_model_on_solid_cells_and_torch_input():
    n = 32
    solid = np.zeros((n, n, n), dtype=bool)
    solid[10:13, :20, :] = True
    solid[20:23, 12:, :] = True
    A = PoissonGrid((n, n, n), solid=solid)
    b = np.random.default_rng(0).standard_normal(n**3) * A.fluid.reshape(-1)
    plain = cg(A, b, tol=TOL)
    deep = dcdm_solve(A, torch.from_numpy(b).to(torch.float32), tol=TOL)
    assert isinstance(deep.x, torch.Tensor)
    assert deep.x.dtype == torch.float32
    assert deep.converged
    assert 3 * deep.iterations <= plain.iterations
    x = deep.x.double().numpy()
    assert np.linalg.norm(b - A.matvec(x)) <= 2 * TOL * np.linalg.norm(b)  # float32 x


def test_default_model_needs_a_2d_or_3d_grid():
    with pytest.raises(ValueError, match="2-D or 3-D grid_shape"):
        dcdm_solve(np.eye(5), np.ones(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = dcdm_solve(PoissonGrid((16, 16)).to_sparse(), np.ones(256), grid_shape=(16, 16))
    assert result.converged
