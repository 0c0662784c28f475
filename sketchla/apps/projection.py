"""Low-rank gradient projection for memory-light adaptive optimizers: GaLore's SVD projector
(Zhao et al., ICML 2024) and the SVD-free projector on a fixed DCT basis (Modoranu et al.,
arXiv:2505.17967, 2025), and :class:`LowRankAdam`, which keeps Adam's moments in the projected
space.

A gradient ``G`` (``m x n``) is projected on its smaller side: with ``m >= n`` ("right"),
``low = G P`` for an ``n x r`` matrix ``P`` with orthonormal columns and ``back = low P^T``;
with ``m < n`` ("left"), ``low = P^T G`` and ``back = P low``. GaLore takes ``P`` from the
top ``r`` singular vectors of ``G``. The DCT projector takes ``r`` columns of the orthonormal
DCT-II matrix ``Q``, those whose products with ``G`` have the largest L1 norms: finding them
is one fast DCT of ``G`` (``O(m n log n)``) instead of an SVD (``O(m n min(m, n))``), and the
projector is stored as ``r`` integers instead of an ``n x r`` matrix.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.fft
import torch

from .. import _validation as v

__all__ = ["DCTProjector", "LowRankAdam", "SVDProjector", "dct_basis"]

SIDES = ("left", "right")


# -------------------------------------------------------------------------------------------
# The DCT-II basis


def dct_basis(n: int, *, dtype: torch.dtype = torch.float32, device: Any = None) -> torch.Tensor:
    """The ``n x n`` orthonormal DCT-II matrix ``Q`` whose *columns* are the DCT-II basis
    vectors.

    ``Q[j, k] = sqrt(2 / n) cos(pi k (2 j + 1) / (2 n))``, with the column ``k = 0`` scaled by
    ``1 / sqrt(2)``, so that ``Q^T Q = I``. This is the transpose of the usual DCT matrix
    ``D`` (``y = D x`` is the orthonormal DCT-II of ``x``, ``scipy.fft.dct(x, type=2,
    norm="ortho")``): ``x^T Q = (D x)^T``, so ``G Q`` is the DCT of every row of ``G``
    (``scipy.fft.dct(G, type=2, norm="ortho", axis=1)``) and ``Q^T G`` the DCT of every column.

    Parameters
    ----------
    n : int
        The size, at least 1.
    dtype : torch.dtype
        A floating dtype (the matrix is built in float64 and rounded once).
    device : torch.device or str, optional
        Default: the CPU.

    Returns
    -------
    torch.Tensor
        ``n x n``. The result is cached per ``(n, dtype, device)`` (the last 16 of them) and
        shared between calls: treat it as read-only, and ``.clone()`` it before writing into it.

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import dct_basis
    >>> Q = dct_basis(4, dtype=torch.float64)
    >>> torch.allclose(Q.T @ Q, torch.eye(4, dtype=torch.float64))
    True
    >>> Q[:, 0]  # the constant vector
    tensor([0.5000, 0.5000, 0.5000, 0.5000], dtype=torch.float64)
    """
    n = v.check_positive_int(n, "n")
    dtype = _check_floating_dtype(dtype, "dtype")
    return _cached_basis(n, dtype, _normalise_device(device))


@functools.lru_cache(maxsize=16)
def _cached_basis(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    D = scipy.fft.dct(np.eye(n), type=2, norm="ortho", axis=0)  # D[k, j]: the DCT of e_j
    return torch.from_numpy(np.ascontiguousarray(D.T)).to(dtype=dtype, device=device)


def _dct_columns(n: int, columns: np.ndarray, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """``Q[:, columns]`` from the formula, without the whole basis (``O(n r)``). The angle's
    integer part ``k (2 j + 1)`` is reduced modulo ``4 n`` (the period) before scaling, so
    the cosine's argument is exact up to one rounding."""
    j = np.arange(n, dtype=np.int64)[:, None]
    k = np.asarray(columns, dtype=np.int64)[None, :]
    angle = np.pi * ((k * (2 * j + 1)) % (4 * n)) / (2 * n)
    Q = np.sqrt(2.0 / n) * np.cos(angle)
    Q[:, k[0] == 0] *= math.sqrt(0.5)
    return torch.from_numpy(Q).to(dtype=dtype, device=device)


def _normalise_device(device: Any) -> torch.device:
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def _check_floating_dtype(dtype: Any, name: str) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating torch dtype, got {dtype!r}")
    return dtype


