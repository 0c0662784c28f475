"""Randomized low-rank approximation: the range finder, randomized SVD (fixed rank or fixed
precision), symmetric eigendecompositions, Nyström approximation of PSD matrices, and
randomized norm and error estimators."""

from .eigen import EighResult, nystrom, reigh
from .norms import NormEstimate, estimate_error, estimate_norm
from .range_finder import NORMALIZERS, range_finder
from .streaming import StreamingSVD
from .svd import SVDResult, rsvd

__all__ = [
    "NORMALIZERS",
    "EighResult",
    "NormEstimate",
    "SVDResult",
    "StreamingSVD",
    "estimate_error",
    "estimate_norm",
    "nystrom",
    "range_finder",
    "reigh",
    "rsvd",
]
