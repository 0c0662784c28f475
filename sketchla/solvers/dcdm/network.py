"""The DCDM network (Kaneda et al., ICML 2023, section 4): a fully convolutional map from a
normalised residual on a grid to a search direction on the same grid.

Layout, 2-D or 3-D, ``c`` channels, every convolution ``3 x ... x 3``: a linear convolution
lifts the residual to ``c`` channels; residual pairs (two ReLU convolutions and a skip) at full
resolution; average pooling by 2; residual pairs at half resolution; nearest upsampling added to
the full-resolution features (the skip across the level); residual pairs; a per-cell linear map
back to one channel. ``pairs=(2, 3, 2)`` and ``c = 16`` is the paper's 64^3 model (97k
parameters); it runs at any grid size (odd sizes pool with a partial last window).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["DCDMNet"]


class ResidualPair(nn.Module):
    """``x + relu(conv(relu(conv(x))))``."""

    def __init__(self, conv: type, channels: int):
        super().__init__()
        self.first = conv(channels, channels, 3, padding=1)
        self.second = conv(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.second(F.relu(self.first(x))))


class DCDMNet(nn.Module):
    """The DCDM direction network (see the module docstring).

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
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim!r}")
        pairs = tuple(int(p) for p in pairs)
        if len(pairs) != 3 or min(pairs) < 0:
            raise ValueError(f"pairs must be 3 non-negative counts, got {pairs!r}")
        if int(channels) < 1:
            raise ValueError(f"channels must be positive, got {channels!r}")
        channels = int(channels)
        conv = nn.Conv3d if dim == 3 else nn.Conv2d
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
        if r.ndim != self.dim + 2 or r.shape[1] != 1:
            raise ValueError(
                f"expected a (batch, 1, *grid) tensor with a {self.dim}-D grid, "
                f"got {tuple(r.shape)}"
            )
        pool = F.avg_pool3d if self.dim == 3 else F.avg_pool2d
        fine = self.fine(self.lift(r))
        window = tuple(min(2, size) for size in fine.shape[2:])  # a size-1 axis is not pooled
        coarse = self.coarse(pool(fine, window, ceil_mode=True))
        up = F.interpolate(coarse, size=fine.shape[2:], mode="nearest")
        return self.project(self.after(fine + up))