# -------------------------------------------------------------------------------------------
# Projectors


def _check_gradient(G: Any, name: str = "G") -> torch.Tensor:
    if not isinstance(G, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(G).__name__}")
    if G.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(G.shape)}")
    if not G.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating point tensor, got {G.dtype}")
    if G.is_sparse:
        raise TypeError(f"{name} must be a dense tensor, got a sparse one")
    return G


class _Projector:
    """What both projectors share: the rank, the side, the shape seen by :meth:`update`, and
    the checks of :meth:`project` and :meth:`project_back`."""

    def __init__(self, rank: int):
        self.rank = v.check_positive_int(rank, "rank")
        self.shape: tuple[int, int] | None = None

    @property
    def side(self) -> str | None:
        """``"right"`` (``m >= n``: ``low = G P``, ``m x r``) or ``"left"`` (``m < n``:
        ``low = P^T G``, ``r x n``); ``None`` before the first :meth:`update`."""
        if self.shape is None:
            return None
        m, n = self.shape
        return "right" if m >= n else "left"

    @property
    def low_rank_shape(self) -> tuple[int, int] | None:
        """The shape of :meth:`project`'s result."""
        if self.shape is None:
            return None
        m, n = self.shape
        return (m, self.rank) if self.side == "right" else (self.rank, n)

    def update(self, G: torch.Tensor) -> _Projector:
        """Choose the subspace from the gradient ``G`` (2-D, finite, ``min(G.shape) >=
        rank``); returns the projector."""
        G = _check_gradient(G)
        if min(G.shape) < self.rank:
            raise ValueError(
                f"rank must be at most min(G.shape) = {min(G.shape)}, got rank={self.rank} "
                f"for G of shape {tuple(G.shape)}"
            )
        if not bool(torch.isfinite(G).all()):
            raise ValueError("G holds NaN or infinity; the projector is unchanged")
        self._update(G)
        self.shape = (int(G.shape[0]), int(G.shape[1]))
        return self

    def project(self, G: torch.Tensor) -> torch.Tensor:
        """``G P`` (right) or ``P^T G`` (left), for ``G`` of the shape seen by :meth:`update`."""
        self._check_input(G, "G", self.shape)
        return self._project(G)

    def project_back(self, low: torch.Tensor) -> torch.Tensor:
        """``low P^T`` (right) or ``P low`` (left): the full-size matrix of a low-rank one."""
        self._check_input(low, "low", self.low_rank_shape)
        return self._project_back(low)

    def _check_input(self, X: Any, name: str, shape: tuple[int, int] | None) -> None:
        if self.shape is None:
            raise RuntimeError(f"{type(self).__name__} has no subspace yet: call update(G) first")
        _check_gradient(X, name)
        if tuple(X.shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape} (the projector was updated with a "
                f"{self.shape[0]} x {self.shape[1]} gradient), got {tuple(X.shape)}"
            )

    def _load_shape(self, state: Any) -> tuple[int, int]:
        if not isinstance(state, dict) or "shape" not in state:
            raise ValueError(
                f"state is not a {type(self).__name__} state: it has no 'shape', got "
                f"{type(state).__name__}"
            )
        shape = v.check_shape(state["shape"], "state['shape']")
        if len(shape) != 2 or min(shape) < self.rank:
            raise ValueError(
                f"state['shape'] must be 2-D with both sizes >= rank = {self.rank}, got {shape}"
            )
        return shape

    def __repr__(self) -> str:
        where = "" if self.shape is None else f", shape={self.shape}, side={self.side!r}"
        return f"{type(self).__name__}(rank={self.rank}{where})"


