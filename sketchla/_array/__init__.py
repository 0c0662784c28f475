"""The backend layer: the only part of sketchla that knows one array library from another."""

from .kernels import kernel
from .namespace import (
    array_namespace,
    backend_name,
    check_same_device,
    device,
    is_cpu,
    namespace_for,
    to_numpy,
)

__all__ = [
    "array_namespace",
    "backend_name",
    "check_same_device",
    "device",
    "is_cpu",
    "kernel",
    "namespace_for",
    "to_numpy",
]
