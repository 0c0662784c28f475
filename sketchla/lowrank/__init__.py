"""Randomized low-rank approximation: the range finder, randomized SVD (fixed rank or fixed
precision), restarted block Lanczos SVD (flat spectra), symmetric eigendecompositions, Nyström
approximation of PSD matrices, and randomized norm and error estimators."""

from .eigen import EighResult, nystrom, reigh
from .lanczos import lanczos_svd
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
    "lanczos_svd",
    "nystrom",
    "range_finder",
    "reigh",
    "rsvd",
]
