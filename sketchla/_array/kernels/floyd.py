"""Floyd's algorithm for ``k`` distinct positions out of ``m``, one sample per row of ``u``.

For ``t = m - k, ..., m - 1`` (step ``s``), draw ``r = floor(u[:, s] * (t + 1))``, uniform on
``[0, t]``; keep ``r`` unless an earlier step already chose it, else keep ``t``. Every ``k``-subset
of ``[0, m)`` is equally likely (R. W. Floyd; J. Bentley, "Programming pearls: a sample of
brilliance", CACM 1987). The uniforms are inputs, so the sample is a pure function of them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["floyd_sample"]


def floyd_sample(u: Any, m: int, *, xp: Any) -> Any:
    """Portable version: vectorised over the rows of the ``(n, k)`` uniforms ``u``."""
    k = u.shape[1]
    chosen = []
    for step in range(k):
        top = m - k + step
        r = xp.astype(xp.floor(u[:, step] * (top + 1)), xp.int64)
        if chosen:
            taken = xp.any(xp.stack(chosen, axis=1) == xp.reshape(r, (-1, 1)), axis=1)
            r = xp.where(taken, xp.asarray(top, dtype=xp.int64, device=u.device), r)
        chosen.append(r)
    return xp.stack(chosen, axis=1)
