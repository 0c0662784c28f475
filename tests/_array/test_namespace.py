"""Namespace detection, devices, conversion."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sketchla._array import (
    array_namespace,
    backend_name,
    check_same_device,
    device,
    is_cpu,
    namespace_for,
    to_numpy,
)
from sketchla.errors import BackendError


def test_namespace_and_name_of_each_backend(backend):
    x = backend.asarray(np.arange(6.0).reshape(2, 3))
    xp = array_namespace(x, None, 3.0)
    expected = backend.name.split("-")[0]
    assert backend_name(xp) == expected
    assert backend_name(namespace_for(expected)) == expected
    np.testing.assert_array_equal(to_numpy(x), np.arange(6.0).reshape(2, 3))
    assert is_cpu(device(x)) == ("cuda" not in backend.name and backend.name != "cupy")


def test_no_arrays_means_numpy():
    assert backend_name(array_namespace()) == "numpy"
    assert backend_name(array_namespace(None, 1.0)) == "numpy"


def test_mixing_libraries_is_a_backend_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(BackendError, match="different libraries in one call: numpy, torch"):
        array_namespace(np.ones(2), torch.ones(2))
    assert issubclass(BackendError, TypeError)


def test_non_arrays_are_refused():
    with pytest.raises(BackendError, match=r"expected an array .* got list"):
        array_namespace([1, 2])


def test_mixing_devices_is_a_value_error():
    strict = pytest.importorskip("array_api_strict")
    a = strict.asarray([1.0])
    b = strict.asarray([1.0], device=strict.Device("device1"))
    assert check_same_device(a, a) == a.device
    with pytest.raises(ValueError, match=r"A is on .* B is on .*device1"):
        check_same_device(a, b, names=("A", "B"))


def test_namespace_for_accepts_modules_and_names():
    torch = pytest.importorskip("torch")
    assert namespace_for(torch) is namespace_for("torch")
    assert namespace_for(np) is namespace_for(None)
    with pytest.raises(BackendError, match="xp='no_such_lib' is not installed"):
        namespace_for("no_such_lib")
    with pytest.raises(TypeError, match="xp must be an array namespace"):
        namespace_for(3)


def test_import_sketchla_loads_no_optional_backend():
    code = (
        "import sys, sketchla; "
        "loaded = {'torch', 'jax', 'cupy', 'dask', 'numba', 'matplotlib'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
