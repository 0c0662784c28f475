"""Portable (Array-API) half-steps of alternating minimization, batched over targets.

Targets are taken in chunks; each chunk's observations are gathered into a zero-padded
``(batch, longest, k)`` block, so every operation is a batched matrix product or solve that
Torch and CuPy run on the GPU. These are also the references the numba kernels are tested
against. Arguments are as in :mod:`sketchla._array.kernels._altmin_numba`; index arrays are in
``xp``'s namespace and on ``F``'s device, and the computation keeps ``F``'s dtype.
"""

from __future__ import annotations

from typing import Any

__all__ = ["altmin_exact", "altmin_robust", "entries_of_product"]

_BLOCK_ELEMENTS = 1 << 23  # gathered values per chunk (64 MiB in float64)


def _chunks(ptr: Any, k: int, xp: Any):
    from ..namespace import to_numpy

    host = to_numpy(ptr)
    counts = (host[1:] - host[:-1]).tolist()
    n_targets = len(counts)
    start = 0
    while start < n_targets:
        stop = start + 1
        longest = counts[start]
        # grow the chunk while the padded block stays within the budget
        while stop < n_targets:
            longest_next = max(longest, counts[stop])
            if (stop + 1 - start) * max(longest_next, 1) * k > _BLOCK_ELEMENTS:
                break
            longest, stop = longest_next, stop + 1
        yield start, stop, max(longest, 1)
        start = stop


def _gather(F: Any, ptr: Any, positions: Any, values: Any, start: int, stop: int, longest: int, xp):
    dev = F.device
    lo = ptr[start:stop]
    counts = ptr[start + 1 : stop + 1] - lo
    slot = xp.reshape(xp.arange(longest, dtype=ptr.dtype, device=dev), (1, -1))
    valid = slot < xp.reshape(counts, (-1, 1))
    where = xp.reshape(lo, (-1, 1)) + slot
    where = xp.where(valid, where, xp.zeros_like(where))
    where = xp.clip(where, 0, max(positions.shape[0] - 1, 0))
    flat = xp.reshape(where, (-1,))
    mask = xp.astype(valid, F.dtype)
    gathered = xp.take(F, xp.take(positions, flat, axis=0), axis=0)
    A = xp.reshape(gathered, (stop - start, longest, -1))
    A = A * mask[..., None]
    b = xp.reshape(xp.astype(xp.take(values, flat, axis=0), F.dtype), (stop - start, longest))
    return A, b * mask, flat, valid, counts


def _normal_solve(G: Any, r: Any, xp: Any) -> Any:
    """Minimum-norm solutions of the batched normal equations (pseudo-inverse of ``G``)."""
    return xp.squeeze(xp.linalg.pinv(G) @ r[..., None], axis=-1)


def altmin_exact(F, ptr, positions, values, ridge, *, xp):
    k = F.shape[1]
    out = xp.zeros((ptr.shape[0] - 1, k), dtype=F.dtype, device=F.device)
    eye = xp.eye(k, dtype=F.dtype, device=F.device)
    for start, stop, longest in _chunks(ptr, k, xp):
        A, b, *_ = _gather(F, ptr, positions, values, start, stop, longest, xp)
        At = xp.matrix_transpose(A)
        G = At @ A + ridge * eye
        r = xp.squeeze(At @ b[..., None], axis=-1)
        out[start:stop, ...] = _normal_solve(G, r, xp)
    status = xp.zeros(out.shape[0], dtype=xp.int8, device=F.device)
    return out, status