class DCTProjector(_Projector):
    """The SVD-free projector: ``r`` columns of the orthonormal DCT-II basis, chosen per
    gradient (Modoranu et al. 2025, "dynamic column selection").

    For ``G`` (``m x n``) with ``m >= n``, :meth:`update` forms ``S = G Q`` with the ``n x n``
    basis :func:`dct_basis` (the DCT of every row of ``G``), scores each column ``k`` of ``S``
    by its L1 norm ``sum_i |S[i, k]|`` and keeps the ``r`` columns with the largest scores:
    ``P = Q[:, indices]``, ``project(G) = G P`` (``m x r``), ``project_back(low) = low P^T``.
    For ``m < n`` the same happens on the left: scores are the L1 norms of the rows of
    ``Q^T G`` (``Q`` of size ``m``), ``project(G) = P^T G`` (``r x n``), ``project_back(low) =
    P low``. ``P P^T`` is an orthogonal projection, so ``project_back(project(G))`` is the
    orthogonal projection of ``G`` on the chosen subspace.

    Parameters
    ----------
    rank : int
        ``r``, at most ``min(m, n)`` of the gradients it will see.
    method : {"auto", "fft", "matmul"}
        How :meth:`update` computes ``G Q``: ``"fft"`` by ``scipy.fft.dct`` (``O(m n log n)``,
        CPU tensors only, no basis stored), ``"matmul"`` by a product with the cached basis
        on the tensor's device (what the paper's code does on a GPU); ``"auto"`` is ``"fft"``
        on the CPU and ``"matmul"`` elsewhere. 16-bit gradients are scored in float32.

    Attributes
    ----------
    indices : torch.Tensor or None
        The kept columns of ``Q`` (int64, length ``r``, increasing), on ``G``'s device;
        ``None`` before the first :meth:`update`.
    rank, side, shape
        See :meth:`update`; ``side`` is ``"right"`` for ``m >= n`` and ``"left"`` otherwise.

    Notes
    -----
    Of all ``r``-subsets of the DCT columns, the kept one maximises the total L1 score, and a
    ties break towards the lower index (``torch.topk`` on the scores, then sorted). Only the
    ``n x r`` block ``Q[:, indices]`` is formed (from the closed form, ``O(n r)``), and
    :meth:`project` and :meth:`project_back` are products with it (``O(m n r)``, the same as
    with GaLore's ``P``).

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import DCTProjector
    >>> G = torch.randn(100, 40, generator=torch.Generator().manual_seed(0))
    >>> projector = DCTProjector(8).update(G)
    >>> projector.side, projector.indices.shape
    ('right', torch.Size([8]))
    >>> low = projector.project(G)
    >>> low.shape
    torch.Size([100, 8])
    >>> back = projector.project_back(low)
    >>> bool(torch.linalg.norm(back) <= torch.linalg.norm(G))
    True
    """

    def __init__(self, rank: int, *, method: str = "auto"):
        super().__init__(rank)
        if method not in ("auto", "fft", "matmul"):
            raise ValueError(f"method must be 'auto', 'fft' or 'matmul', got {method!r}")
        self.method = method
        self.indices: torch.Tensor | None = None
        self._columns: torch.Tensor | None = None

    def scores(self, G: torch.Tensor) -> torch.Tensor:
        """The L1 score of every DCT column against ``G`` (length ``min(m, n)``): the column
        L1 norms of ``G Q`` (``m >= n``) or the row L1 norms of ``Q^T G`` (``m < n``)."""
        G = _check_gradient(G)
        return self._scores(G)

    def _scores(self, G: torch.Tensor) -> torch.Tensor:
        m, n = G.shape
        axis = 1 if m >= n else 0  # the DCT runs along the smaller side
        work = G.detach()
        if work.dtype not in (torch.float32, torch.float64):
            work = work.float()  # 16-bit gradients are scored in float32
        on_cpu = work.device.type == "cpu"
        if self.method == "fft" and not on_cpu:
            raise ValueError(
                f"method='fft' needs a CPU tensor, got one on {G.device}; use method='matmul' "
                "or 'auto'"
            )
        if self.method == "fft" or (self.method == "auto" and on_cpu):
            host = work.resolve_conj().numpy()  # zero-copy
            S = scipy.fft.dct(
                host, type=2, norm="ortho", axis=axis, workers=torch.get_num_threads()
            )
            return torch.from_numpy(np.abs(S).sum(axis=1 - axis))
        Q = _cached_basis(min(m, n), work.dtype, _normalise_device(work.device))
        S = work @ Q if axis == 1 else Q.T @ work
        return S.abs().sum(dim=1 - axis)

    def _update(self, G: torch.Tensor) -> None:
        scores = self._scores(G)
        # top-r by score; ties resolved towards the lower index by a stable sort first
        order = torch.sort(scores, descending=True, stable=True).indices[: self.rank]
        self._set_indices(torch.sort(order).values, G.shape, G.dtype, G.device)

    def _set_indices(
        self, indices: torch.Tensor, shape: Any, dtype: torch.dtype, device: Any
    ) -> None:
        self.indices = indices.to(dtype=torch.int64, device=device)
        host = self.indices.cpu().numpy()
        self._columns = _dct_columns(min(shape), host, dtype, device)

    def _basis_columns(self, X: torch.Tensor) -> torch.Tensor:
        P = self._columns
        if P.dtype != X.dtype or P.device != X.device:
            P = P.to(dtype=X.dtype, device=X.device)
        return P

    def _project(self, G: torch.Tensor) -> torch.Tensor:
        P = self._basis_columns(G)
        return G @ P if self.side == "right" else P.T @ G

    def _project_back(self, low: torch.Tensor) -> torch.Tensor:
        P = self._basis_columns(low)
        return low @ P.T if self.side == "right" else P @ low

    def state_dict(self) -> dict[str, Any]:
        """``{"shape": (m, n), "indices": [...]}``: plain integers (so that an optimizer's
        state cast to a parameter's dtype cannot round them), empty before :meth:`update`."""
        if self.shape is None:
            return {}
        return {"shape": tuple(self.shape), "indices": [int(i) for i in self.indices.tolist()]}

    def load_state_dict(
        self, state: dict[str, Any], *, dtype: torch.dtype = torch.float32, device: Any = None
    ) -> None:
        """Restore :meth:`state_dict`; ``dtype`` and ``device`` are those of the gradients to
        come."""
        shape = self._load_shape(state)
        indices = state.get("indices")
        if (
            not isinstance(indices, (list, tuple))
            or len(indices) != self.rank
            or len(set(indices)) != self.rank
        ):
            raise ValueError(f"state['indices'] must be {self.rank} distinct integers")
        size = min(shape)
        checked = [v.check_int(i, "state['indices'][i]", minimum=0, maximum=size - 1)
                   for i in indices]  # fmt: skip
        self._set_indices(torch.tensor(sorted(checked)), shape, dtype, device)
        self.shape = shape


