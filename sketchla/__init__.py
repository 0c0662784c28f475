"""sketchla: randomized numerical linear algebra on every array backend."""

__version__ = "0.1.0.dev0"

from . import errors, random, sketch, solvers
from .errors import ConvergenceWarning, SketchlaWarning
from .random import Generator
from .sketch import SketchOperator, dense_sketch, sketch_operator, sparse_sketch
from .solvers import dcdm_solve

__all__ = [
    "ConvergenceWarning",
    "Generator",
    "SketchOperator",
    "SketchlaWarning",
    "__version__",
    "dcdm_solve",
    "dense_sketch",
    "errors",
    "random",
    "sketch",
    "sketch_operator",
    "solvers",
    "sparse_sketch",
]
