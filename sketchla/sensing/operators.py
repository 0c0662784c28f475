"""Linear measurement operators for matrix sensing: ``A(M)_i = <A_i, M>`` and the adjoint.

Every operator is normalised to be near-isotropic, ``E[A*A] = I`` (``E ||A(M)||^2 =
||M||_F^2``), the scaling the restricted isometry property (RIP) is stated in:

* :class:`GaussianMeasurements`: ``A_i`` with independent ``N(0, 1/m)`` entries, stored as a
  dense ``(m, n1 n2)`` matrix; the classical RIP ensemble, for small ``n``.
* :class:`RankOneMeasurements`: ``A_i = a_i b_i^T / sqrt(m)`` with standard Gaussian ``a_i``,
  ``b_i``; ``O(m (n1 + n2))`` storage, and the factored products ``A(F G^T)`` and
  ``A*(z) G`` cost ``O(m (n1 + n2) k)`` without forming an ``n1 x n2`` matrix. These satisfy
  an l2/l1 RIP rather than the l2/l2 one (Cai & Zhang 2015); gradient descent still works
  with a few more measurements.
* :class:`SketchedMeasurements`: ``A(M) = S vec(M)`` for any sketchla sketching operator
  ``S`` (SRFT by default): ``O(n1 n2 log(n1 n2))`` per application, no stored matrix, so
  ``n`` in the thousands. Randomised trigonometric transforms with random signs embed every
  fixed low-dimensional set, the rank-``r`` matrices among them, with ``m ~ r (n1 + n2)``
  up to logarithms (Oymak, Recht & Soltanolkotabi 2018).

Operators are immutable and fixed by ``seed``: the same seed gives the same operator on every
backend. Arrays are materialised per (namespace, device, dtype) on first use and cached.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .. import _validation as v
from .._array.namespace import array_namespace, backend_name, check_same_device, device
from ..random import Generator
from ..sketch import sketch_operator
from ..sketch.factory import FAMILIES

__all__ = [
    "OPERATOR_KINDS",
    "GaussianMeasurements",
    "MeasurementOperator",
    "RankOneMeasurements",
    "SketchedMeasurements",
    "degrees_of_freedom",
    "measurement_operator",
]

#: Dense Gaussian operators larger than this many entries are refused (8 GB in float64).
MAX_DENSE_ENTRIES = 10**9


class MeasurementOperator(ABC):
    """A linear map ``A : R^{n1 x n2} -> R^m``, ``A(M)_i = <A_i, M>``, with its adjoint.

    Subclasses implement the products on validated arrays; this class validates shapes,
    namespaces and finiteness at the public boundary and supplies factored forms that
    gradient descent uses: ``A(F G^T)`` (:meth:`apply_factored`), ``A*(z) G`` and
    ``A*(z)^T F`` (:meth:`adjoint_matmul`).
    """

    kind: str = ""

    def __init__(self, shape: Any, m: int, *, seed: Any = None) -> None:
        shape = v.check_shape(shape, "shape")
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape must be (n1, n2) with n1, n2 >= 1, got {shape}")
        self._shape = (int(shape[0]), int(shape[1]))
        self._m = v.check_positive_int(m, "m")
        generator = v.check_seed(seed)
        # as for sketches: a caller's Generator is advanced, an int seed gives the same operator
        if isinstance(seed, Generator):
            generator = generator.spawn(1)[0]
        self._seed_sequence = generator.seed_sequence
        self._cache: dict[tuple[str, str, str], Any] = {}

    # -- description --------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        """``(n1, n2)``, the shape of the matrices measured."""
        return self._shape

    @property
    def m(self) -> int:
        """The number of measurements."""
        return self._m

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self._shape}, m={self._m})"

    # -- public products ----------------------------------------------------------------

    def __call__(self, M: Any) -> Any:
        """``A(M)``: the ``m`` measurements of an ``(n1, n2)`` matrix ``M``."""
        M = v.check_matrix(M, "M")
        if tuple(M.shape) != self._shape:
            raise ValueError(f"M must have shape {self._shape}, got {tuple(M.shape)}")
        return self._apply(M)

    def adjoint(self, y: Any) -> Any:
        """``A*(y) = sum_i y_i A_i``, an ``(n1, n2)`` matrix."""
        y = v.check_vector(y, "y", length=self._m)
        return self._adjoint(y)

    def apply_factored(self, F: Any, G: Any) -> Any:
        """``A(F G^T)`` for ``F`` of shape ``(n1, k)`` and ``G`` of shape ``(n2, k)``."""
        F, G = self._check_factors(F, G)
        return self._apply_factored(F, G)

    def adjoint_matmul(self, z: Any, G: Any, *, transpose: bool = False) -> Any:
        """``A*(z) @ G`` (``G``: ``(n2, k)``), or ``A*(z).T @ G`` with ``transpose=True``
        (``G``: ``(n1, k)``), without forming ``A*(z)`` where the operator allows."""
        z = v.check_vector(z, "z", length=self._m)
        G = v.check_matrix(G, "G")
        rows = self._shape[0] if transpose else self._shape[1]
        if G.shape[0] != rows:
            raise ValueError(f"G must have {rows} rows, got shape {tuple(G.shape)}")
        _check_same(z, G, ("z", "G"))
        return self._adjoint_matmul(z, G, transpose)

    def to_dense(self, *, xp: Any = None, device: Any = None, dtype: Any = None) -> Any:
        """The ``(m, n1 n2)`` matrix whose row ``i`` is ``A_i`` flattened row-major.

        For tests and small sizes: it has ``m n1 n2`` entries.
        """
        from .._array.namespace import namespace_for

        xp = namespace_for(xp)
        dtype = v.check_dtype(dtype, xp, device=device)
        n = self._shape[0] * self._shape[1]
        eye = xp.eye(n, dtype=dtype, device=device)
        columns = [self._apply(xp.reshape(eye[j, :], self._shape)) for j in range(n)]
        return xp.stack(columns, axis=1)

    # -- what a family implements --------------------------------------------------------

    @abstractmethod
    def _apply(self, M: Any) -> Any:
        """``A(M)`` for a validated ``(n1, n2)`` array."""

    @abstractmethod
    def _adjoint(self, y: Any) -> Any:
        """``A*(y)`` for a validated length-``m`` vector."""

    def _apply_factored(self, F: Any, G: Any) -> Any:
        return self._apply(F @ array_namespace(F).matrix_transpose(G))

    def _adjoint_matmul(self, z: Any, G: Any, transpose: bool) -> Any:
        S = self._adjoint(z)
        return (array_namespace(S).matrix_transpose(S) if transpose else S) @ G

    def _adjoint_products(self, z: Any, G: Any, F: Any) -> tuple[Any, Any]:
        """``(A*(z) G, A*(z)^T F)``, the two products of a gradient step, from one adjoint."""
        S = self._adjoint(z)
        return S @ G, array_namespace(S).matrix_transpose(S) @ F

    # -- helpers ---------------------------------------------------------------------------

    def _check_factors(self, F: Any, G: Any) -> tuple[Any, Any]:
        F, G = v.check_matrix(F, "F"), v.check_matrix(G, "G")
        if F.shape[0] != self._shape[0] or G.shape[0] != self._shape[1]:
            raise ValueError(
                f"F and G must have {self._shape[0]} and {self._shape[1]} rows, "
                f"got shapes {tuple(F.shape)} and {tuple(G.shape)}"
            )
        if F.shape[1] != G.shape[1]:
            raise ValueError(
                f"F and G must have the same number of columns, got {F.shape[1]} and {G.shape[1]}"
            )
        _check_same(F, G, ("F", "G"))
        return F, G

    def _cached(self, name: str, like: Any, build) -> Any:
        """An array built by ``build(xp, device, dtype)`` once per namespace, device, dtype."""
        xp = array_namespace(like)
        key = (name, f"{backend_name(xp)}:{device(like)}", str(like.dtype))
        if key not in self._cache:
            self._cache[key] = build(xp, device(like), like.dtype)
        return self._cache[key]


def _child(sequence: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """Child ``index`` of ``sequence``, derived without advancing ``sequence``'s spawn count."""
    return np.random.SeedSequence(sequence.entropy, spawn_key=(*sequence.spawn_key, index))


