"""Which array libraries and devices this machine offers (for the demo and the benchmarks)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .namespace import namespace_for

__all__ = ["AvailableBackend", "available_backends"]


@dataclass(frozen=True)
class AvailableBackend:
    """An installed array library on one of its devices."""

    label: str  # e.g. "torch (cuda)"
    xp: ModuleType
    device: Any
    version: str


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def available_backends() -> list[AvailableBackend]:
    """NumPy, then each installed optional library on CPU and, when present, on the GPU.

    Importing the optional libraries is the cost of asking; ``import sketchla`` never does it.
    """
    import numpy

    found = [AvailableBackend("numpy (cpu)", namespace_for("numpy"), "cpu", numpy.__version__)]
    if _installed("torch"):
        import torch

        xp = namespace_for("torch")
        found.append(AvailableBackend("torch (cpu)", xp, "cpu", torch.__version__))
        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            found.append(AvailableBackend(f"torch (cuda: {name})", xp, "cuda", torch.__version__))
    if _installed("cupy"):
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() > 0:
                found.append(
                    AvailableBackend("cupy (cuda)", namespace_for("cupy"), None, cupy.__version__)
                )
        except Exception:  # a CuPy without a driver: not available
            pass
    if _installed("jax"):
        import jax

        for dev in jax.devices():
            found.append(
                AvailableBackend(
                    f"jax ({dev.platform})", namespace_for("jax"), dev, jax.__version__
                )
            )
    if _installed("array_api_strict"):
        import array_api_strict

        found.append(
            AvailableBackend(
                "array_api_strict (cpu)", array_api_strict, None, array_api_strict.__version__
            )
        )
    return found
