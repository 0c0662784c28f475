"""The DCDM network, its training (Lanczos data, the stencil, the loss, resumable Adam) and the
torch-module path of ``dcdm_solve``, checked against dense computations.

Bounds. ``u`` is the unit roundoff of the dtype in play. A stencil row sums at most 7 products
of exact coefficients, so each entry is within ``8 u (|A| |x|)_i`` of the exact product. Lanczos
with full reorthogonalisation gives Ritz values of an orthonormal basis to ``n u ||A||`` (values
are float64); the vectors are rounded to float32 on return, which perturbs each by ``u32`` in
norm, so orthonormality and eigen-residuals are checked to ``n u32`` (times ``||A||``). Inner
products of length ``n`` carry ``n u`` relative error.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from sketchla import ConvergenceWarning

torch = pytest.importorskip("torch")

from sketchla.solvers import PoissonGrid  # noqa: E402
from sketchla.solvers.dcdm import (  # noqa: E402
    DCDMNet,
    TrainingData,
    dcdm_loss,
    dcdm_solve,
    lanczos_ritz,
    solver_residuals,
    stencil,
    train,
)

U64 = np.finfo(np.float64).eps / 2
U32 = float(np.finfo(np.float32).eps) / 2


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One intra-op thread: fast on a busy machine, and bitwise-reproducible training runs.

    PoissonGrid's numba kernels start numba's OpenMP pool on first use, which resets the
    OpenMP thread count that torch shares; start it first so the setting below sticks."""
    previous = torch.get_num_threads()
    PoissonGrid((8, 8)).matvec(np.zeros(64))
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def dense(A: PoissonGrid) -> np.ndarray:
    return A.to_sparse().toarray()


def random_solid(grid, seed, fraction=0.2):
    return np.random.default_rng(seed).random(grid) < fraction


def small_net(dim, seed=0, channels=4, pairs=(1, 1, 1)):
    torch.manual_seed(seed)
    return DCDMNet(dim=dim, channels=channels, pairs=pairs)


