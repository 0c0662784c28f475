"""Iterative solvers of symmetric positive definite systems: conjugate gradients, the grid
Poisson operators they are measured on, and the deep conjugate direction method with its
packaged networks."""

from .cg import cg
from .dcdm import dcdm_solve
from .poisson import BOUNDARIES, PoissonGrid
from .result import SolveResult

__all__ = ["BOUNDARIES", "PoissonGrid", "SolveResult", "cg", "dcdm_solve"]