def _check_same(a: Any, b: Any, names: tuple[str, str]) -> None:
    xa, xb = array_namespace(a), array_namespace(b)
    if backend_name(xa) != backend_name(xb):
        raise TypeError(
            f"{names[0]} and {names[1]} must be arrays of one library, got "
            f"{backend_name(xa)} and {backend_name(xb)}"
        )
    check_same_device(a, b, names=names)
    if a.dtype != b.dtype:
        raise TypeError(
            f"{names[0]} and {names[1]} must have one dtype, got {a.dtype} and {b.dtype}"
        )


class GaussianMeasurements(MeasurementOperator):
    """Dense Gaussian sensing matrices: ``A_i`` with independent ``N(0, 1/m)`` entries.

    The matrix ``(m, n1 n2)`` is the Gaussian sketch of the same seed (see
    :func:`sketchla.sketch_operator`), so it is identical on every backend up to rounding. It
    is stored, so each product costs ``O(m n1 n2)``: meant for ``n`` up to about a hundred.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sensing import GaussianMeasurements
    >>> A = GaussianMeasurements((20, 20), 4000, seed=0)
    >>> M = np.outer(np.arange(20.0), np.ones(20))
    >>> ratio = np.linalg.norm(A(M)) / np.linalg.norm(M)  # near-isotropic
    >>> bool(abs(ratio - 1) < 0.05)
    True
    """

    kind = "gaussian"

    def __init__(self, shape: Any, m: int, *, seed: Any = None) -> None:
        super().__init__(shape, m, seed=seed)
        entries = self._m * self._shape[0] * self._shape[1]
        if entries > MAX_DENSE_ENTRIES:
            raise ValueError(
                f"a dense Gaussian operator with m={self._m} on {self._shape} matrices has "
                f"{entries:.3g} entries (limit {MAX_DENSE_ENTRIES:.0e}); use "
                "SketchedMeasurements or RankOneMeasurements for large n"
            )
        self._sketch = sketch_operator(
            "gaussian", self._m, self._shape[0] * self._shape[1], seed=self._seed_sequence
        )

    def _matrix(self, like: Any) -> Any:
        return self._cached(
            "matrix",
            like,
            lambda xp, dev, dtype: self._sketch.to_dense(xp=xp, device=dev, dtype=dtype),
        )

    def _apply(self, M: Any) -> Any:
        xp = array_namespace(M)
        return self._matrix(M) @ xp.reshape(M, (-1,))

    def _adjoint(self, y: Any) -> Any:
        xp = array_namespace(y)
        return xp.reshape(y @ self._matrix(y), self._shape)


