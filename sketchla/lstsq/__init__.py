"""Least squares by sketching: sketch-and-solve, sketch-and-precondition, and regression with an
l_inf guarantee."""

from .linf import linf_sketch_size, lstsq_linf
from .result import LstsqResult
from .solve import lstsq

__all__ = ["LstsqResult", "linf_sketch_size", "lstsq", "lstsq_linf"]
