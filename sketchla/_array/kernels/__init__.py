"""Hot loops behind one registry: ``kernel(name, xp)`` picks the implementation for ``xp``.

The table below is the one place that says which backend runs which implementation; every native
implementation is tested against the ``portable`` one (``tests/_array/test_kernels.py``).
"""

from .registry import PORTABLE, implementations, kernel, register

__all__ = ["PORTABLE", "implementations", "kernel", "register"]

_K = "sketchla._array.kernels"

for _dist in ("uniform", "normal", "signs", "integers", "sort_keys"):
    register(f"random_{_dist}", PORTABLE, f"{_K}.philox:random_{_dist}")
    register(f"random_{_dist}", "numpy", f"{_K}._philox_numba:random_{_dist}")
    register(f"random_{_dist}", "torch", f"{_K}._random_adapters:torch_random_{_dist}")
    register(f"random_{_dist}", "cupy", f"{_K}._random_adapters:cupy_random_{_dist}")
    register(f"random_{_dist}", "jax", f"{_K}._random_adapters:jax_random_{_dist}")

register("scatter_add", PORTABLE, f"{_K}.scatter_add:scatter_add")
register("scatter_add", "numpy", f"{_K}._scatter_add_numba:scatter_add")
register("scatter_add", "torch", f"{_K}.scatter_add:scatter_add_torch")
register("scatter_add", "cupy", f"{_K}.scatter_add:scatter_add_cupy")
register("scatter_add", "jax", f"{_K}.scatter_add:scatter_add_jax")

for _name in ("sparse_sketch_apply", "sparse_sketch_apply_transpose"):
    register(_name, PORTABLE, f"{_K}.sparse_sketch:{_name}")
    register(_name, "numpy", f"{_K}._sparse_sketch_numba:{_name}")

register("floyd_sample", PORTABLE, f"{_K}.floyd:floyd_sample")
register("floyd_sample", "numpy", f"{_K}._floyd_numba:floyd_sample")

register("sampled_hadamard", PORTABLE, f"{_K}.hadamard:sampled_hadamard")
register("sampled_hadamard", "numpy", f"{_K}._hadamard_numba:sampled_hadamard")

register("countsketch_apply", PORTABLE, f"{_K}.countsketch:countsketch_apply")
register("countsketch_apply", "numpy", f"{_K}._countsketch_numba:countsketch_apply")
register("countsketch_apply", "torch", f"{_K}.countsketch:countsketch_apply_torch")
register("countsketch_apply", "cupy", f"{_K}.countsketch:countsketch_apply_cupy")

register("residual_gradient", PORTABLE, f"{_K}.residual_gradient:residual_gradient")
register("residual_gradient", "numpy", f"{_K}._residual_gradient_numba:residual_gradient")

register("normal_product", PORTABLE, f"{_K}.normal_product:normal_product")
register("normal_product", "numpy", f"{_K}._normal_product_numba:normal_product")

register("poisson_apply", PORTABLE, f"{_K}.poisson:poisson_apply")
register("poisson_apply", "numpy", f"{_K}._poisson_numba:poisson_apply")

for _name in ("altmin_exact", "altmin_robust", "entries_of_product"):
    register(_name, PORTABLE, f"{_K}.altmin:{_name}")
    register(_name, "numpy", f"{_K}._altmin_numba:{_name}")