class SVDProjector(_Projector):
    """GaLore's projector: the top ``r`` singular vectors of the gradient on its smaller side.

    :meth:`update` computes ``G = U diag(s) V^T`` by ``torch.linalg.svd(G,
    full_matrices=False)`` (in float32 for lower precisions, as GaLore does); with ``m >= n``,
    ``P = V[:, :r]`` (``n x r``), ``project(G) = G P``, ``project_back(low) = low P^T``; with
    ``m < n``, ``P = U[:, :r]``, ``project(G) = P^T G``, ``project_back(low) = P low``. By
    Eckart-Young, ``project_back(project(G))`` is a best rank-``r`` approximation of ``G``.

    Parameters
    ----------
    rank : int
        ``r``, at most ``min(m, n)`` of the gradients it will see.

    Attributes
    ----------
    basis : torch.Tensor or None
        ``P`` (``n x r`` for the right side, ``m x r`` for the left), in ``G``'s dtype and on
        its device; ``None`` before the first :meth:`update`.

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import SVDProjector
    >>> G = torch.randn(30, 60, generator=torch.Generator().manual_seed(0))
    >>> projector = SVDProjector(5).update(G)
    >>> projector.side, projector.basis.shape, projector.project(G).shape
    ('left', torch.Size([30, 5]), torch.Size([5, 60]))
    """

    def __init__(self, rank: int):
        super().__init__(rank)
        self.basis: torch.Tensor | None = None

    def _update(self, G: torch.Tensor) -> None:
        work = G if G.dtype in (torch.float32, torch.float64) else G.float()
        U, _, Vh = torch.linalg.svd(work, full_matrices=False)
        P = Vh[: self.rank].T if G.shape[0] >= G.shape[1] else U[:, : self.rank]
        self.basis = P.to(G.dtype).contiguous()

    def _project(self, G: torch.Tensor) -> torch.Tensor:
        P = self.basis.to(G.dtype)
        return G @ P if self.side == "right" else P.T @ G

    def _project_back(self, low: torch.Tensor) -> torch.Tensor:
        P = self.basis.to(low.dtype)
        return low @ P.T if self.side == "right" else P @ low

    def state_dict(self) -> dict[str, Any]:
        """``{"shape": (m, n), "basis": P}`` (``P`` itself, not a copy), empty before
        :meth:`update`."""
        if self.shape is None:
            return {}
        return {"shape": tuple(self.shape), "basis": self.basis}

    def load_state_dict(
        self, state: dict[str, Any], *, dtype: torch.dtype | None = None, device: Any = None
    ) -> None:
        """Restore :meth:`state_dict` (a copy of its basis, cast to ``dtype`` and moved to
        ``device`` when given)."""
        shape = self._load_shape(state)
        basis = state.get("basis")
        m, n = shape
        expected = (n, self.rank) if m >= n else (m, self.rank)
        if not isinstance(basis, torch.Tensor) or tuple(basis.shape) != expected:
            got = tuple(basis.shape) if isinstance(basis, torch.Tensor) else type(basis).__name__
            raise ValueError(f"state['basis'] must be a tensor of shape {expected}, got {got}")
        self.basis = basis.to(dtype=dtype or basis.dtype, device=device, copy=True)
        self.shape = shape