def linear_net(dim):
    """A DCDMNet that is the linear map ``r -> r + U avg(r)`` (``U`` nearest upsampling): lift
    and projection pass channel 0 through, every residual pair is zero (``relu(0) = 0``)."""
    net = DCDMNet(dim=dim, channels=2, pairs=(1, 1, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.lift.weight[(0, 0) + (1,) * dim] = 1.0
        net.project.weight[(0, 0) + (0,) * dim] = 1.0
    return net


# ---------------------------------------------------------------------------------------------
# DCDMNet
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grid",
    [(7, 9), (8, 8), (1, 1), (1, 5), (2, 1), (3, 32), (7, 9, 5), (2, 2, 2), (3, 3, 3), (8, 6, 4)],
)
def test_output_shape_equals_input_shape(grid):
    net = small_net(len(grid), channels=3)
    x = torch.randn(2, 1, *grid, generator=torch.Generator().manual_seed(0))
    y = net(x)
    assert y.shape == x.shape
    assert y.dtype == torch.float32
    assert bool(torch.isfinite(y).all())


def test_paper_network_runs_on_an_odd_3d_grid():
    net = DCDMNet(3)
    x = torch.randn(1, 1, 7, 9, 5, generator=torch.Generator().manual_seed(1))
    assert net(x).shape == x.shape


@pytest.mark.parametrize("grid", [(1, 1, 1), (1, 4, 5), (4, 5, 1)])
def test_3d_network_accepts_size_one_axes(grid):
    net = small_net(3, channels=2)
    x = torch.ones(1, 1, *grid)
    assert net(x).shape == x.shape


def test_batch_elements_are_independent():
    net = small_net(2, seed=3, channels=3)
    x = torch.randn(4, 1, 7, 6, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        together = net(x)
        apart = torch.cat([net(x[i : i + 1]) for i in range(4)])
    scale = float(together.abs().max())
    assert float((together - apart).abs().max()) <= 64 * U32 * max(scale, 1.0)


def expected_parameters(dim, channels, pairs):
    """Weights plus biases of every convolution: ``in * out * 3^dim + out`` each."""
    window = 3**dim
    lift = 1 * channels * window + channels
    pair_convs = 2 * sum(pairs) * (channels * channels * window + channels)
    project = channels * 1 * 1 + 1  # 1 x ... x 1 kernel
    return lift + pair_convs + project


@pytest.mark.parametrize(
    ("dim", "channels", "pairs"), [(3, 16, (2, 3, 2)), (2, 5, (1, 0, 2)), (3, 1, (0, 0, 0))]
)
def test_parameter_count(dim, channels, pairs):
    net = DCDMNet(dim=dim, channels=channels, pairs=pairs)
    assert sum(p.numel() for p in net.parameters()) == expected_parameters(dim, channels, pairs)


def test_paper_model_has_97457_parameters():
    # 16 * 27 + 16 (lift) + 14 * (16 * 16 * 27 + 16) (seven pairs) + 16 + 1 (projection)
    assert expected_parameters(3, 16, (2, 3, 2)) == 97_457
    assert sum(p.numel() for p in DCDMNet(3).parameters()) == 97_457


@pytest.mark.parametrize(
    "options",
    [
        {"dim": 1},
        {"dim": 4},
        {"pairs": (1, 1)},
        {"pairs": (1, 1, 1, 1)},
        {"pairs": (1, -1, 1)},
        {"channels": 0},
        {"channels": -2},
    ],
)
def test_bad_configuration_raises(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        DCDMNet(**options)


@pytest.mark.parametrize(
    ("dim", "shape"),
    [
        (3, (1, 1, 4, 4)),
        (3, (1, 1, 2, 2, 2, 2)),
        (2, (1, 1, 4, 4, 4)),
        (2, (4, 4)),
        (2, (1, 2, 4, 4)),
    ],
)
def test_wrong_input_shape_raises(dim, shape):
    net = small_net(dim, channels=2)
    with pytest.raises(ValueError, match="expected a"):
        net(torch.zeros(shape))


def test_config_round_trips():
    net = small_net(2, seed=5, channels=3, pairs=(0, 2, 1))
    config = net.config()
    assert config == {"dim": 2, "channels": 3, "pairs": [0, 2, 1]}
    again = DCDMNet(**config)
    ours, theirs = net.state_dict(), again.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)
    again.load_state_dict(ours)
    x = torch.randn(2, 1, 5, 6, generator=torch.Generator().manual_seed(5))
    assert torch.equal(net(x), again(x))


# ---------------------------------------------------------------------------------------------
# stencil
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("grid", [(6, 7), (4, 5, 3)])
@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
@pytest.mark.parametrize("solid", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stencil_is_the_poisson_matrix(grid, boundary, solid, dtype):
    A = PoissonGrid(grid, boundary=boundary, solid=random_solid(grid, 7) if solid else None)
    if solid:
        assert A.solid.any()
        assert A.fluid.any()
    x = torch.randn(3, 1, *grid, dtype=dtype, generator=torch.Generator().manual_seed(7))
    y = stencil(A, dtype=dtype)(x)
    assert y.shape == x.shape
    assert y.dtype == dtype
    S = dense(A)
    X = x.to(torch.float64).reshape(3, -1).numpy()
    exact = X @ S.T
    u = float(torch.finfo(dtype).eps) / 2
    bound = 8 * u * (np.abs(X) @ np.abs(S).T)
    assert np.all(np.abs(y.to(torch.float64).reshape(3, -1).numpy() - exact) <= bound)
    # and the matrix-free PoissonGrid.matvec, vector by vector
    for i in range(3):
        mv = A.matvec(X[i])
        assert np.all(np.abs(mv - exact[i]) <= 8 * U64 * (np.abs(S) @ np.abs(X[i])))


def test_stencil_is_differentiable():
    grid = (3, 4)
    A = PoissonGrid(grid, solid=np.array([[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], dtype=bool))
    apply = stencil(A, dtype=torch.float64)
    x = torch.randn(2, 1, *grid, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(apply, (x,))
    # the vector-Jacobian product of a symmetric A is A itself
    w = torch.randn(2, 1, *grid, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    (grad,) = torch.autograd.grad((apply(x) * w).sum(), x)
    expected = w.reshape(2, -1).numpy() @ dense(A)
    np.testing.assert_allclose(grad.reshape(2, -1).numpy(), expected, rtol=0, atol=64 * U64)


# ---------------------------------------------------------------------------------------------
# dcdm_loss
# ---------------------------------------------------------------------------------------------

LOSS_GRIDS = [(6, 5), (4, 3, 3)]


def dense_apply(S):
    St = torch.from_numpy(S)

    def apply(x):
        return (x.reshape(x.shape[0], -1) @ St).reshape(x.shape)

    return apply


def loss_problem(grid, seed):
    A = PoissonGrid(grid)
    gen = torch.Generator().manual_seed(seed)
    b = torch.randn(4, 1, *grid, dtype=torch.float64, generator=gen)
    q = torch.randn(4, 1, *grid, dtype=torch.float64, generator=gen)
    return A, dense(A), b, q


@pytest.mark.parametrize("grid", LOSS_GRIDS)
@pytest.mark.parametrize("c", [-3.0, 0.5, 1e3])
def test_loss_is_scale_invariant(grid, c):
    A, S, b, q = loss_problem(grid, 10)
    apply = stencil(A, dtype=torch.float64)
    base = float(dcdm_loss(q, b, apply))
    scaled = float(dcdm_loss(c * q, b, apply))
    n = S.shape[0]
    B, Q = b.reshape(4, -1).numpy(), q.reshape(4, -1).numpy()
    AQ = Q @ S
    step = np.sum(Q * B, axis=1) / np.sum(Q * AQ, axis=1)
    size = np.mean((np.linalg.norm(B, axis=1) + np.abs(step) * np.linalg.norm(AQ, axis=1)) ** 2)
    assert abs(scaled - base) <= 32 * n * U64 * size
    assert base > 0.01  # a random q leaves a residual: the comparison is not of zeros


@pytest.mark.parametrize("grid", LOSS_GRIDS)
def test_loss_vanishes_at_the_solution(grid):
    A, S, b, _ = loss_problem(grid, 11)
    B = b.reshape(4, -1).numpy()
    Q = np.linalg.solve(S, B.T).T
    q = torch.from_numpy(Q).reshape(b.shape)
    n = S.shape[0]
    eigs = np.linalg.eigvalsh(S)
    kappa = eigs[-1] / eigs[0]
    bound = (16 * (1 + kappa) * n * U64 * eigs[-1] * np.linalg.norm(Q, axis=1).max()) ** 2
    assert float(dcdm_loss(q, b, dense_apply(S))) <= bound
    assert float(dcdm_loss(q, b, stencil(A, dtype=torch.float64))) <= bound


@pytest.mark.parametrize("grid", LOSS_GRIDS)
def test_loss_of_the_residual_is_cgs_first_residual(grid):
    A, S, b, _ = loss_problem(grid, 12)
    B = b.reshape(4, -1).numpy()
    per_sample = []
    for rhs in B:  # CG from x0 = 0: p = b, alpha = b.b / b.Ab, r1 = b - alpha A b
        alpha = (rhs @ rhs) / (rhs @ S @ rhs)
        per_sample.append(np.sum((rhs - alpha * (S @ rhs)) ** 2))
    expected = np.mean(per_sample)
    n = S.shape[0]
    got = float(dcdm_loss(b, b, stencil(A, dtype=torch.float64)))
    assert abs(got - expected) <= 64 * n * U64 * np.mean(np.sum(B**2, axis=1))


def test_loss_is_the_batch_mean():
    A, S, b, q = loss_problem((6, 5), 13)
    apply = stencil(A, dtype=torch.float64)
    whole = float(dcdm_loss(q, b, apply))
    parts = [float(dcdm_loss(q[i : i + 1], b[i : i + 1], apply)) for i in range(4)]
    assert len(set(parts)) == 4
    assert abs(whole - np.mean(parts)) <= 64 * S.shape[0] * U64 * np.mean(parts)


# ---------------------------------------------------------------------------------------------
# lanczos_ritz
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("grid", [(3, 4), (2, 3, 4)])  # grids with n distinct eigenvalues
def test_full_lanczos_gives_the_spectrum(grid):
    A = PoissonGrid(grid)
    S = dense(A)
    eigs = np.linalg.eigvalsh(S)
    n = S.shape[0]
    assert np.min(np.diff(eigs)) > 0.1  # distinct: the Krylov space is all of R^n
    values, vectors = lanczos_ritz(A, n, seed=0)
    assert values.dtype == np.float64
    assert vectors.dtype == np.float32
    assert values.shape == (n,)
    assert vectors.shape == (n, n)
    assert np.all(np.abs(values - eigs) <= n * 2 * U64 * eigs[-1])
    check_ritz_pairs(S, values, vectors)


def check_ritz_pairs(S, values, vectors, residual=True):
    n, k = vectors.shape
    Y = vectors.astype(np.float64)
    assert np.all(np.diff(values) >= 0)
    assert np.abs(Y.T @ Y - np.eye(k)).max() <= n * 2 * U32
    if residual:
        norm = np.abs(values).max()
        assert np.linalg.norm(S @ Y - Y * values, axis=0).max() <= n * 2 * U32 * norm


@pytest.mark.parametrize(("grid", "distinct"), [((4, 4), 9), ((3, 3, 3), 7)])
def test_lanczos_on_repeated_eigenvalues(grid, distinct):
    """A Krylov space holds one vector per distinct eigenvalue: that many steps give exactly
    the distinct eigenvalues; one more step is refused."""
    A = PoissonGrid(grid)
    S = dense(A)
    eigs = np.linalg.eigvalsh(S)
    unique = eigs[np.concatenate([[True], np.diff(eigs) > 1e-8])]
    assert unique.size == distinct
    values, vectors = lanczos_ritz(A, distinct, seed=1)
    n = S.shape[0]
    assert np.all(np.abs(values - unique) <= n * 2 * U64 * eigs[-1])
    check_ritz_pairs(S, values, vectors)
    with pytest.raises(ValueError, match=f"exhausted after {distinct} steps"):
        lanczos_ritz(A, n, seed=1)


def chebyshev(k, x):
    return math.cosh(k * math.acosh(x))


def test_partial_lanczos_interlaces_and_converges_at_the_ends():
    A = PoissonGrid((16, 16))
    S = dense(A)
    eigs, Z = np.linalg.eigh(S)
    n = S.shape[0]
    slack = n * 2 * U64 * eigs[-1]
    # one step returns the normalised start vector q1 (a Ritz vector of a 1-D space)
    q1 = lanczos_ritz(A, 1, seed=2)[1][:, 0].astype(np.float64)
    previous = None
    for k in (5, 10, 20, 40):
        values, vectors = lanczos_ritz(A, k, seed=2)
        assert values.shape == (k,)
        assert vectors.shape == (n, k)
        # Cauchy interlacing: lambda_i <= theta_i <= lambda_{i + n - k}
        assert np.all(eigs[:k] - slack <= values)
        assert np.all(values <= eigs[n - k :] + slack)
        # Kaniel-Paige (Golub & Van Loan, Thm 10.1.2), at both ends of the spectrum
        for end, gap_index, sign in ((n - 1, n - 2, 1), (0, 1, -1)):
            cos = abs(q1 @ Z[:, end])
            tan = math.sqrt(max(1 - cos**2, 0.0)) / cos
            far = eigs[0] if sign > 0 else eigs[-1]
            rho = abs(eigs[end] - eigs[gap_index]) / abs(eigs[gap_index] - far)
            bound = (eigs[-1] - eigs[0]) * (tan / chebyshev(k - 1, 1 + 2 * rho)) ** 2
            theta = values[-1] if sign > 0 else values[0]
            assert sign * (eigs[end] - theta) <= bound + slack
        # nested Krylov spaces: the extreme Ritz values move outwards
        if previous is not None:
            assert values[-1] >= previous[-1] - slack
            assert values[0] <= previous[0] + slack
        previous = values
        # the Lanczos relation: A Y - Y Theta = beta q_{k+1} s^T, a rank-one matrix
        Y = vectors.astype(np.float64)
        R = S @ Y - Y * values
        sigma = np.linalg.svd(R, compute_uv=False)
        assert sigma[1] <= 4 * math.sqrt(k) * 2 * U32 * eigs[-1]
        assert np.abs(Y.T @ R).max() <= n * 2 * U32 * eigs[-1]
        check_ritz_pairs(S, values, vectors, residual=False)
    assert eigs[-1] - previous[-1] <= 1e-6  # the largest has converged after 40 of 256 steps


def test_lanczos_on_a_singular_neumann_grid_stays_in_the_range():
    """Started from ``A g``, the Krylov space misses the constants (the null space)."""
    grid = (6, 6)
    A = PoissonGrid(grid, boundary="neumann")
    S = dense(A)
    eigs = np.linalg.eigvalsh(S)
    assert abs(eigs[0]) <= 64 * U64
    values, vectors = lanczos_ritz(A, 12, seed=3)
    ones = np.ones(S.shape[0]) / math.sqrt(S.shape[0])
    assert np.abs(ones @ vectors.astype(np.float64)).max() <= 4 * math.sqrt(S.shape[0]) * 2 * U32
    assert values[0] >= eigs[1] - S.shape[0] * 2 * U64 * eigs[-1]  # interlacing in range(A)
    assert values[-1] <= eigs[-1] + S.shape[0] * 2 * U64 * eigs[-1]


def test_lanczos_bad_steps_and_determinism():
    A = PoissonGrid((3, 4))
    for steps in (0, -1, 13):
        with pytest.raises(ValueError, match="steps"):
            lanczos_ritz(A, steps)
    with pytest.raises(TypeError, match="steps"):
        lanczos_ritz(A, 2.0)
    first, again, other = (lanczos_ritz(A, 6, seed=s) for s in (4, 4, 5))
    assert np.array_equal(first[0], again[0])
    assert np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


# ---------------------------------------------------------------------------------------------
# TrainingData
# ---------------------------------------------------------------------------------------------


def test_from_ritz_drops_small_values_and_weights_the_low_end():
    values = np.array([-1e-3, 0.0, 1e-8, 2e-8, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
    vectors = np.random.default_rng(20).standard_normal((12, 10)).astype(np.float32)
    data = TrainingData.from_ritz(values, vectors, [3, 4])
    keep = np.flatnonzero(values > 1e-8)  # 7 columns: 2e-8 .. 5
    assert data.grid_shape == (3, 4)
    assert np.array_equal(data.vectors.numpy(), vectors[:, keep])
    # round(0.55 * 7) = round(3.85) = 4 low columns weighted 9
    assert data.weights.tolist() == [9.0] * 4 + [1.0] * 3
    custom = TrainingData.from_ritz(
        values, vectors, (3, 4), low_fraction=0.25, low_weight=2.5, min_value=0.75
    )
    assert np.array_equal(custom.vectors.numpy(), vectors[:, values > 0.75])  # 1 .. 5
    assert custom.weights.tolist() == [2.5] + [1.0] * 4  # round(0.25 * 5) = 1
    assert (
        TrainingData.from_ritz(values, vectors, (3, 4), low_fraction=0.0).weights.tolist()
        == [1.0] * 7
    )
    assert (
        TrainingData.from_ritz(values, vectors, (3, 4), low_fraction=1.0).weights.tolist()
        == [9.0] * 7
    )


@pytest.fixture(scope="module")
def ritz_6x5():
    A = PoissonGrid((6, 5))
    return A, *lanczos_ritz(A, 20, seed=21)


def test_batch_shape_norm_determinism_and_span(ritz_6x5):
    A, values, vectors = ritz_6x5
    data = TrainingData.from_ritz(values, vectors, A.grid_shape)
    b = data.batch(7, torch.Generator().manual_seed(0))
    assert b.shape == (7, 1, 6, 5)
    assert b.dtype == torch.float32
    B = b.reshape(7, -1).to(torch.float64).numpy()
    n = B.shape[1]
    assert np.abs(np.linalg.norm(B, axis=1) - 1).max() <= n * 2 * U32
    assert torch.equal(b, data.batch(7, torch.Generator().manual_seed(0)))
    assert not torch.equal(b, data.batch(7, torch.Generator().manual_seed(1)))
    Y = vectors.astype(np.float64)
    coefficients = np.linalg.lstsq(Y, B.T, rcond=None)[0]
    assert np.linalg.norm(B.T - Y @ coefficients, axis=0).max() <= n * 2 * U32


def test_batch_weights_the_lowest_ritz_vectors(ritz_6x5):
    """Coefficients in the Ritz basis are ``w * c / ||w * c||``: divided by the weights, the
    direction of ``c ~ N(0, I)`` is uniform on the sphere, so each squared entry of the
    normalised ``coefficients / w`` averages ``1 / k``."""
    A, values, vectors = ritz_6x5
    k = values.size
    data = TrainingData.from_ritz(values, vectors, A.grid_shape, low_fraction=0.5)
    weights = np.array([9.0] * (k // 2) + [1.0] * (k - k // 2))
    assert np.array_equal(data.weights.numpy(), weights)
    samples = 4000
    b = data.batch(samples, torch.Generator().manual_seed(22))
    coefficients = vectors.astype(np.float64).T @ b.reshape(samples, -1).double().numpy().T
    c = coefficients / weights[:, None]
    c /= np.linalg.norm(c, axis=0)
    # the mean of u_i^2 for u uniform on S^{k-1}: 1/k, standard deviation ~ 1.4 / (k sqrt(N))
    assert np.abs(np.mean(c**2, axis=1) - 1 / k).max() <= 0.15 / k


def test_batch_from_float64_vectors():
    A = PoissonGrid((3, 4))
    values, vectors = np.linalg.eigh(dense(A))
    data = TrainingData.from_ritz(values, vectors, A.grid_shape)
    b = data.batch(3, torch.Generator().manual_seed(0))
    assert b.shape == (3, 1, 3, 4)


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def problem_8x8():
    A = PoissonGrid((8, 8))
    return A, TrainingData.from_ritz(*lanczos_ritz(A, 32, seed=0), A.grid_shape)


@pytest.fixture(scope="module")
def trained_8x8(problem_8x8):
    A, data = problem_8x8
    net = small_net(2)
    losses = train(net, A, data, steps=80, lr=1e-2, progress=False)
    return net, losses


def test_training_lowers_the_loss(trained_8x8):
    net, losses = trained_8x8
    assert len(losses) == 80
    assert all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert not net.training  # left in eval mode


def same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_continues_a_run(problem_8x8, tmp_path):
    """Constant learning rate: 6 steps, then a fresh model resumed to 12, is the 12-step run."""
    A, data = problem_8x8
    options = {"lr": 1e-2, "batch_size": 3, "seed": 4, "progress": False}
    whole = small_net(2, seed=1)
    losses = train(whole, A, data, steps=12, **options)
    path = tmp_path / "run.pt"
    first = train(small_net(2, seed=1), A, data, steps=6, checkpoint=path, **options)
    assert path.exists()
    assert first == losses[:6]
    resumed = small_net(2, seed=1)
    assert train(resumed, A, data, steps=12, checkpoint=path, **options) == losses
    assert same_state(resumed, whole)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary left


class Interrupt(Exception):
    pass


class Interrupting:
    """Training data that stops the run when batch number ``stop`` is asked for."""

    def __init__(self, data, stop):
        self.data, self.stop, self.calls = data, stop, 0
        self.grid_shape = data.grid_shape

    def batch(self, size, generator):
        self.calls += 1
        if self.calls == self.stop:
            raise Interrupt
        return self.data.batch(size, generator)


def test_cosine_schedule_ends_at_final_lr_and_stays_there(problem_8x8, monkeypatch):
    """A run longer than its schedule keeps the final rate (the cosine does not climb back)."""
    A, data = problem_8x8
    rates = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    options = {"lr": 1e-2, "final_lr": 1e-4, "schedule_steps": 4, "progress": False}
    train(small_net(2), A, data, steps=8, **options)
    cosine = [1 + math.cos(math.pi * min(k / 4, 1)) for k in range(8)]
    assert rates == pytest.approx([1e-4 + 0.5 * (1e-2 - 1e-4) * c for c in cosine], rel=1e-12)


def test_train_refuses_bad_arguments(problem_8x8):
    A, data = problem_8x8
    for options, match in (
        ({"replay_every": 0}, "replay_every"),
        ({"replay_depth": 0}, "replay_depth"),
        ({"schedule_steps": 0}, "schedule_steps"),
        ({"lr": -1.0}, "lr"),
    ):
        with pytest.raises(ValueError, match=match):
            train(small_net(2), A, data, steps=1, progress=False, **options)
    with pytest.raises(ValueError, match="grid"):
        train(small_net(2), PoissonGrid((6, 6)), data, steps=1, progress=False)
    with pytest.raises(ValueError, match="no parameters"):
        train(torch.nn.Identity(), A, data, steps=1, progress=False)


def test_solver_residuals_without_orthogonalisation():
    """n_orth = 0 uses no earlier direction: with f = identity it is steepest descent."""
    A = PoissonGrid((6, 5))
    S = dense(A)
    apply_A = stencil(A, dtype=torch.float64)
    b = torch.randn(1, 1, 6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out = solver_residuals(lambda r: r, apply_A, b, depth=4, n_orth=0)
    r = b.reshape(-1).numpy()
    for k in range(4):
        r = r / np.linalg.norm(r)
        np.testing.assert_allclose(out[k].reshape(-1).numpy(), r, atol=64 * U64)
        r = r - (r @ r) / (r @ S @ r) * (S @ r)


def test_resume_after_an_interruption_follows_the_cosine_schedule(problem_8x8, tmp_path):
    """A 12-step cosine-schedule run killed after 6 steps and resumed equals the whole run."""
    A, data = problem_8x8
    options = {"lr": 1e-2, "final_lr": 1e-4, "seed": 5, "progress": False, "batch_size": 3}
    whole = small_net(2, seed=2)
    losses = train(whole, A, data, steps=12, **options)
    path = tmp_path / "run.pt"
    with pytest.raises(Interrupt):
        train(
            small_net(2, seed=2),
            A,
            Interrupting(data, stop=7),
            steps=12,
            checkpoint=path,
            checkpoint_every=0.0,  # save after every step
            **options,
        )
    assert torch.load(path, weights_only=True)["losses"] == losses[:6]
    resumed = small_net(2, seed=2)
    assert train(resumed, A, data, steps=12, checkpoint=path, **options) == losses
    assert same_state(resumed, whole)
    # the schedule matters: a constant learning rate gives other losses from step 2 on
    constant = train(small_net(2, seed=2), A, data, steps=12, **{**options, "final_lr": None})
    assert constant[:2] == losses[:2]
    assert constant[2:] != losses[2:]


def test_zero_steps_and_bad_arguments(problem_8x8, tmp_path):
    A, data = problem_8x8
    net = small_net(2, seed=3)
    before = copy.deepcopy(net.state_dict())
    assert train(net, A, data, steps=0, progress=False) == []
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    path = tmp_path / "run.pt"
    trained = small_net(2, seed=3)
    losses = train(trained, A, data, steps=4, batch_size=2, checkpoint=path, progress=False)
    fresh = small_net(2, seed=4)
    assert train(fresh, A, data, steps=0, checkpoint=path, progress=False) == losses
    assert same_state(fresh, trained)  # the checkpoint's model is loaded
    for bad in (0, -1):
        with pytest.raises(ValueError, match="batch_size"):
            train(net, A, data, steps=1, batch_size=bad, progress=False)
    with pytest.raises(TypeError, match="batch_size"):
        train(net, A, data, steps=1, batch_size=2.0, progress=False)
    with pytest.raises(ValueError, match="steps"):
        train(net, A, data, steps=-1, progress=False)


def test_a_non_finite_loss_stops_training(problem_8x8):
    A, data = problem_8x8
    net = small_net(2, seed=6)
    with torch.no_grad():
        net.project.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="loss"):
        train(net, A, data, steps=3, progress=False)


@pytest.mark.gpu
def test_resume_on_cuda(problem_8x8, tmp_path):
    A, data = problem_8x8
    path = tmp_path / "run.pt"
    train(small_net(2), A, data, steps=2, checkpoint=path, device="cuda", progress=False)
    losses = train(small_net(2), A, data, steps=4, checkpoint=path, device="cuda", progress=False)
    assert len(losses) == 4


# ---------------------------------------------------------------------------------------------
# dcdm_solve with a torch module
# ---------------------------------------------------------------------------------------------


def solution_bound(S, b, tol):
    """``||x - x*||`` for ``||b - A x|| <= 2 tol ||b||`` (the recurrence may drift a little)."""
    return 2 * tol * np.linalg.norm(b) / np.linalg.eigvalsh(S)[0]


def test_linear_network_gives_the_exact_first_step_and_converges():
    grid = (15, 13)
    A = PoissonGrid(grid)
    S = dense(A)
    b = np.random.default_rng(30).standard_normal(A.shape[0])
    net = linear_net(2)
    # the network as a dense matrix, from a batch of unit vectors
    with torch.no_grad():
        M = net(torch.eye(A.shape[0]).reshape(-1, 1, *grid)).reshape(A.shape[0], -1).double()
    M = M.numpy().T
    xs = []
    result = dcdm_solve(
        A, b, model=net, tol=1e-6, safeguard=False, callback=lambda x: xs.append(x.copy())
    )
    q = M @ (b / np.linalg.norm(b))
    first = (q @ b) / (q @ S @ q) * q
    assert np.linalg.norm(xs[0] - first) <= 8 * A.shape[0] * U32 * np.linalg.norm(first)
    assert result.converged
    # with the safeguard, the first step is the Galerkin solution on span{q, b}
    guarded = []
    with pytest.warns(ConvergenceWarning):
        dcdm_solve(A, b, model=net, tol=1e-6, maxiter=1, callback=lambda x: guarded.append(x))
    V = np.column_stack([q, b])
    galerkin = V @ np.linalg.solve(V.T @ S @ V, V.T @ b)
    bound = 8 * A.shape[0] * U32 * poisson_kappa(S) * np.linalg.norm(galerkin)
    assert np.linalg.norm(guarded[0] - galerkin) <= bound
    exact = np.linalg.solve(S, b)
    assert np.linalg.norm(S @ result.x - b) <= 2e-6 * np.linalg.norm(b)
    assert np.linalg.norm(result.x - exact) <= solution_bound(S, b, 1e-6)
    # the same map given as a float64 callable: conjugate directions with an SPD map are PCG
    reference = dcdm_solve(
        A, b, model=lambda r: (M @ r.reshape(-1)).reshape(grid), tol=1e-6, safeguard=False
    )
    assert abs(result.iterations - reference.iterations) <= 2


def poisson_kappa(S):
    values = np.linalg.eigvalsh(S)
    return values[-1] / values[0]


def test_trained_network_solves(trained_8x8):
    net, _ = trained_8x8
    A = PoissonGrid((8, 8))
    S = dense(A)
    b = np.random.default_rng(31).standard_normal(A.shape[0])
    result = dcdm_solve(A, b, model=net, tol=1e-6, maxiter=200)
    assert result.converged
    assert np.linalg.norm(S @ result.x - b) <= 2e-6 * np.linalg.norm(b)
    assert np.linalg.norm(result.x - np.linalg.solve(S, b)) <= solution_bound(S, b, 1e-6)


def test_device_cpu_leaves_the_callers_module_alone():
    net = small_net(2, seed=7)
    net.train()
    parameters = list(net.parameters())
    before = copy.deepcopy(net.state_dict())
    A = PoissonGrid((8, 8))
    b = np.random.default_rng(32).standard_normal(A.shape[0])
    with pytest.warns(ConvergenceWarning):  # an untrained network: a few steps suffice here
        dcdm_solve(A, b, model=net, maxiter=3, device="cpu")
    assert all(p is q for p, q in zip(net.parameters(), parameters, strict=True))
    assert all(p.device.type == "cpu" and p.requires_grad for p in parameters)
    assert all(p.grad is None for p in parameters)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.training


def test_network_of_the_wrong_dimension_raises():
    b = np.ones(64)
    with pytest.raises(ValueError, match="3-D network"):
        dcdm_solve(PoissonGrid((8, 8)), b, model=small_net(3, channels=2))
    with pytest.raises(ValueError, match="2-D network"):
        dcdm_solve(PoissonGrid((4, 4, 4)), b, model=small_net(2, channels=2))


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-4), (torch.float64, 1e-6)])
def test_torch_right_hand_side(dtype, tol):
    grid = (12, 10)
    A = PoissonGrid(grid)
    S = dense(A)
    b_np = np.random.default_rng(33).standard_normal(A.shape[0])
    b = torch.from_numpy(b_np).to(dtype)
    result = dcdm_solve(A, b, model=linear_net(2), tol=tol)
    assert isinstance(result.x, torch.Tensor)
    assert result.x.dtype == dtype
    assert result.converged
    B = b.double().numpy()
    x = result.x.double().numpy()
    u = float(torch.finfo(dtype).eps) / 2
    eigs = np.linalg.eigvalsh(S)
    slack = 8 * A.shape[0] * u * eigs[-1] / eigs[0]  # the rounding of a residual in dtype
    assert np.linalg.norm(S @ x - B) <= (2 * tol + slack) * np.linalg.norm(B)
    assert (
        np.linalg.norm(x - np.linalg.solve(S, B)) <= (2 * tol + slack) * np.linalg.norm(B) / eigs[0]
    )