class RankOneMeasurements(MeasurementOperator):
    """Rank-one measurements ``y_i = a_i^T M b_i / sqrt(m)``, ``a_i, b_i`` standard Gaussian.

    Storage and every product are ``O(m (n1 + n2))`` per column of a factor: the measurements
    of ``F G^T`` are row sums of ``(A F) * (B G)``, and ``A*(z) G = A^T diag(z) (B G)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sensing import RankOneMeasurements
    >>> A = RankOneMeasurements((300, 200), 5000, seed=0)
    >>> F, G = np.ones((300, 2)), np.ones((200, 2))
    >>> bool(np.allclose(A.apply_factored(F, G), A(F @ G.T)))
    True
    """

    kind = "rank_one"

    def __init__(self, shape: Any, m: int, *, seed: Any = None) -> None:
        super().__init__(shape, m, seed=seed)
        self._left, self._right = (
            sketch_operator("gaussian", self._m, width, seed=sequence)
            for width, sequence in zip(
                self._shape, (_child(self._seed_sequence, i) for i in range(2)), strict=True
            )
        )

    def _vectors(self, like: Any) -> tuple[Any, Any]:
        """``(a, b)``: ``(m, n1)`` and ``(m, n2)`` with ``N(0, 1/sqrt(m))`` entries, so that
        ``a_i^T M b_i`` carries the ``1/sqrt(m)`` of the definition."""

        def build(xp, dev, dtype):
            scale = self._m**0.25  # the sketches are N(0, 1/m); rows a_i, b_i get m**-0.25 each
            return tuple(
                op.to_dense(xp=xp, device=dev, dtype=dtype) * scale
                for op in (self._left, self._right)
            )

        return self._cached("vectors", like, build)

    def _apply(self, M: Any) -> Any:
        a, b = self._vectors(M)
        xp = array_namespace(M)
        return xp.sum((a @ M) * b, axis=1)

    def _adjoint(self, y: Any) -> Any:
        a, b = self._vectors(y)
        xp = array_namespace(y)
        return xp.matrix_transpose(a) @ (y[:, None] * b)

    def _apply_factored(self, F: Any, G: Any) -> Any:
        a, b = self._vectors(F)
        xp = array_namespace(F)
        return xp.sum((a @ F) * (b @ G), axis=1)

    def _adjoint_matmul(self, z: Any, G: Any, transpose: bool) -> Any:
        a, b = self._vectors(z)
        xp = array_namespace(z)
        if transpose:  # A*(z)^T G = B^T diag(z) (A G)
            a, b = b, a
        return xp.matrix_transpose(a) @ (z[:, None] * (b @ G))

    def _adjoint_products(self, z: Any, G: Any, F: Any) -> tuple[Any, Any]:
        return self._adjoint_matmul(z, G, False), self._adjoint_matmul(z, F, True)


