"""Public warning and error classes of sketchla.

Every warning sketchla emits derives from :class:`SketchlaWarning`, so users can filter them all at
once (``warnings.simplefilter("ignore", sketchla.errors.SketchlaWarning)``) or one kind at a time.
"""

__all__ = ["BackendError", "ConvergenceWarning", "SketchlaWarning"]


class SketchlaWarning(UserWarning):
    """Base class of every warning emitted by sketchla."""


class ConvergenceWarning(SketchlaWarning):
    """An iterative method stopped before meeting its tolerance.

    The routine that emits it still returns its best iterate, with ``converged=False`` in its
    result.
    """


class BackendError(TypeError):
    """Arrays of one call come from different array libraries, or a backend cannot do what was
    asked.

    A subclass of :class:`TypeError`, so ``except TypeError`` catches it too.
    """
