"""The DCDM direction networks: fully convolutional maps from a normalised residual on a grid
to a search direction on the same grid.

:class:`DCDMNet` is the paper's (Kaneda et al., ICML 2023, section 4), 2-D or 3-D, ``c``
channels, every convolution ``3 x ... x 3``: a linear convolution lifts the residual to ``c``
channels; residual pairs (two ReLU convolutions and a skip) at full resolution; average pooling by
2; residual pairs at half resolution; nearest upsampling added to the full-resolution features
(the skip across the level); residual pairs; a per-cell linear map back to one channel.
``pairs=(2, 3, 2)`` and ``c = 16`` is the paper's 64^3 model (97k parameters). Its receptive
field is about 25 cells, so on grids much wider than that it cannot see the whole domain and its
iterations grow with the grid.

:class:`MultilevelNet` removes that limit with the structure of an additive multigrid (BPX)
preconditioner, ``f(r) = S_0(r) + g P S_1(R r) + g^2 P^2 S_2(R^2 r) + ...``: the residual is
averaged onto every coarser grid (``R``: pooling by 2), a small convolutional network ``S``
(shared by every coarse level, its own on the finest) maps each to a correction, which is
interpolated back (``P``: multilinear) and summed. The gain ``g = 4`` is the factor by which the
inverse of a Laplacian grows when the grid spacing doubles (its stencil scales as ``1/h^2``), so
the shared ``S`` sees the same problem at every level and the network runs unchanged on grids
with more levels than it was trained on.

Both run at any grid size. On CPU, float32 convolutions go to oneDNN whatever the batch size
(torch's own choice sends a single small grid to a path up to 25 times slower).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["DCDMNet", "MultilevelNet"]


def _use_onednn(conv: nn.modules.conv._ConvNd, x: torch.Tensor) -> bool:
    """Whether ``conv(x)`` can go to oneDNN with the same meaning as torch's own convolution:
    float32 input and weight on the CPU, zero padding given as sizes, no autocast."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and conv.weight.device.type == "cpu"
        and conv.weight.dtype == torch.float32
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
        and not torch.is_autocast_enabled("cpu")
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
    )


class _OneDNNConv:
    """Mixed into ``nn.Conv2d``/``nn.Conv3d``: float32 on CPU goes to oneDNN directly."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _use_onednn(self, x):
            return torch.mkldnn_convolution(
                x, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups
            )
        return super().forward(x)


class _Conv2d(_OneDNNConv, nn.Conv2d):
    pass


class _Conv3d(_OneDNNConv, nn.Conv3d):
    pass


def _conv(dim: int) -> type:
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return _Conv3d if dim == 3 else _Conv2d


def _check_input(r: torch.Tensor, dim: int) -> None:
    if r.ndim != dim + 2 or r.shape[1] != 1:
        raise ValueError(
            f"expected a (batch, 1, *grid) tensor with a {dim}-D grid, got {tuple(r.shape)}"
        )


class ResidualPair(nn.Module):
    """``x + relu(conv(relu(conv(x))))``."""

    def __init__(self, conv: type, channels: int, bias: bool = True):
        super().__init__()
        self.first = conv(channels, channels, 3, padding=1, bias=bias)
        self.second = conv(channels, channels, 3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.second(F.relu(self.first(x))))


class DCDMNet(nn.Module):
    """The paper's DCDM direction network (see the module docstring).

    Parameters
    ----------
    dim : {2, 3}
        Grid dimension.
    channels : int
        Feature channels of every hidden layer (the paper: 16).
    pairs : tuple of 3 ints
        Residual pairs before pooling, at half resolution, and after upsampling (the paper:
        ``(2, 3, 2)`` at ``64^3``, ``(3, 5, 3)`` at ``128^3``).

    Examples
    --------
    >>> import torch
    >>> from sketchla.solvers.dcdm import DCDMNet
    >>> net = DCDMNet(dim=2)
    >>> net(torch.zeros(1, 1, 9, 12)).shape
    torch.Size([1, 1, 9, 12])
    """

    def __init__(self, dim: int = 3, channels: int = 16, pairs: Any = (2, 3, 2)):
        super().__init__()
        conv = _conv(dim)
        pairs = tuple(int(p) for p in pairs)
        if len(pairs) != 3 or min(pairs) < 0:
            raise ValueError(f"pairs must be 3 non-negative counts, got {pairs!r}")
        if int(channels) < 1:
            raise ValueError(f"channels must be positive, got {channels!r}")
        channels = int(channels)
        self.dim, self.channels, self.pairs = dim, channels, pairs
        self.lift = conv(1, channels, 3, padding=1)
        self.fine = nn.Sequential(*(ResidualPair(conv, channels) for _ in range(pairs[0])))
        self.coarse = nn.Sequential(*(ResidualPair(conv, channels) for _ in range(pairs[1])))
        self.after = nn.Sequential(*(ResidualPair(conv, channels) for _ in range(pairs[2])))
        self.project = conv(channels, 1, 1)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments (saved beside the weights)."""
        return {"dim": self.dim, "channels": self.channels, "pairs": list(self.pairs)}

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, *grid)`` residuals to directions of the same shape."""
        _check_input(r, self.dim)
        pool = F.avg_pool3d if self.dim == 3 else F.avg_pool2d
        fine = self.fine(self.lift(r))
        window = tuple(min(2, size) for size in fine.shape[2:])  # a size-1 axis is not pooled
        coarse = self.coarse(pool(fine, window, ceil_mode=True))
        up = F.interpolate(coarse, size=fine.shape[2:], mode="nearest")
        return self.project(self.after(fine + up))


class _LevelMap(nn.Module):
    """One level's map ``S``: lift to ``c`` channels, residual pairs, back to one channel."""

    def __init__(self, conv: type, channels: int, pairs: int):
        super().__init__()
        self.lift = conv(1, channels, 3, padding=1, bias=False)
        self.pairs = nn.Sequential(
            *(ResidualPair(conv, channels, bias=False) for _ in range(pairs))
        )
        self.project = conv(channels, 1, 1, bias=False)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.project(self.pairs(self.lift(r)))


