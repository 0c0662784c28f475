"""Counter-based random numbers, reproducible across backends: :class:`Generator`.

See :mod:`sketchla._array.random` for the promises the generator keeps.
"""

from ._array.random import Generator

__all__ = ["Generator"]
