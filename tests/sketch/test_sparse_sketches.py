"""``to_sparse`` of the column-sparse families: the stored matrix is the operator."""

import numpy as np
import pytest

from sketchla.sketch import sketch_operator


@pytest.mark.parametrize("kind", ["countsketch", "saso", "very_sparse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_sparse_equals_dense_and_application(kind, dtype):
    S = sketch_operator(kind, 40, 300, seed=3)
    stored = S.to_sparse(dtype)
    assert stored.format == "csc"
    assert stored.dtype == dtype
    assert stored.shape == (40, 300)
    np.testing.assert_array_equal(stored.toarray(), S.to_dense().astype(dtype))
    A = np.random.default_rng(0).standard_normal((300, 5)).astype(dtype)
    # same nonzeros, possibly another order of summation: a few roundings per entry
    scale = np.abs(stored) @ np.abs(A)
    tol = 16 * np.finfo(dtype).eps
    assert np.all(np.abs(stored @ A - S @ A) <= tol * scale)


def test_to_sparse_refuses_integer_dtypes():
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        sketch_operator("very_sparse", 4, 50, seed=0).to_sparse(np.int64)
