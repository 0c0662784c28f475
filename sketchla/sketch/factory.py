"""Building sketches by name: `sketch_operator`, `dense_sketch` and `sparse_sketch`."""

from __future__ import annotations

from typing import Any

from .dense import GaussianSketch, RademacherSketch, UniformSketch
from .operator import SketchOperator, check_axis
from .sampling import UniformRowSampling
from .sparse import CountSketch, SASOSketch, VerySparseSketch
from .trigonometric import SRFTSketch, SRHTSketch

__all__ = [
    "DENSE_KINDS",
    "FAMILIES",
    "SPARSE_KINDS",
    "dense_sketch",
    "sketch_operator",
    "sparse_sketch",
]

FAMILIES: dict[str, type[SketchOperator]] = {
    cls.kind: cls
    for cls in (
        GaussianSketch,
        RademacherSketch,
        UniformSketch,
        SRHTSketch,
        SRFTSketch,
        CountSketch,
        SASOSketch,
        VerySparseSketch,
        UniformRowSampling,
    )
}
DENSE_KINDS = ("gaussian", "rademacher", "uniform", "srht", "srft")
_PARAMETERS = {"saso": ("nnz",), "very_sparse": ("s",), "uniform_rows": ("replace",)}
SPARSE_KINDS = ("countsketch", "saso", "very_sparse", "uniform_rows")


def check_family(kind: Any, name: str = "sketch") -> str:
    """``kind`` if it names a sketching family, else a ValueError naming argument ``name``."""
    if not isinstance(kind, str) or kind not in FAMILIES:
        raise ValueError(f"{name} must be one of {sorted(FAMILIES)}, got {kind!r}")
    return kind


def sketch_operator(
    kind: str, m: int, n: int, *, seed: Any = None, **params: Any
) -> SketchOperator:
    """The sketching operator ``S`` of family ``kind``, shape ``(m, n)``, fixed by ``seed``.

    Parameters
    ----------
    kind : str
        ``"gaussian"``, ``"rademacher"``, ``"uniform"``, ``"srht"``, ``"srft"`` (dense);
        ``"countsketch"``, ``"saso"``, ``"very_sparse"``, ``"uniform_rows"`` (sparse).
    m, n : int
        The operator maps ``n`` rows to ``m``.
    seed : None, int, numpy.random.SeedSequence or sketchla.random.Generator
        Fixes the operator: the same seed gives the same operator on every backend.
    **params
        Family parameters: ``nnz`` (saso, default 8), ``s`` (very_sparse, default
        ``sqrt(n)``), ``replace`` (uniform_rows, default False).

    Returns
    -------
    SketchOperator

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla import sketch_operator
    >>> S = sketch_operator("saso", 64, 10_000, seed=0)
    >>> A = np.ones((10_000, 3))
    >>> (S @ A).shape, (A.T @ S.T).shape
    ((64, 3), (3, 64))
    """
    check_family(kind, "kind")
    accepted = _PARAMETERS.get(kind, ())
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(
            f"kind={kind!r} takes no parameter {', '.join(unknown)}"
            + (f"; its parameters are {', '.join(accepted)}" if accepted else "")
        )
    return FAMILIES[kind](m, n, seed=seed, **params)


def _length(A: Any, axis: int) -> int:
    check_axis(axis)
    shape = getattr(A, "shape", None)
    if shape is None:
        raise TypeError(f"A must be an array or a scipy.sparse matrix, got {type(A).__name__}")
    if len(shape) <= axis:
        raise ValueError(f"A must have an axis {axis}, got shape {tuple(shape)}")
    return int(shape[axis])


def dense_sketch(A: Any, m: int, *, kind: str = "gaussian", seed: Any = None, axis: int = 0) -> Any:
    """Sketch ``A`` with a dense family in one line: ``S @ A`` (``axis=0``) or ``A @ S.T``.

    Parameters
    ----------
    A : array or scipy.sparse matrix
        The input; ``axis`` is the dimension reduced to ``m``.
    m : int
        Sketch size.
    kind : {"gaussian", "rademacher", "uniform", "srht", "srft"}
    seed, axis
        As in :func:`sketch_operator` and :meth:`SketchOperator.apply`.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla import dense_sketch
    >>> U, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4096, 20)))
    >>> SU = dense_sketch(U, 400, kind="srht", seed=1)
    >>> sigma = np.linalg.svd(SU, compute_uv=False)  # near 1: S embeds range(U)
    >>> bool(0.5 < sigma.min() and sigma.max() < 1.5)
    True
    """
    if kind not in DENSE_KINDS:
        raise ValueError(f"kind must be one of {DENSE_KINDS} for dense_sketch, got {kind!r}")
    return sketch_operator(kind, m, _length(A, axis), seed=seed).apply(A, axis=axis)


def sparse_sketch(
    A: Any,
    m: int,
    *,
    kind: str = "saso",
    nnz: int | None = None,
    seed: Any = None,
    axis: int = 0,
    **params: Any,
) -> Any:
    """Sketch ``A`` with a sparse family in one line: ``S @ A`` (``axis=0``) or ``A @ S.T``.

    ``scipy.sparse`` input is sketched in O(nnz(A)) work and gives a dense NumPy array.

    Parameters
    ----------
    A : array or scipy.sparse matrix
    m : int
    kind : {"saso", "countsketch", "very_sparse", "uniform_rows"}
    nnz : int, optional
        Nonzeros per column for ``"saso"`` (default 8).
    seed, axis, **params
        As in :func:`sketch_operator`.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sketchla import sparse_sketch
    >>> A = sp.random_array((100_000, 50), density=0.01, format="csr", rng=0)
    >>> sparse_sketch(A, 500, kind="countsketch", seed=0).shape
    (500, 50)
    """
    if kind not in SPARSE_KINDS:
        raise ValueError(f"kind must be one of {SPARSE_KINDS} for sparse_sketch, got {kind!r}")
    if nnz is not None:
        if kind != "saso":
            raise ValueError(f"nnz applies to kind='saso' only, got kind={kind!r}")
        params["nnz"] = nnz
    n = _length(A, axis)
    return sketch_operator(kind, m, n, seed=seed, **params).apply(A, axis=axis)
