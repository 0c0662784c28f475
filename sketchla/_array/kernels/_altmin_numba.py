"""Numba half-steps of alternating minimization: one small least-squares problem per target
(row or column of the completed matrix), threads split the targets, no Python loop.

Each target ``t`` has observations ``indptr[t]:indptr[t + 1]``, at positions ``idx`` of the fixed
factor ``F`` with values ``vals``; its problem is ``min_x ||F[idx] x - vals||^2 + ridge ||x||^2``.
The computation is in float64 whatever the input dtype. A target whose normal matrix is not
numerically positive definite is flagged (``status = 1``) and left for the caller (a
minimum-norm solve); an empty target gets ``x = 0``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["altmin_exact", "altmin_robust", "entries_of_product"]

# Multiply-adds may be fused, but sums keep their order: results must not depend on where numba
# allocates the work arrays (reassociated reductions vectorise with an alignment-dependent order).
_FAST = {"contract"}


@nb.njit(inline="always", fastmath=_FAST)
def _dot(a, b, n):
    """``a[:n] . b[:n]`` with four partial sums in a fixed order (fast and reproducible)."""
    s0 = s1 = s2 = s3 = 0.0
    m = n - n % 4
    for c in range(0, m, 4):
        s0 += a[c] * b[c]
        s1 += a[c + 1] * b[c + 1]
        s2 += a[c + 2] * b[c + 2]
        s3 += a[c + 3] * b[c + 3]
    for c in range(m, n):
        s0 += a[c] * b[c]
    return (s0 + s1) + (s2 + s3)


@nb.njit(inline="always", fastmath=_FAST)
def _cholesky(G, k):
    """In-place lower Cholesky factor of ``G[:k, :k]`` (lower triangle read); False if a pivot
    is not above ``k * 2**-52`` times the largest diagonal entry (not numerically definite)."""
    scale = 0.0
    for j in range(k):
        scale = max(scale, G[j, j])
    floor = k * 2.220446049250313e-16 * scale
    for j in range(k):
        d = G[j, j] - _dot(G[j], G[j], j)
        if not d > floor:
            return False
        d = np.sqrt(d)
        G[j, j] = d
        for i in range(j + 1, k):
            s = G[i, j] - _dot(G[i], G[j], j)
            G[i, j] = s / d
    return True


@nb.njit(inline="always", fastmath=_FAST)
def _cholesky_solve(Lf, r, z, k):
    """``z = (L L^T)^-1 r`` by two triangular solves (``L`` lower, row-major)."""
    for i in range(k):
        s = r[i] - _dot(Lf[i], z, i)
        z[i] = s / Lf[i, i]
    for i in range(k - 1, -1, -1):
        s = z[i]
        for p in range(i + 1, k):
            s -= Lf[p, i] * z[p]
        z[i] = s / Lf[i, i]


@nb.njit(inline="always", fastmath=_FAST)
def _precondition(Lf, r, z, k, apply):
    if apply:
        _cholesky_solve(Lf, r, z, k)
    else:
        for c in range(k):
            z[c] = r[c]


@nb.njit(inline="always", fastmath=_FAST)
def _add_outer(G, a, w, k):
    """``G += w * a a^T`` on the lower triangle (row ``i`` gets ``a[i] * a[:i + 1]``)."""
    for i in range(k):
        c = w * a[i]
        for j in range(i + 1):
            G[i, j] += c * a[j]


@nb.njit(inline="always", fastmath=_FAST)
def _gram_of_rows(F, idx, lo, hi, ridge, G, k):
    G[:, :] = 0.0
    for q in range(lo, hi):
        _add_outer(G, F[idx[q]], 1.0, k)
    for i in range(k):
        G[i, i] += ridge


def _exact_py(F, indptr, idx, vals, ridge, out, status):
    k = F.shape[1]
    for t in nb.prange(out.shape[0]):
        lo, hi = indptr[t], indptr[t + 1]
        out[t, :] = 0.0
        status[t] = 0
        if hi == lo:
            continue
        G = np.empty((k, k))
        r = np.zeros(k)
        z = np.empty(k)
        _gram_of_rows(F, idx, lo, hi, ridge, G, k)
        for q in range(lo, hi):
            row = F[idx[q]]
            v = vals[q]
            for c in range(k):
                r[c] += v * row[c]
        if not _cholesky(G, k):
            status[t] = 1
            continue
        _cholesky_solve(G, r, z, k)
        out[t, :] = z


def _robust_py(
    F, indptr, idx, vals, ridge, x0, hrow, hsign, s, shared, tol, maxiter, out, status, iterations
):
    k = F.shape[1]
    for t in nb.prange(out.shape[0]):
        lo, hi = indptr[t], indptr[t + 1]
        n_obs = hi - lo
        out[t, :] = 0.0
        status[t] = 0
        iterations[t] = 0
        if n_obs == 0:
            continue
        G = np.zeros((k, k))
        if n_obs <= s or n_obs < k:  # no sketch is smaller than the problem: solve exactly
            r = np.zeros(k)
            z = np.empty(k)
            _gram_of_rows(F, idx, lo, hi, ridge, G, k)
            for q in range(lo, hi):
                row = F[idx[q]]
                for c in range(k):
                    r[c] += vals[q] * row[c]
            if not _cholesky(G, k):
                status[t] = 1
                continue
            _cholesky_solve(G, r, z, k)
            out[t, :] = z
            continue
        # Sketch-and-precondition (Gu, Song, Yin & Zhang 2024, after Rokhlin & Tygert 2008):
        # CountSketch the rows of A = F[idx] to s rows, factor (SA)^T (SA) + ridge I = L L^T,
        # then conjugate gradients on the normal equations preconditioned by (L L^T)^-1,
        # started from the previous iterate.
        A = np.empty((n_obs, k))
        for q in range(n_obs):
            A[q, :] = F[idx[lo + q]]
        identity = s == 0 and shared.shape[0] == 0
        if s == 0 and not identity:  # one factor for every target
            G[:, :] = shared
        if s > 0:
            SA = np.zeros((s, k))
            for q in range(n_obs):
                h, sign = hrow[lo + q], hsign[lo + q]
                for c in range(k):
                    SA[h, c] += sign * A[q, c]
            for q in range(s):
                _add_outer(G, SA[q], 1.0, k)
            for i in range(k):
                G[i, i] += ridge
            if not _cholesky(G, k):
                status[t] = 1
                continue
        x = np.empty(k)
        for c in range(k):
            x[c] = x0[t, c]
        # A^T as well: products with A run as axpys over its columns (no reordered sums)
        At = np.empty((k, n_obs))
        for q in range(n_obs):
            for c in range(k):
                At[c, q] = A[q, c]
        res = vals[lo:hi].copy()  # b - A x
        for c in range(k):
            xc = x[c]
            for q in range(n_obs):
                res[q] -= At[c, q] * xc
        g = np.zeros(k)  # A^T (b - A x) - ridge x
        for q in range(n_obs):
            r = res[q]
            for c in range(k):
                g[c] += r * A[q, c]
        for c in range(k):
            g[c] -= ridge * x[c]
        z = np.empty(k)
        _precondition(G, g, z, k, not identity)
        p = np.empty(k)
        gz = 0.0
        for c in range(k):
            p[c] = z[c]
            gz += g[c] * z[c]
        stop = tol * tol * gz
        Ap = np.empty(n_obs)
        it = 0
        while it < maxiter and gz > stop and gz > 0.0:
            denom = 0.0
            for c in range(k):
                denom += ridge * p[c] * p[c]
            Ap[:] = 0.0
            for c in range(k):
                pc = p[c]
                for q in range(n_obs):
                    Ap[q] += At[c, q] * pc
            denom += _dot(Ap, Ap, n_obs)
            if not denom > 0.0:
                break
            alpha = gz / denom
            for c in range(k):
                x[c] += alpha * p[c]
                g[c] -= alpha * ridge * p[c]
            for q in range(n_obs):
                w = alpha * Ap[q]
                for c in range(k):
                    g[c] -= w * A[q, c]
            _precondition(G, g, z, k, not identity)
            gz_new = 0.0
            for c in range(k):
                gz_new += g[c] * z[c]
            beta = gz_new / gz
            gz = gz_new
            for c in range(k):
                p[c] = z[c] + beta * p[c]
            it += 1
        iterations[t] = it
        out[t, :] = x


def _compiled(function):
    """Threaded and serial compilations of ``function`` (``prange`` is ``range`` in the serial
    one), so that small problems skip the cost of waking the threads."""
    options = {"cache": True, "nogil": True, "fastmath": _FAST}
    return nb.njit(parallel=True, **options)(function), nb.njit(**options)(function)


_exact = _compiled(_exact_py)
_robust = _compiled(_robust_py)

#: Below this many multiply-adds, a kernel runs on one thread.
SERIAL_WORK = 200_000


def _variant(pair, work):
    return pair[1] if work < SERIAL_WORK or nb.get_num_threads() == 1 else pair[0]


def altmin_exact(F, indptr, idx, vals, ridge, *, xp=None):
    """Exact solves of every target; returns ``(X, status)``."""
    F = np.ascontiguousarray(F, dtype=np.float64)
    out = np.empty((indptr.shape[0] - 1, F.shape[1]))
    status = np.empty(indptr.shape[0] - 1, dtype=np.int8)
    _variant(_exact, idx.shape[0] * F.shape[1] ** 2)(
        F, indptr, idx, np.asarray(vals, dtype=np.float64), float(ridge), out, status
    )
    return out, status


def altmin_robust(
    F, indptr, idx, vals, ridge, x0, hrow, hsign, s, shared, tol, maxiter, *, xp=None
):
    """Preconditioned inexact solves from ``x0``; returns ``(X, status, iterations)``.

    ``s > 0``: each target's preconditioner is the Cholesky factor of its CountSketch (rows
    ``hrow``, signs ``hsign``) to ``s`` rows. ``s = 0``: every target shares the lower factor
    ``shared`` (``k x k``), or none when ``shared`` is empty (``(0, 0)``: ``F`` orthonormal).
    """
    F = np.ascontiguousarray(F, dtype=np.float64)
    n_targets = indptr.shape[0] - 1
    out = np.empty((n_targets, F.shape[1]))
    status = np.empty(n_targets, dtype=np.int8)
    iterations = np.empty(n_targets, dtype=np.int32)
    _variant(_robust, 4 * idx.shape[0] * F.shape[1])(
        F,
        indptr,
        idx,
        np.asarray(vals, dtype=np.float64),
        float(ridge),
        np.ascontiguousarray(x0, dtype=np.float64),
        hrow,
        np.asarray(hsign, dtype=np.float64),
        int(s),
        np.ascontiguousarray(shared, dtype=np.float64),
        float(tol),
        int(maxiter),
        out,
        status,
        iterations,
    )
    return out, status, iterations


def _entries_py(U, V, rows, cols, out):
    k = U.shape[1]
    for q in nb.prange(rows.shape[0]):
        out[q] = _dot(U[rows[q]], V[cols[q]], k)


_entries = _compiled(_entries_py)


def entries_of_product(U, V, rows, cols, *, xp=None):
    """``(U @ V.T)[rows, cols]`` without forming the product (float64)."""
    out = np.empty(rows.shape[0])
    _variant(_entries, rows.shape[0] * U.shape[1])(
        np.ascontiguousarray(U, dtype=np.float64),
        np.ascontiguousarray(V, dtype=np.float64),
        rows,
        cols,
        out,
    )
    return out
