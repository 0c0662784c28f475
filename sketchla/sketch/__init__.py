"""Sketching operators: dense (Gaussian, Rademacher, uniform, SRHT, SRFT) and sparse
(CountSketch, SASO, very sparse, uniform row sampling) random linear maps."""

from .dense import GaussianSketch, RademacherSketch, UniformSketch
from .factory import (
    DENSE_KINDS,
    FAMILIES,
    SPARSE_KINDS,
    dense_sketch,
    sketch_operator,
    sparse_sketch,
)
from .operator import SketchOperator, TransposedSketch
from .sampling import UniformRowSampling
from .sparse import CountSketch, SASOSketch, VerySparseSketch
from .trigonometric import SRFTSketch, SRHTSketch

__all__ = [
    "DENSE_KINDS",
    "FAMILIES",
    "SPARSE_KINDS",
    "CountSketch",
    "GaussianSketch",
    "RademacherSketch",
    "SASOSketch",
    "SRFTSketch",
    "SRHTSketch",
    "SketchOperator",
    "TransposedSketch",
    "UniformRowSampling",
    "UniformSketch",
    "VerySparseSketch",
    "dense_sketch",
    "sketch_operator",
    "sparse_sketch",
]
