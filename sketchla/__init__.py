"""sketchla: randomized numerical linear algebra on every array backend."""

__version__ = "0.1.0.dev0"

from . import errors, random  # noqa: E402
from .errors import ConvergenceWarning, SketchlaWarning  # noqa: E402
from .random import Generator  # noqa: E402

__all__ = ["ConvergenceWarning", "Generator", "SketchlaWarning", "__version__", "errors", "random"]
