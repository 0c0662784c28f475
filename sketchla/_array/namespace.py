"""Which array library an array belongs to, on which device, and how to move between them.

This module (with the rest of :mod:`sketchla._array`) is the only place in sketchla that knows
NumPy from CuPy from Torch from JAX. Everything else asks it for a namespace ``xp`` and writes
against the Array API standard.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from ..errors import BackendError

__all__ = [
    "array_namespace",
    "backend_name",
    "check_same_device",
    "device",
    "is_array",
    "is_cpu",
    "namespace_for",
    "numpy_dtype",
    "to_numpy",
    "unit_roundoff",
]

# Backend names, keyed by the top-level module that defines the array type.
_BACKEND_OF_MODULE = {
    "numpy": "numpy",
    "torch": "torch",
    "cupy": "cupy",
    "jax": "jax",
    "array_api_strict": "array_api_strict",
    "dask": "dask",
}


def is_array(x: Any) -> bool:
    """Whether ``x`` is an array of any Array-API library (lists and scalars are not)."""
    return array_api_compat.is_array_api_obj(x)


def backend_name(xp: ModuleType) -> str:
    """Short name of the library behind namespace ``xp``: ``"numpy"``, ``"torch"``, ``"cupy"``,
    ``"jax"``, ``"array_api_strict"`` or ``"dask"`` (otherwise the module's top-level name)."""
    name = xp.__name__
    if name.startswith("array_api_compat."):
        name = name.removeprefix("array_api_compat.")
    top = name.split(".")[0]
    return _BACKEND_OF_MODULE.get(top, top)


def array_namespace(*arrays: Any) -> ModuleType:
    """The Array-API namespace shared by ``arrays`` (``None`` and Python scalars are skipped).

    Raises
    ------
    BackendError
        When the arrays come from more than one library (sketchla never copies between
        libraries silently).

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla._array import array_namespace, backend_name
    >>> backend_name(array_namespace(np.ones(3), None, 2.0))
    'numpy'
    """
    found = [x for x in arrays if x is not None and not isinstance(x, (bool, int, float, complex))]
    if not found:
        return array_api_compat.array_namespace(np.empty(0))
    namespaces = {}
    for x in found:
        if not is_array(x):
            raise BackendError(
                f"expected an array (NumPy, CuPy, Torch, JAX or any Array-API array), "
                f"got {type(x).__name__}"
            )
        xp = array_api_compat.array_namespace(x)
        namespaces.setdefault(backend_name(xp), xp)
    if len(namespaces) > 1:
        raise BackendError(
            "arrays from different libraries in one call: "
            + ", ".join(sorted(namespaces))
            + "; convert them to one library first"
        )
    return next(iter(namespaces.values()))


def namespace_for(xp: ModuleType | str | None) -> ModuleType:
    """The Array-API-compatible namespace for a library given as module or name.

    ``None`` means NumPy. ``numpy``/``torch``/``cupy`` modules map to their array-api-compat
    wrappers; Array-API namespaces (``jax.numpy``, ``array_api_strict``, the wrappers themselves)
    are returned as they are.

    Examples
    --------
    >>> from sketchla._array import namespace_for, backend_name
    >>> backend_name(namespace_for("numpy"))
    'numpy'
    """
    if xp is None:
        xp = "numpy"
    if isinstance(xp, str):
        name = {"jax": "jax.numpy"}.get(xp, xp)
        try:
            module = __import__(name, fromlist=["_"])
        except ImportError as exc:
            raise BackendError(f"xp={xp!r} is not installed") from exc
        xp = module
    if not isinstance(xp, ModuleType):
        raise TypeError(
            f"xp must be an array namespace (module) or its name, got {type(xp).__name__}"
        )
    name = backend_name(xp)
    if name in ("numpy", "torch", "cupy") and not xp.__name__.startswith("array_api_compat"):
        return __import__(f"array_api_compat.{name}", fromlist=["_"])
    if name == "jax" and xp.__name__ == "jax":
        return sys.modules["jax.numpy"]
    return xp


#: Libraries whose arrays sketchla processes through NumPy on the host and converts back: JAX's
#: eager mode compiles every new shape, and its arrays are immutable, which the data-dependent
#: algorithms here (rejection, sparse structure) would pay for on every call.
HOST_COMPUTED = frozenset({"jax"})


def computed_on_host(xp: ModuleType) -> bool:
    """Whether arrays of ``xp`` are processed through NumPy (see :data:`HOST_COMPUTED`)."""
    return backend_name(xp) in HOST_COMPUTED


def numpy_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype with the same name as any library's dtype (``torch.float32`` -> float32).

    Examples
    --------
    >>> numpy_dtype("float32"), numpy_dtype(np.float64)
    (dtype('float32'), dtype('float64'))
    """
    if isinstance(dtype, (np.dtype, type, str)):
        return np.dtype(dtype)
    return np.dtype(str(dtype).rsplit(".", 1)[-1])


def unit_roundoff(dtype: Any) -> float:
    """``u = eps / 2`` of a floating dtype of any library: the bound on one rounding's relative
    error.

    Examples
    --------
    >>> unit_roundoff("float64") == 2.0**-53
    True
    """
    return float(np.finfo(numpy_dtype(dtype)).eps) / 2


def device(x: Any) -> Any:
    """The device that array ``x`` lives on (``"cpu"`` for NumPy arrays)."""
    return array_api_compat.device(x)


def is_cpu(dev: Any) -> bool:
    """Whether ``dev`` (as returned by :func:`device`) is host memory."""
    if dev is None:
        return True
    kind = getattr(dev, "type", None) or getattr(dev, "platform", None)
    if kind is not None:
        return str(kind) == "cpu"
    text = str(dev).lower()
    return text == "cpu" or ("cpu" in text and "cuda" not in text)


def check_same_device(*arrays: Any, names: tuple[str, ...] | None = None) -> Any:
    """The common device of ``arrays``; a ``ValueError`` naming them when devices differ."""
    arrays_ = [x for x in arrays if x is not None]
    if not arrays_:
        return None
    devices = [device(x) for x in arrays_]
    first = devices[0]
    for i, d in enumerate(devices[1:], start=1):
        if d != first:
            label = (
                names if names is not None else tuple(f"argument {k}" for k in range(len(arrays)))
            )
            raise ValueError(
                f"arrays on different devices in one call: {label[0]} is on {first}, "
                f"{label[i]} is on {d}; move them to one device first"
            )
    return first


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy (or view, for NumPy input) of any Array-API array, wherever it lives."""
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_jax_array(x) or array_api_compat.is_dask_array(x):
        return np.asarray(x)
    if is_array(x):
        array_api_compat.array_namespace(x)
        return np.from_dlpack(x)
    return np.asarray(x)
