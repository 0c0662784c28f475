"""sketchla: randomized numerical linear algebra on every array backend."""

__version__ = "0.1.0.dev0"

from . import errors, random
from .errors import ConvergenceWarning, SketchlaWarning
from .random import Generator

__all__ = ["ConvergenceWarning", "Generator", "SketchlaWarning", "__version__", "errors", "random"]