def _upsample(coarse: torch.Tensor, fine_shape: Any, mode: str) -> torch.Tensor:
    """Multilinear interpolation inverting ``avg_pool(., 2, ceil_mode=True)``'s geometry.

    Coarse cell ``j`` averages fine cells ``2j`` and ``2j + 1``, so its centre sits at fine
    coordinate ``2j + 1/2`` also on odd axes (where the last coarse cell is half outside the
    grid). Interpolating by exactly 2 keeps that alignment; cropping drops the outside half.
    Interpolating to the fine size directly would stretch the coarse grid over it instead.
    """
    up = F.interpolate(coarse, scale_factor=2.0, mode=mode, align_corners=False)
    return up[(..., *(slice(0, int(s)) for s in fine_shape))]


class MultilevelNet(nn.Module):
    """A DCDM direction network with the structure of an additive multigrid preconditioner.

    ``f(r) = sum_l g^l P^l S_l(R^l r)`` over every level down to a coarsest grid whose
    smallest axis is at most ``min_size`` cells (see the module docstring). The convolutions
    have no bias, so ``f(c r) = c f(r)`` for ``c > 0``: the direction does not depend on how the
    residual is normalised, and the network behaves the same on grids of any size.

    Parameters
    ----------
    dim : {2, 3}
        Grid dimension.
    channels : int
        Feature channels of each level's map.
    pairs : int
        Residual pairs in each level's map.
    gain : float
        Factor between consecutive levels (4: a Laplacian's inverse at twice the spacing).
    min_size : int
        Coarsening stops when the smallest axis is at most this.

    Examples
    --------
    >>> import torch
    >>> from sketchla.solvers.dcdm import MultilevelNet
    >>> net = MultilevelNet(dim=2)
    >>> net(torch.zeros(1, 1, 9, 12)).shape
    torch.Size([1, 1, 9, 12])
    >>> net.levels((64, 33))
    6
    """

    def __init__(
        self, dim: int = 3, channels: int = 8, pairs: int = 2, gain: float = 4.0, min_size: int = 2
    ):
        super().__init__()
        conv = _conv(dim)
        if int(channels) < 1 or int(pairs) < 0 or int(min_size) < 1:
            raise ValueError(
                f"channels and min_size must be positive and pairs non-negative, got "
                f"{channels!r}, {min_size!r} and {pairs!r}"
            )
        if not float(gain) > 0:
            raise ValueError(f"gain must be positive, got {gain!r}")
        self.dim, self.channels, self.pairs = dim, int(channels), int(pairs)
        self.gain, self.min_size = float(gain), int(min_size)
        self.finest = _LevelMap(conv, self.channels, self.pairs)
        self.coarse = _LevelMap(conv, self.channels, self.pairs)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments (saved beside the weights)."""
        return {
            "architecture": "multilevel",
            "dim": self.dim,
            "channels": self.channels,
            "pairs": self.pairs,
            "gain": self.gain,
            "min_size": self.min_size,
        }

    def levels(self, grid_shape: Any) -> int:
        """How many grids (the given one included) the network works on."""
        count, shape = 1, tuple(int(s) for s in grid_shape)
        while min(shape) > self.min_size:
            shape = tuple(-(-s // 2) for s in shape)
            count += 1
        return count

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, *grid)`` residuals to directions of the same shape."""
        _check_input(r, self.dim)
        pool = F.avg_pool3d if self.dim == 3 else F.avg_pool2d
        mode = "trilinear" if self.dim == 3 else "bilinear"
        pyramid = [r]
        for _ in range(self.levels(r.shape[2:]) - 1):
            pyramid.append(pool(pyramid[-1], 2, ceil_mode=True))
        out = None
        for level, residual in reversed(list(enumerate(pyramid))):
            here = (self.finest if level == 0 else self.coarse)(residual)
            if out is not None:
                here = here + self.gain * _upsample(out, residual.shape[2:], mode)
            out = here
        return out
