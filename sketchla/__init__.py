"""sketchla: randomized numerical linear algebra on every array backend."""

__version__ = "0.1.0.dev0"

from . import errors, random, sketch
from .errors import ConvergenceWarning, SketchlaWarning
from .random import Generator
from .sketch import SketchOperator, dense_sketch, sketch_operator, sparse_sketch

__all__ = [
    "ConvergenceWarning",
    "Generator",
    "SketchOperator",
    "SketchlaWarning",
    "__version__",
    "dense_sketch",
    "errors",
    "random",
    "sketch",
    "sketch_operator",
    "sparse_sketch",
]