# -------------------------------------------------------------------------------------------
# The optimizer

PROJECTORS: dict[str, type[_Projector]] = {"dct": DCTProjector, "svd": SVDProjector}
_CUSTOM = "custom"  # a callable projector's entry in a state dict
_PROTOCOL = ("update", "project", "project_back", "state_dict", "load_state_dict")


def _check_projector(value: Any, name: str = "projector") -> Any:
    if isinstance(value, str):
        if value not in PROJECTORS:
            raise ValueError(
                f"{name} must be 'dct', 'svd' or a callable returning a projector, got {value!r}"
            )
        return value
    if not callable(value):
        raise TypeError(
            f"{name} must be 'dct', 'svd' or a callable returning a projector, got "
            f"{type(value).__name__}"
        )
    return value


def _check_hyperparameters(group: dict[str, Any]) -> dict[str, Any]:
    """The validated hyperparameters present in ``group`` (a param group or the defaults)."""
    checked = {}
    for key, value in group.items():
        if key == "lr":
            checked[key] = v.check_real(value, "lr", minimum=0)
        elif key == "eps":
            checked[key] = v.check_real(value, "eps", above=0)
        elif key == "weight_decay":
            checked[key] = v.check_real(value, "weight_decay", minimum=0)
        elif key == "scale":
            checked[key] = v.check_real(value, "scale", above=0)
        elif key == "betas":
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise ValueError(f"betas must be a pair of numbers in [0, 1), got {value!r}")
            checked[key] = tuple(
                v.check_real(b, f"betas[{i}]", minimum=0, below=1) for i, b in enumerate(value)
            )
        elif key == "rank":
            checked[key] = v.check_positive_int(value, "rank")
        elif key == "update_gap":
            checked[key] = v.check_positive_int(value, "update_gap")
        elif key == "projector":
            checked[key] = _check_projector(value)
    return checked


