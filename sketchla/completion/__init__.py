"""Low-rank matrix completion by alternating minimization, exact or robust (sketched solves)."""

from .altmin import METHODS, complete
from .observations import DUPLICATE_POLICIES
from .result import CompletionResult

__all__ = ["DUPLICATE_POLICIES", "METHODS", "CompletionResult", "complete"]
