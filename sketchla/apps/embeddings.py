"""FastRP node embeddings: powers of a graph's transition matrix applied to a very sparse random
projection (Chen, Sultan, Tian, Chen & Skiena, "Fast and Accurate Network Embeddings via Very
Sparse Random Projection", CIKM 2019; reference code GTmac/FastRP).

With ``A = D^{-1} S`` the transition matrix of the adjacency ``S`` (``D`` its diagonal of row
sums) and ``R`` an ``n x d`` very sparse random projection scaled by degrees, ``R <- D^beta R``,
the embedding is ``sum_i w_i normalize(A^i R)`` for ``i = 1 .. q``. The powers ``A^i`` are never
formed: ``N_1 = A R`` and ``N_i = A N_{i-1}``, one sparse-times-dense product per power.

The products run in numba kernels over the rows of ``A`` (threads own rows, so no two write the
same memory). Each kernel also normalises the new row and adds it, weighted, into the embedding
while the row is still in cache, so a power costs one pass over ``A`` and the gathered rows of
the previous block, and at most three ``n x d`` blocks are alive at once (the previous power, the
new one and the embedding; fewer when ``q <= 2``). The first product takes ``R`` sparse: it costs
``O(nnz(S) d / s)`` instead of ``O(nnz(S) d)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba as nb
import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from ..sketch.factory import sketch_operator

__all__ = ["ISOLATED_POLICIES", "fastrp"]

#: What :func:`fastrp` does with nodes of zero (out-)degree.
ISOLATED_POLICIES = ("raise", "zero")

# Rows are split into this many chunks of equal work per thread: enough to balance a skewed
# degree distribution and a busy core, few enough that each chunk's row buffer is free.
_CHUNKS_PER_THREAD = 8


def fastrp(
    adjacency: Any,
    dim: int,
    *,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    beta: float = 0.0,
    normalize: bool = True,
    standardize: bool = False,
    s: float | None = None,
    isolated: str = "raise",
    dtype: Any = np.float32,
    seed: Any = None,
) -> np.ndarray:
    """FastRP embeddings of the nodes of a graph (Chen et al., CIKM 2019).

    Computes ``sum_{i=1}^{q} w_i normalize(A^i D^beta R)`` with ``A = D^{-1} S`` the transition
    matrix of the adjacency ``S``, ``D`` the diagonal of its row sums (degrees), ``R`` an
    ``n x dim`` very sparse random projection and ``q = len(weights)``, without ever forming a
    power of ``A``: each power is one product of ``A`` with the previous ``n x dim`` block.

    Parameters
    ----------
    adjacency : scipy.sparse array or matrix, or a 2-D array
        ``(n, n)``, any sparse format; entries are edge weights, finite and non-negative.
        Directed graphs are allowed: row ``i`` holds the out-edges of node ``i``, and its row sum
        is node ``i``'s degree. It is read, never modified (it is converted to CSR once).
    dim : int
        The embedding dimension ``d``.
    weights : sequence of float
        ``w_1 .. w_q``, the weights of the powers ``A^1 .. A^q``: non-empty, finite. The paper
        tunes them per data set; its common choice for ``q = 4`` is ``(0, 0, 1, 6)`` or similar,
        and ``(1, 1, 1, 1)`` (the default) is a neutral start.
    beta : float
        The degree exponent of ``R <- D^beta R`` (the paper's ``beta``, best in ``[-1, 0]``):
        negative values shrink the contribution of high-degree nodes. 0 (default) leaves ``R``.
    normalize : bool
        Scale every row of every ``A^i R`` to unit Euclidean norm before the weighted sum (the
        paper's normalisation); rows that are zero stay zero. With ``normalize=True`` each row
        of the result has norm at most ``sum |w_i|``.
    standardize : bool
        Finally shift and scale every column of the embedding to mean 0 and standard deviation
        1, as the reference code does with :func:`sklearn.preprocessing.scale` (a constant
        column is only centred). Off by default: it mixes information from every node into
        each one, and downstream linear models usually standardise on their own.
    s : float, optional
        Inverse density of ``R``: each entry is nonzero with probability ``1/s``. Default
        ``sqrt(n)`` (the paper's and scikit-learn's choice); ``s >= 1``, and ``s = 1`` gives a
        dense Rademacher matrix.
    isolated : {"raise", "zero"}
        Nodes of zero degree (no out-edges) have no transition probabilities. ``"raise"``
        (default) raises a ``ValueError`` that counts them; ``"zero"`` gives them zero rows in
        ``A``, hence zero embeddings (before ``standardize``), and degree 1 in ``D^beta``.
    dtype : {numpy.float32, numpy.float64}
        The dtype of the computation and of the result. float32 (default) halves the memory:
        each ``n x dim`` block takes ``4 n dim`` bytes.
    seed : None, int, numpy.random.SeedSequence or sketchla.random.Generator
        Fixes ``R``: the same seed gives the same embedding.

    Returns
    -------
    numpy.ndarray
        ``(n, dim)`` of ``dtype``: row ``i`` embeds node ``i``.

    Raises
    ------
    ValueError
        For a non-square, non-finite or negative ``adjacency``, isolated nodes with
        ``isolated="raise"``, and out-of-range ``dim``, ``weights``, ``beta`` or ``s``; every
        check runs before any work.
    TypeError
        For arguments of the wrong kind (a complex ``adjacency``, a float ``dim``, a ``dtype``
        other than float32 and float64).

    Notes
    -----
    ``R`` is ``S.T`` for ``S = sketch_operator("very_sparse", dim, n, s=s, seed=seed)``
    (:class:`~sketchla.sketch.VerySparseSketch`): its entries are ``+-sqrt(s / dim)`` with
    probability ``1/(2s)`` each, where the paper's are ``+-sqrt(s)``. The constant factor
    ``1/sqrt(dim)`` cancels in the normalisation and the standardisation, and otherwise scales
    the embedding (making ``E[R^T R] = I``). As the operator is nested, the first ``k`` columns
    of a ``dim``-dimensional embedding without normalisation are the ``k``-dimensional one
    times ``sqrt(k / dim)``.

    The reference code builds ``R`` with scikit-learn's ``SparseRandomProjection`` and computes
    the products with SciPy; this function computes the same quantities (up to that scale and
    the draw of ``R``) in ``O(q nnz(S) dim)`` work and ``3 n dim`` numbers of memory.

    References
    ----------
    .. [1] H. Chen, S. F. Sultan, Y. Tian, M. Chen and S. Skiena, "Fast and Accurate Network
       Embeddings via Very Sparse Random Projection", CIKM 2019, arXiv:1908.11512.
    .. [2] P. Li, T. J. Hastie and K. W. Church, "Very Sparse Random Projections", KDD 2006.

    Examples
    --------
    Two triangles joined by one edge: the nodes of each triangle get similar embeddings.

    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sketchla.apps import fastrp
    >>> edges = np.array([[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5], [2, 3]])
    >>> S = sp.coo_array((np.ones(7), (edges[:, 0], edges[:, 1])), shape=(6, 6))
    >>> E = fastrp(S + S.T, 64, weights=(1.0, 1.0), seed=0)
    >>> E.shape, E.dtype
    ((6, 64), dtype('float32'))
    >>> U = E / np.linalg.norm(E, axis=1, keepdims=True)
    >>> cos = U @ U.T
    >>> bool(cos[0, 1] > cos[0, 4] and cos[5, 4] > cos[5, 1])
    True
    """
    csr = _check_adjacency(adjacency)
    n = csr.shape[0]
    dim = v.check_positive_int(dim, "dim")
    w = _check_weights(weights)
    beta = v.check_real(beta, "beta")
    normalize = _check_bool(normalize, "normalize")
    standardize = _check_bool(standardize, "standardize")
    if isolated not in ISOLATED_POLICIES:
        raise ValueError(f"isolated must be one of {ISOLATED_POLICIES}, got {isolated!r}")
    dtype = _check_dtype(dtype)
    if s is not None:
        s = v.check_real(s, "s", minimum=1)
    if n == 0:
        return np.zeros((0, dim), dtype=dtype)
    projection = sketch_operator("very_sparse", dim, n, s=s, seed=seed)  # checks seed
    degrees = _degrees(csr)
    zero = degrees == 0
    if isolated == "raise" and bool(zero.any()):
        count = int(zero.sum())
        raise ValueError(
            f"adjacency has {count} node{'s' if count > 1 else ''} of zero degree (no out-edges, "
            f"e.g. node {int(np.flatnonzero(zero)[0])}), whose transition probabilities are "
            "undefined: remove them or pass isolated='zero' to give them zero embeddings"
        )
    degrees[zero] = 1.0
    return _fastrp(csr, degrees, projection, w, beta, normalize, standardize, dtype)


# -- validation ----------------------------------------------------------------------------------


def _check_adjacency(adjacency: Any) -> sp.csr_array:
    """The adjacency as CSR with finite non-negative values (a new array when converted: the
    caller's is never modified)."""
    if adjacency is None:
        raise TypeError("adjacency must be a scipy.sparse matrix or a 2-D array, got None")
    if sp.issparse(adjacency):
        if adjacency.ndim != 2:
            raise ValueError(f"adjacency must be 2-D, got shape {adjacency.shape}")
        csr = sp.csr_array(adjacency) if adjacency.format != "csr" else adjacency
    else:
        try:
            dense = np.asarray(adjacency)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "adjacency must be a scipy.sparse matrix or a 2-D array, "
                f"got {type(adjacency).__name__}"
            ) from exc
        if dense.ndim != 2:
            raise ValueError(f"adjacency must be 2-D, got shape {dense.shape}")
        csr = sp.csr_array(dense)
    rows, columns = csr.shape
    if rows != columns:
        raise ValueError(f"adjacency must be square, got shape {(rows, columns)}")
    kind = csr.dtype.kind
    if kind == "c":
        raise TypeError(f"adjacency must be real, got dtype {csr.dtype}")
    if kind not in "biuf":
        raise TypeError(f"adjacency must have a numeric dtype, got {csr.dtype}")
    data = csr.data
    if kind == "f" and not np.isfinite(data).all():
        raise ValueError("adjacency must hold only finite values, got NaN or infinity")
    if data.size and data.min() < 0:
        raise ValueError(
            f"adjacency must hold non-negative edge weights, got {data.min()!r} "
            f"(node {int(np.searchsorted(csr.indptr, np.argmin(data), side='right') - 1)})"
        )
    return csr


def _check_weights(weights: Any) -> np.ndarray:
    if isinstance(weights, (str, bytes)):
        raise TypeError(f"weights must be a sequence of real numbers, got {weights!r}")
    try:
        w = np.asarray(weights)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"weights must be a sequence of real numbers, got {weights!r}") from exc
    if w.ndim != 1:
        raise ValueError(f"weights must be 1-D (one weight per power), got shape {w.shape}")
    if w.dtype.kind not in "iuf":  # booleans and strings are not weights
        raise TypeError(f"weights must be real numbers, got dtype {w.dtype}")
    if w.size == 0:
        raise ValueError("weights must hold at least one weight (one per power of A), got none")
    w = w.astype(np.float64)
    if not np.isfinite(w).all():
        raise ValueError(f"weights must be finite, got {w.tolist()}")
    return w


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = None if dtype is None else np.dtype(dtype)  # np.dtype(None) is float64
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in ("float32", "float64"):
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def _degrees(csr: sp.csr_array) -> np.ndarray:
    """Row sums in float64 (weighted out-degrees), without an nnz-sized temporary."""
    return np.asarray(csr @ np.ones(csr.shape[1]), dtype=np.float64)


# -- computation ----------------------------------------------------------------------------------


def _fastrp(csr, degrees, projection, weights, beta, normalize, standardize, dtype) -> np.ndarray:
    """The embedding for validated input (``degrees`` > 0: isolated nodes count 1)."""
    n, dim = csr.shape[0], projection.m
    indptr = csr.indptr.astype(np.int64, copy=False)
    indices = np.ascontiguousarray(csr.indices)
    counts = np.diff(indptr)
    # the transition matrix D^{-1} S: its values, in a new array (the caller's stay as they are)
    values = (csr.data.astype(np.float64) / np.repeat(degrees, counts)).astype(dtype)

    # R = D^beta S.T in CSR (n x dim): S.to_sparse() is CSC (dim x n), whose transpose is CSR
    R = projection.to_sparse(np.float64)
    r_indptr, r_indices = R.indptr.astype(np.int64, copy=False), R.indices.astype(np.int64)
    r_values = R.data
    if beta != 0.0:
        r_values = r_values * np.repeat(degrees**beta, np.diff(r_indptr))
    r_values = r_values.astype(dtype)

    bounds = _chunk_bounds(indptr, n)
    embedding = np.empty((n, dim), dtype=dtype)
    q = weights.shape[0]
    spare = np.empty((0, dim), dtype=dtype)  # "do not store": the last power only accumulates
    current = np.empty((n, dim), dtype=dtype) if q > 1 else spare
    _first_power(
        indptr, indices, values, r_indptr, r_indices, r_values,
        current, embedding, weights[0], normalize, bounds,
    )  # fmt: skip
    following = np.empty((n, dim), dtype=dtype) if q > 2 else spare
    for i in range(1, q):
        out = following if i < q - 1 else spare
        _next_power(indptr, indices, values, current, out, embedding, weights[i], normalize, bounds)
        current, following = out, current
    del current, following
    if standardize:
        _standardize(embedding)
    return embedding


def _chunk_bounds(indptr: np.ndarray, n: int) -> np.ndarray:
    """Row boundaries of chunks of about equal work (a row costs its nonzeros plus one)."""
    chunks = max(1, min(n, _CHUNKS_PER_THREAD * nb.get_num_threads()))
    work = indptr + np.arange(n + 1)
    return np.searchsorted(work, np.linspace(0, work[-1], chunks + 1)).astype(np.int64)


@nb.njit(cache=True, nogil=True, inline="always")
def _finish_row(row, i, out, embedding, weight, normalize, first, unit):
    """Store row i of the new power (when ``out`` has rows) and add it, weighted and
    normalised, into the embedding (assign on the first power)."""
    d = row.shape[0]
    if out.shape[0] > 0:
        for c in range(d):
            out[i, c] = row[c]
    scale = weight
    if normalize:
        total = 0.0
        for c in range(d):
            total += float(row[c]) * float(row[c])
        scale = weight / math.sqrt(total) if total > 0.0 else 0.0
    unit[0] = scale  # in the block's dtype, so the loops below stay in it
    factor = unit[0]
    if first:
        for c in range(d):
            embedding[i, c] = factor * row[c]
    else:
        for c in range(d):
            embedding[i, c] += factor * row[c]


@nb.njit(parallel=True, cache=True, nogil=True)
def _first_power(
    indptr, indices, values, r_indptr, r_indices, r_values, out, embedding, weight, normalize,
    bounds,
):  # fmt: skip
    """Row i of A R for a CSR R: the sparse rows of R that node i's neighbours select, summed
    into a dense row buffer; then stored and added into the (fresh) embedding."""
    d = embedding.shape[1]
    for chunk in nb.prange(bounds.shape[0] - 1):
        row = np.empty(d, dtype=embedding.dtype)
        unit = np.empty(1, dtype=embedding.dtype)
        for i in range(bounds[chunk], bounds[chunk + 1]):
            row[:] = 0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                a = values[p]
                for t in range(r_indptr[j], r_indptr[j + 1]):
                    row[r_indices[t]] += a * r_values[t]
            _finish_row(row, i, out, embedding, weight, normalize, True, unit)


@nb.njit(parallel=True, cache=True, nogil=True)
def _next_power(indptr, indices, values, X, out, embedding, weight, normalize, bounds):
    """Row i of A X for a dense row-major X: the rows of X of node i's neighbours, weighted by
    its transition probabilities; then stored and added into the embedding."""
    d = X.shape[1]
    for chunk in nb.prange(bounds.shape[0] - 1):
        row = np.empty(d, dtype=X.dtype)
        unit = np.empty(1, dtype=X.dtype)
        for i in range(bounds[chunk], bounds[chunk + 1]):
            row[:] = 0
            p, end = indptr[i], indptr[i + 1]
            # eight neighbours per sweep over the row buffer: one load and store of it per
            # eight rows of X instead of per row (2.3x faster than one at a time, d = 512)
            while p + 8 <= end:
                x0, x1, x2, x3 = (
                    X[indices[p]],
                    X[indices[p + 1]],
                    X[indices[p + 2]],
                    X[indices[p + 3]],
                )
                x4, x5, x6, x7 = (
                    X[indices[p + 4]],
                    X[indices[p + 5]],
                    X[indices[p + 6]],
                    X[indices[p + 7]],
                )
                a0, a1, a2, a3 = values[p], values[p + 1], values[p + 2], values[p + 3]
                a4, a5, a6, a7 = values[p + 4], values[p + 5], values[p + 6], values[p + 7]
                for c in range(d):
                    row[c] += (a0 * x0[c] + a1 * x1[c] + a2 * x2[c] + a3 * x3[c]) + (
                        a4 * x4[c] + a5 * x5[c] + a6 * x6[c] + a7 * x7[c]
                    )
                p += 8
            if p + 4 <= end:
                x0, x1, x2, x3 = (
                    X[indices[p]],
                    X[indices[p + 1]],
                    X[indices[p + 2]],
                    X[indices[p + 3]],
                )
                a0, a1, a2, a3 = values[p], values[p + 1], values[p + 2], values[p + 3]
                for c in range(d):
                    row[c] += a0 * x0[c] + a1 * x1[c] + a2 * x2[c] + a3 * x3[c]
                p += 4
            while p < end:
                x0, a0 = X[indices[p]], values[p]
                for c in range(d):
                    row[c] += a0 * x0[c]
                p += 1
            _finish_row(row, i, out, embedding, weight, normalize, False, unit)


def _standardize(embedding: np.ndarray) -> None:
    """Columns to mean 0 and standard deviation 1 in place, as sklearn.preprocessing.scale
    (population standard deviation, constant columns only centred); statistics in float64,
    temporaries of one block of rows at a time."""
    n, d = embedding.shape
    mean = embedding.mean(axis=0, dtype=np.float64)
    squares = np.zeros(d)
    block = max(1, 2**20 // d)
    for start in range(0, n, block):
        rows = embedding[start : start + block]
        np.subtract(rows, mean, out=rows, casting="unsafe")
        squares += np.einsum("ij,ij->j", rows, rows, dtype=np.float64)
    std = np.sqrt(squares / n)
    std[std == 0.0] = 1.0
    inverse = 1.0 / std
    for start in range(0, n, block):
        rows = embedding[start : start + block]
        np.multiply(rows, inverse, out=rows, casting="unsafe")
