"""Empirical spectral densities of weight matrices: the eigenvalues of ``W^T W``.

Convention (WeightWatcher's default): for ``W`` of shape ``(N, M)`` the ESD is the
``min(N, M)`` squared singular values ``sigma_i^2`` of ``W``, ascending, not divided by ``N``
(``normalize=True`` divides by ``max(N, M)``, giving the eigenvalues of ``W^T W / N`` with
``N >= M``). Power-law exponents do not depend on the scale.

They are computed as the eigenvalues of the smaller Gram matrix, ``W^T W`` or ``W W^T``, in
float64: half the flops of an SVD's bidiagonalisation for the same values, with an absolute
error of about ``u_64 sigma_max^2``: exact to float64 rounding for the tail that the fits use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validation as v
from .._array import array_namespace, backend_name, to_numpy

__all__ = ["esd", "weight_matrices"]


def esd(W: Any, *, normalize: bool = False, dtype: Any = "float64") -> np.ndarray:
    """The eigenvalues of ``W^T W``: ``W``'s squared singular values, ascending.

    Parameters
    ----------
    W : array, shape (N, M) or (B, N, M)
        A weight matrix, or a batch of matrices of one shape, of any array library. Torch
        tensors on a GPU are computed there.
    normalize : bool
        Divide by ``max(N, M)``.
    dtype : {"float64", "float32"}
        The precision of the Gram matrix and its eigenvalues. float32 is 1.5-2x faster and off
        by about ``u_32 sigma_max^2`` (1e-7 relative for the largest eigenvalues): fine for a
        power-law exponent, not for comparing digits with an SVD. Values below
        ``min(N, M) u_32 lambda_max`` are set to zero (they are rounding noise).

    Returns
    -------
    numpy.ndarray, float64, shape (min(N, M),) or (B, min(N, M))

    Examples
    --------
    >>> import numpy as np
    >>> from sketchla.spectral import esd
    >>> W = np.random.default_rng(0).standard_normal((300, 100))
    >>> bool(np.allclose(esd(W), np.sort(np.linalg.svd(W, compute_uv=False) ** 2)))
    True
    """
    W = v.check_array(W, "W")
    if W.ndim not in (2, 3):
        raise ValueError(f"W must be a matrix (N, M) or a batch (B, N, M), got shape {W.shape}")
    if 0 in tuple(W.shape):
        raise ValueError(f"W must not be empty, got shape {tuple(W.shape)}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    N, M = W.shape[-2:]
    xp = array_namespace(W)
    if backend_name(xp) == "torch":
        W = W.detach()
        if W.dtype not in (_torch().float32, _torch().float64):  # bfloat16, float16, float8
            W = W.to(_torch().float32)  # exact: every such value is a float32
    if backend_name(xp) == "torch" and W.device.type != "cpu":
        evals = _torch_gram_eigenvalues(W, dtype)
    else:
        # CPU tensors too: SciPy's syrk and syevr beat torch's matmul and syevd on the CPU
        evals = _numpy_gram_eigenvalues(to_numpy(W), dtype)
    evals = np.maximum(evals, 0.0)  # rounding of the zero eigenvalues of rank-deficient W
    if dtype == "float32" and evals.size:
        # below the float32 Gram's rounding, an eigenvalue is indistinguishable from zero:
        # left in, the zero eigenvalues of a rank-deficient W would pass the fits' 1e-5 cut
        noise = min(N, M) * float(np.finfo(np.float32).eps) * evals.max(axis=-1, keepdims=True)
        evals = np.where(evals < noise, 0.0, evals)
    return evals / max(N, M) if normalize else evals


def _numpy_gram_eigenvalues(W: np.ndarray, dtype: str) -> np.ndarray:
    if W.shape[-2] < W.shape[-1]:
        W = np.swapaxes(W, -1, -2)
    if W.ndim == 2:
        from scipy.linalg import blas, eigvalsh

        # W^T W by a symmetric rank-k update (half the flops of a general product) on W^T in
        # column-major order, made in the same pass as the conversion: BLAS takes it without
        # the copy it would make of a row-major W (measured: 224 ms against 282 ms at
        # 5504 x 2048)
        Wt = np.asarray(W.T, dtype=dtype, order="F")
        syrk = blas.dsyrk if dtype == "float64" else blas.ssyrk
        gram = syrk(1.0, Wt, trans=0, lower=0)
        evals = eigvalsh(gram, lower=False, overwrite_a=True, check_finite=False)
    else:
        from scipy.linalg import eigvalsh

        W = np.asarray(W, dtype=dtype)
        grams = np.swapaxes(W, -1, -2) @ W
        # LAPACK's syevr one matrix at a time: 20 % faster than NumPy's batched syevd
        evals = np.stack([eigvalsh(g, overwrite_a=True, check_finite=False) for g in grams])
    return evals.astype(np.float64)


def _torch_gram_eigenvalues(W: Any, dtype: str) -> np.ndarray:
    import torch

    W = W.detach().to(getattr(torch, dtype))
    if W.shape[-2] < W.shape[-1]:
        W = W.mT
    return torch.linalg.eigvalsh(W.mT @ W).cpu().numpy().astype(np.float64)


def _torch() -> Any:
    import torch

    return torch


def weight_matrices(weight: Any) -> list[Any]:
    """The matrices a layer's weight stands for: itself when 2-D; for a convolution weight
    ``(out, in, k1, ...)``, the ``out x in`` slice at each kernel position (WeightWatcher's
    convention)."""
    weight = v.check_array(weight, "weight")
    if weight.ndim < 2:
        raise ValueError(f"a weight must be at least 2-D, got shape {tuple(weight.shape)}")
    if weight.ndim == 2:
        return [weight]
    xp = array_namespace(weight)
    out, inp = weight.shape[:2]
    flat = xp.reshape(weight, (out, inp, -1))
    return [flat[:, :, k] for k in range(flat.shape[2])]
