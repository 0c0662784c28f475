"""The kernel registry: one name, one implementation per backend, chosen once per call.

An algorithm asks ``kernel("scatter_add", xp)`` and gets the fastest implementation registered for
``xp``'s library (numba for NumPy, native ops for Torch/CuPy/JAX), or the portable Array-API
version when the library has none. Implementations are named as ``"module:function"`` strings and
imported on first use, so ``import sketchla`` never pays for numba compilation or torch imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from types import ModuleType

from ..namespace import backend_name

__all__ = ["PORTABLE", "implementations", "kernel", "register"]

PORTABLE = "portable"

_TABLE: dict[str, dict[str, str]] = {}


def register(name: str, backend: str, target: str) -> None:
    """Register ``target`` (``"package.module:function"``) as kernel ``name`` for ``backend``.

    ``backend`` is a name from :func:`sketchla._array.backend_name` or ``"portable"``, the
    Array-API implementation that every other one is tested against.
    """
    if ":" not in target:
        raise ValueError(f"target must read 'module:function', got {target!r}")
    _TABLE.setdefault(name, {})[backend] = target


@cache
def _load(target: str) -> Callable:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def implementations(name: str) -> dict[str, Callable]:
    """Every implementation of kernel ``name``, keyed by backend (used by the parity tests)."""
    if name not in _TABLE:
        raise KeyError(f"no kernel named {name!r}; known kernels: {sorted(_TABLE)}")
    return {backend: _load(target) for backend, target in _TABLE[name].items()}


def kernel(name: str, xp: ModuleType) -> Callable:
    """The implementation of kernel ``name`` for namespace ``xp`` (portable when none is native)."""
    try:
        table = _TABLE[name]
    except KeyError:
        raise KeyError(f"no kernel named {name!r}; known kernels: {sorted(_TABLE)}") from None
    target = table.get(backend_name(xp)) or table[PORTABLE]
    return _load(target)
