# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One seed, the same numbers on every backend
#
# `sketchla.random.Generator` is counter-based: each value is a pure function of the seed, the
# stream and the value's index. This notebook checks the three promises that follow:
# identical numbers across array libraries, blocks that can be generated alone, and
# independent streams.

# %%
import numpy as np

from sketchla._array import to_numpy
from sketchla._array.backends import available_backends
from sketchla.random import Generator

backends = [b for b in available_backends() if "strict" not in b.label]
[b.label for b in backends]

# %% [markdown]
# ## 1. The same numbers everywhere
#
# Signs and integers must match bit for bit; normals to rounding (each library has its own `log`).

# %%
try:
    import jax

    jax.config.update("jax_enable_x64", True)
except ImportError:
    pass

reference_signs = Generator(2026).signs(10**5)
reference_normals = Generator(2026).normal(10**5)
for b in backends:
    kw = {"xp": b.xp, "device": b.device, "dtype": b.xp.float64}
    signs = to_numpy(Generator(2026).signs(10**5, **kw))
    normals = to_numpy(Generator(2026).normal(10**5, **kw))
    worst = np.max(np.abs(normals - reference_normals) / np.spacing(np.abs(reference_normals)))
    print(
        f"{b.label:24s} signs identical: {np.array_equal(signs, reference_signs)}   "
        f"normals within {worst:.0f} ulp"
    )
    assert np.array_equal(signs, reference_signs)
    assert worst <= 8

# %% [markdown]
# ## 2. Any block, alone
#
# Rows 700-799 of a 1000 x 64 Gaussian matrix, generated without the 700 rows before them:

# %%
whole = Generator(5).normal((1000, 64))
rows = Generator(5).normal((100, 64), start=700 * 64)
print("block equals slice:", np.array_equal(rows, whole[700:800]))
assert np.array_equal(rows, whole[700:800])

# %% [markdown]
# ## 3. Independent streams
#
# Correlations between streams of different seeds, stream ids and spawned children stay within
# the sampling noise $1/\sqrt{N}$:

# %%
N = 10**6
parent = Generator(1)
pairs = {
    "seeds 1 and 2": (Generator(1), Generator(2)),
    "streams 0 and 1": (Generator(1, stream=0), Generator(1, stream=1)),
    "spawned children": tuple(parent.spawn(2)),
}
for name, (g1, g2) in pairs.items():
    r = np.corrcoef(g1.normal(N), g2.normal(N))[0, 1]
    print(f"{name:18s} correlation {r:+.5f}  (noise level {1 / np.sqrt(N):.5f})")
    assert abs(r) < 5 / np.sqrt(N)
