"""Iterative solvers of symmetric positive definite systems: conjugate gradients, the grid
Poisson operators they are tested on, and (to come) the deep conjugate direction method."""

from .cg import cg
from .poisson import BOUNDARIES, PoissonGrid
from .result import SolveResult

__all__ = ["BOUNDARIES", "PoissonGrid", "SolveResult", "cg"]