class SketchedMeasurements(MeasurementOperator):
    """Structured measurements ``A(M) = S vec(M)`` for a sketchla sketching operator ``S``.

    ``S`` is an ``(m, n1 n2)`` sketch of family ``kind`` (SRFT by default; any name that
    :func:`sketchla.sketch_operator` accepts, with its parameters), scaled so that
    ``E[S^T S] = I``. Nothing of size ``m n1 n2`` is stored; an application costs one fast
    transform of ``n1 n2`` entries (SRFT, SRHT) or ``O(nnz)`` (sparse families).

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.sensing import SketchedMeasurements
    >>> A = SketchedMeasurements((100, 100), 3000, seed=0)
    >>> M = np.outer(np.arange(100.0), np.arange(100.0))
    >>> bool(abs(np.linalg.norm(A(M)) / np.linalg.norm(M) - 1) < 0.1)
    True
    """

    def __init__(
        self, shape: Any, m: int, *, kind: str = "srft", seed: Any = None, **params: Any
    ) -> None:
        super().__init__(shape, m, seed=seed)
        if kind not in FAMILIES:
            raise ValueError(f"kind must be one of {sorted(FAMILIES)}, got {kind!r}")
        self.kind = kind
        self._sketch = sketch_operator(
            kind, self._m, self._shape[0] * self._shape[1], seed=self._seed_sequence, **params
        )

    def __repr__(self) -> str:
        return f"SketchedMeasurements(shape={self._shape}, m={self._m}, kind={self.kind!r})"

    def _apply(self, M: Any) -> Any:
        xp = array_namespace(M)
        return self._sketch.apply(xp.reshape(M, (-1,)))

    def _adjoint(self, y: Any) -> Any:
        xp = array_namespace(y)
        return xp.reshape(self._sketch.rmatmul_transpose(y), self._shape)


OPERATOR_KINDS = ("gaussian", "rank_one", *(k for k in FAMILIES if k != "gaussian"))


def measurement_operator(kind: str, shape: Any, m: int, *, seed: Any = None, **params: Any):
    """The measurement operator of family ``kind`` on ``shape`` matrices with ``m`` measurements.

    Parameters
    ----------
    kind : str
        ``"gaussian"`` (:class:`GaussianMeasurements`), ``"rank_one"``
        (:class:`RankOneMeasurements`), or a sketching family (``"srft"``, ``"srht"``,
        ``"saso"``, ...: :class:`SketchedMeasurements`, with the family's ``params``).
    shape : (int, int)
    m : int
    seed : None, int, numpy.random.SeedSequence or sketchla.random.Generator

    Examples
    --------
    >>> from sketchla.sensing import measurement_operator
    >>> measurement_operator("srft", (1000, 1000), 40_000, seed=0)
    SketchedMeasurements(shape=(1000, 1000), m=40000, kind='srft')
    """
    if kind == "gaussian":
        return GaussianMeasurements(shape, m, seed=seed, **params)
    if kind == "rank_one":
        return RankOneMeasurements(shape, m, seed=seed, **params)
    if kind in FAMILIES:
        return SketchedMeasurements(shape, m, kind=kind, seed=seed, **params)
    raise ValueError(f"kind must be one of {OPERATOR_KINDS}, got {kind!r}")


def degrees_of_freedom(shape: Any, rank: int, *, symmetric: bool = False) -> int:
    """The dimension of the rank-``rank`` matrices of ``shape``: ``r (n1 + n2 - r)``, or
    ``r n - r (r - 1) / 2`` for symmetric ``n x n`` ones. Fewer measurements than this cannot
    determine a rank-``r`` matrix.

    Examples
    --------
    >>> degrees_of_freedom((50, 50), 3), degrees_of_freedom((50, 50), 3, symmetric=True)
    (291, 147)
    """
    n1, n2 = (int(s) for s in v.check_shape(shape, "shape"))
    r = v.check_int(rank, "rank", minimum=0)
    if symmetric:
        if n1 != n2:
            raise ValueError(f"a symmetric problem needs a square shape, got {(n1, n2)}")
        return r * n1 - r * (r - 1) // 2
    return r * (n1 + n2 - r)