def altmin_robust(
    F, ptr, positions, values, ridge, x0, hrow, hsign, s, shared, tol, maxiter, *, xp
):
    """Preconditioned conjugate gradients, all targets of a chunk advanced together; each stops
    (its step size set to zero) once its own criterion holds. ``s > 0``: per-target CountSketch
    preconditioners; ``s = 0``: the shared lower factor ``shared``, or none if it is empty."""
    k = F.shape[1]
    dev = F.device
    n_targets = ptr.shape[0] - 1
    out = xp.zeros((n_targets, k), dtype=F.dtype, device=dev)
    iterations = xp.zeros(n_targets, dtype=xp.int32, device=dev)
    eye = xp.eye(k, dtype=F.dtype, device=dev)
    scatter = _scatter_add(xp)
    for start, stop, longest in _chunks(ptr, k, xp):
        A, b, flat, _, counts = _gather(F, ptr, positions, values, start, stop, longest, xp)
        batch = stop - start
        At = xp.matrix_transpose(A)
        small = (counts <= s) | (counts < k)  # solved exactly (no sketch is smaller)
        if s > 0:  # the sketch S A of each target: rows hashed to s buckets, signed
            h = xp.reshape(xp.take(hrow, flat, axis=0), (batch, longest))
            sg = xp.reshape(xp.astype(xp.take(hsign, flat, axis=0), F.dtype), (batch, longest))
            target = xp.reshape(xp.arange(batch, dtype=h.dtype, device=dev), (-1, 1))
            bucket = xp.reshape(target * s + h, (-1,))
            SA = scatter(bucket, xp.reshape(A * sg[..., None], (-1, k)), batch * s)
            SA = xp.reshape(SA, (batch, s, k))
            sketched = xp.matrix_transpose(SA) @ SA + ridge * eye
        elif shared.shape[0]:
            sketched = xp.broadcast_to(shared @ xp.matrix_transpose(shared), (batch, k, k))
        else:
            sketched = xp.broadcast_to(eye, (batch, k, k))
        P = xp.where(xp.reshape(small, (-1, 1, 1)), At @ A + ridge * eye, sketched)
        P_inv = xp.linalg.pinv(P)
        x = xp.astype(x0[start:stop, ...], F.dtype)
        res = b - xp.squeeze(A @ x[..., None], axis=-1)
        g = xp.squeeze(At @ res[..., None], axis=-1) - ridge * x
        z = xp.squeeze(P_inv @ g[..., None], axis=-1)
        p = z
        gz = xp.sum(g * z, axis=-1)
        stop_at = tol * tol * gz
        steps = xp.zeros(batch, dtype=xp.int32, device=dev)
        for _ in range(maxiter):
            active = (gz > stop_at) & (gz > 0) & ~small
            if not bool(xp.any(active)):
                break
            Ap = xp.squeeze(A @ p[..., None], axis=-1)
            denom = xp.sum(Ap * Ap, axis=-1) + ridge * xp.sum(p * p, axis=-1)
            safe = xp.where(active & (denom > 0), denom, xp.ones_like(denom))
            alpha = xp.where(active & (denom > 0), gz / safe, xp.zeros_like(gz))
            x = x + alpha[:, None] * p
            g = g - alpha[:, None] * (xp.squeeze(At @ Ap[..., None], axis=-1) + ridge * p)
            z = xp.squeeze(P_inv @ g[..., None], axis=-1)
            gz_new = xp.sum(g * z, axis=-1)
            beta = xp.where(active, gz_new / xp.where(gz > 0, gz, xp.ones_like(gz)), 0 * gz)
            p = xp.where(active[:, None], z + beta[:, None] * p, p)
            gz = xp.where(active, gz_new, gz)
            steps = steps + xp.astype(active, xp.int32)
        # targets that fit the sketch are solved exactly
        r = xp.squeeze(At @ b[..., None], axis=-1)
        exact = _normal_solve(P, r, xp)
        x = xp.where(xp.reshape(small, (-1, 1)), exact, x)
        x = xp.where(xp.reshape(counts == 0, (-1, 1)), xp.zeros_like(x), x)
        out[start:stop, ...] = x
        iterations[start:stop] = steps
    status = xp.zeros(n_targets, dtype=xp.int8, device=dev)
    return out, status, iterations


def entries_of_product(U, V, rows, cols, *, xp):
    out = []
    step = max(1, _BLOCK_ELEMENTS // max(U.shape[1], 1))
    for lo in range(0, rows.shape[0], step):
        Ur = xp.take(U, rows[lo : lo + step], axis=0)
        Vc = xp.take(V, cols[lo : lo + step], axis=0)
        out.append(xp.sum(Ur * Vc, axis=1))
    return xp.concat(out) if out else xp.zeros(0, dtype=U.dtype, device=U.device)


def _scatter_add(xp: Any):
    from .registry import kernel

    def scatter(indices: Any, rows: Any, n_rows: int) -> Any:
        return kernel("scatter_add", xp)(indices, rows, n_rows, xp=xp)

    return scatter