class LowRankAdam(torch.optim.Optimizer):
    """Adam with decoupled weight decay whose moments live in a low-rank projection of each
    matrix's gradient: GaLore (Zhao et al. 2024) with an SVD projector, or its SVD-free
    variant with a DCT projector (Modoranu et al. 2025).

    A parameter that is 2-D with ``min(p.shape) > rank`` is *projected*. Every ``update_gap``
    steps (from its first step on) the projector is recomputed from the current gradient;
    every step, with ``t`` the step count,

    * ``R = project(grad)``,
    * ``M = beta1 M + (1 - beta1) R``, ``V = beta2 V + (1 - beta2) R * R`` (low-rank shapes),
    * ``p = p (1 - lr weight_decay)``,
    * ``p = p - scale * lr / (1 - beta1^t) * project_back(M / (sqrt(V / (1 - beta2^t)) + eps))``.

    Every other parameter (vectors, small matrices, tensors with more than two dimensions)
    takes the plain AdamW step (the same without projection and without ``scale``), equal to
    the last bit to :class:`torch.optim.AdamW`'s single-tensor implementation (its default on
    the CPU; ``foreach=False`` elsewhere). As in GaLore, the moments are kept, not
    rotated, when the subspace changes.

    Parameters
    ----------
    params : iterable of tensors or of dicts (parameter groups)
        Real floating point. A group may set its own ``lr``, ``betas``, ``eps``,
        ``weight_decay``, ``rank``, ``update_gap``, ``scale`` and ``projector``.
    lr : float
        Step size, at least 0.
    betas : (float, float)
        Decay rates of the two moments, each in ``[0, 1)``.
    eps : float
        Added to the root of the second moment, > 0.
    weight_decay : float
        Decoupled weight decay (AdamW's), at least 0, on the full weights.
    rank : int
        ``r``, the projection's rank.
    projector : {"dct", "svd"} or callable
        :class:`DCTProjector` or :class:`SVDProjector`, or a callable ``f(rank)`` that returns
        an object with their interface: ``update(G)``, ``project(G)``, ``project_back(low)``,
        ``state_dict()`` and ``load_state_dict(state, *, dtype, device)``.
    update_gap : int
        Steps between two projector updates (GaLore's ``update_proj_gap``, default 200).
    scale : float
        Multiplies the projected parameters' steps (GaLore's ``scale``; its examples use
        0.25), > 0.

    Notes
    -----
    The state of a projected parameter holds ``step``, ``exp_avg`` and ``exp_avg_sq`` in the
    low-rank shape (``m x r`` or ``r x n``) and ``projector``, the projector's
    :meth:`~DCTProjector.state_dict` (``r`` integers for the DCT projector, the ``n x r``
    matrix for the SVD one), so :meth:`state_dict` round-trips through
    ``torch.save``/``torch.load(weights_only=True)`` and a resumed run continues exactly as an
    uninterrupted one. A callable projector is saved as ``"custom"``, and the loading
    optimizer must have a callable in that group.

    Two details differ from GaLore's ``AdamW``, so that unprojected parameters match
    :class:`torch.optim.AdamW`: ``eps`` is added to ``sqrt(V / (1 - beta2^t))`` (GaLore adds
    it to ``sqrt(V)``), and weight decay shrinks ``p`` before the step (GaLore after it).
    Both change the result by ``O(lr eps)`` and ``O(lr^2 weight_decay)``.

    Memory: two ``m x r`` (or ``r x n``) moments per projected matrix instead of two ``m x n``;
    the DCT projector adds ``r`` integers and an ``n x r`` block of the basis, the SVD one an
    ``n x r`` matrix. A projector update costs one DCT of the gradient (``O(m n log n)`` on the
    CPU) or one SVD (``O(m n min(m, n))``).

    References
    ----------
    J. Zhao, Z. Zhang, B. Chen, Z. Wang, A. Anandkumar and Y. Tian, *GaLore: Memory-efficient
    LLM training by gradient low-rank projection*, ICML 2024.

    I.-V. Modoranu, M. Safaryan, E. Schultheis and D. Alistarh,
    *SVD-free low-rank adaptive gradient optimization for large language models*,
    arXiv:2505.17967, 2025.

    Examples
    --------
    >>> import torch
    >>> from sketchla.apps import LowRankAdam
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> Linear = torch.nn.Linear
    >>> model = torch.nn.Sequential(Linear(32, 64), torch.nn.Tanh(), Linear(64, 1))
    >>> x = torch.randn(256, 32)
    >>> y = torch.sin(x[:, :1]) + x[:, 1:2] ** 2
    >>> optimizer = LowRankAdam(model.parameters(), lr=3e-2, rank=8, update_gap=20, scale=1.0)
    >>> loss0 = torch.nn.functional.mse_loss(model(x), y).item()
    >>> for _ in range(60):
    ...     optimizer.zero_grad()
    ...     torch.nn.functional.mse_loss(model(x), y).backward()
    ...     _ = optimizer.step()
    >>> optimizer.state[model[0].weight]["exp_avg"].shape  # 64 x 32: projected on the right
    torch.Size([64, 8])
    >>> bool(torch.nn.functional.mse_loss(model(x), y).item() < 0.2 * loss0)
    True
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        rank: int = 128,
        projector: str | Callable[[int], Any] = "dct",
        update_gap: int = 200,
        scale: float = 0.25,
    ):
        defaults = _check_hyperparameters({
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "rank": rank,
            "projector": projector, "update_gap": update_gap, "scale": scale,
        })  # fmt: skip
        self._projectors: dict[torch.Tensor, Any] = {}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; its own hyperparameters are validated like the constructor's."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        checked = _check_hyperparameters(param_group)
        params = param_group["params"]
        tensors = [params] if isinstance(params, torch.Tensor) else list(params)
        for p in tensors:
            if isinstance(p, torch.Tensor) and not p.dtype.is_floating_point:
                raise TypeError(
                    f"LowRankAdam's parameters must be real floating point, got {p.dtype}"
                )
        super().add_param_group({**param_group, **checked})

    # --- the step -------------------------------------------------------------------------

    def _new_projector(self, group: dict[str, Any]) -> Any:
        kind = group["projector"]
        factory = PROJECTORS[kind] if isinstance(kind, str) else kind
        projector = factory(group["rank"])
        missing = [name for name in _PROTOCOL if not callable(getattr(projector, name, None))]
        if missing:
            raise TypeError(
                f"projector(rank) must return a projector with methods {', '.join(_PROTOCOL)}; "
                f"{type(projector).__name__} lacks {', '.join(missing)}"
            )
        return projector

    def _projector_of(self, p: torch.Tensor, group: dict[str, Any]) -> Any:
        """The live projector of ``p``, rebuilt from the state after a load."""
        projector = self._projectors.get(p)
        if projector is None:
            projector = self._new_projector(group)
            projector.load_state_dict(self.state[p]["projector"], dtype=p.dtype, device=p.device)
            self._projectors[p] = projector
        return projector

    @staticmethod
    def _is_projected(p: torch.Tensor, group: dict[str, Any]) -> bool:
        return p.ndim == 2 and min(p.shape) > group["rank"]

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One step; ``closure`` (optional) re-evaluates the loss with gradients.

        The projectors due for an update are all computed first, so an error there (a
        non-finite gradient, say) leaves every parameter and state unchanged."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        work, renewed = [], {}
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise TypeError("LowRankAdam does not support sparse gradients")
                state = self.state[p]
                projected = "projector" in state if state else self._is_projected(p, group)
                if projected and state.get("step", 0) % group["update_gap"] == 0:
                    projector = self._new_projector(group)
                    projector.update(p.grad)
                    renewed[p] = projector
                work.append((group, p, projected))
        for p, projector in renewed.items():
            self._projectors[p] = projector
            self.state[p]["projector"] = projector.state_dict()
        for group, p, projected in work:
            self._adam(p, group, self._projector_of(p, group) if projected else None)
        return loss

    def _adam(self, p: torch.Tensor, group: dict[str, Any], projector: Any) -> None:
        """One AdamW step on ``p`` (torch's single-tensor recurrence, op for op), in the
        projected space when ``projector`` is given."""
        state = self.state[p]
        grad = p.grad if projector is None else projector.project(p.grad)
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        if exp_avg.shape != grad.shape:
            raise ValueError(
                f"the projected gradient has shape {tuple(grad.shape)} but the moments "
                f"{tuple(exp_avg.shape)}: a group's rank cannot change after its first step"
            )
        lr, (beta1, beta2) = group["lr"], group["betas"]
        state["step"] += 1
        step = state["step"]
        if group["weight_decay"]:
            p.mul_(1 - lr * group["weight_decay"])
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = lr / (1 - beta1**step)
        denom = (exp_avg_sq.sqrt() / (1 - beta2**step) ** 0.5).add_(group["eps"])
        if projector is None:
            p.addcdiv_(exp_avg, denom, value=-step_size)
        else:
            direction = projector.project_back(exp_avg / denom)
            p.add_(direction, alpha=-step_size * group["scale"])

    # --- state ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """torch's optimizer state; each projected parameter's entry holds its projector's
        state under ``"projector"``, and a callable projector in a group reads ``"custom"``.
        As with torch's optimizers, the tensors are the live ones: save or copy the dict."""
        state = super().state_dict()
        for group in state["param_groups"]:
            if not isinstance(group["projector"], str):
                group["projector"] = _CUSTOM
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` of a LowRankAdam over the same parameters (the
        projectors are rebuilt from it here, so a bad state fails now, leaving this
        optimizer unchanged)."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise ValueError("state_dict is not an optimizer state: it has no 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"state_dict has {len(saved_groups)} parameter groups, this optimizer "
                f"has {len(self.param_groups)}"
            )
        groups = []
        for i, (saved, current) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            saved = dict(saved)
            if saved.get("projector") == _CUSTOM:
                if isinstance(current["projector"], str):
                    raise ValueError(
                        f"state_dict's group {i} used a callable projector; this optimizer's "
                        f"group {i} has projector={current['projector']!r}"
                    )
                saved["projector"] = current["projector"]
            saved.update(_check_hyperparameters(saved))
            groups.append(saved)
        previous = (self.state, self.param_groups, self._projectors)
        try:
            super().load_state_dict({**state_dict, "param_groups": groups})
            self._projectors = {}
            for group in self.param_groups:
                for p in group["params"]:
                    if "projector" in self.state.get(p, {}):
                        self._projector_of(p, group)
        except Exception:
            self.state, self.param_groups, self._projectors = previous
            raise

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._projectors = {}  # rebuilt from the state on the next step
