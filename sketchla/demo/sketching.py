"""Demo section: every sketching family beside its peer, timed live, with its distortion."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ..sketch import sketch_operator
from . import DemoContext, SectionResult, best_time

TITLE = "Sketching operators against their peers"


def _distortion(sketched_basis: np.ndarray) -> float:
    sigma = np.linalg.svd(sketched_basis, compute_uv=False)
    return float(max(sigma[0] - 1, 1 - sigma[-1]))


def run(context: DemoContext) -> SectionResult:
    n, d, m = (2**15, 64, 256) if context.quick else (2**18, 256, 1024)
    repeats = 1 if context.quick else 2
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d))
    U = np.linalg.qr(rng.standard_normal((n, 16)))[0]
    one_pass = best_time(lambda: A.sum(0), repeats)
    cwt = best_time(lambda: scipy.linalg.clarkson_woodruff_transform(A, m, rng=0), repeats)
    gaussian_peer = best_time(lambda: (rng.standard_normal((m, n)) / np.sqrt(m)) @ A, 1)
    peers = {
        "countsketch": ("scipy clarkson_woodruff_transform", cwt),
        "saso": ("one pass over A (A.sum(0))", one_pass),
        "srht": ("NumPy Gaussian: standard_normal((m, n)) @ A", gaussian_peer),
        "srft": ("NumPy Gaussian: standard_normal((m, n)) @ A", gaussian_peer),
        "gaussian": ("NumPy Gaussian: standard_normal((m, n)) @ A", gaussian_peer),
        "rademacher": ("NumPy Gaussian: standard_normal((m, n)) @ A", gaussian_peer),
        "uniform_rows": ("one pass over A (A.sum(0))", one_pass),
    }
    rows = []
    for kind, (peer, peer_seconds) in peers.items():
        S = sketch_operator(kind, m, n, seed=0)
        seconds = best_time(lambda S=S: S @ A, 1 if kind in ("gaussian", "rademacher") else repeats)
        rows.append(
            {
                "family": kind,
                "input": f"dense {n} x {d}",
                "sketchla (ms)": f"{1e3 * seconds:.1f}",
                "peer": peer,
                "peer (ms)": f"{1e3 * peer_seconds:.1f}",
                "peer / sketchla": f"{peer_seconds / seconds:.2f}",
                "distortion (d=16)": f"{_distortion(S @ U):.3f}",
            }
        )
    wide = A.T.copy()
    S = sketch_operator("very_sparse", m, n, seed=0)
    seconds = best_time(lambda: S.apply(wide, axis=1), repeats)
    row = {
        "family": "very_sparse",
        "input": f"dense {d} x {n} (axis=1)",
        "sketchla (ms)": f"{1e3 * seconds:.1f}",
        "distortion (d=16)": f"{_distortion(S @ U):.3f}",
    }
    try:
        from sklearn.random_projection import SparseRandomProjection

        peer_seconds = best_time(
            lambda: SparseRandomProjection(m, random_state=0).fit_transform(wide), 1
        )
        row.update(
            {
                "peer": "scikit-learn SparseRandomProjection",
                "peer (ms)": f"{1e3 * peer_seconds:.1f}",
                "peer / sketchla": f"{peer_seconds / seconds:.2f}",
            }
        )
    except ImportError:
        row.update({"peer": "scikit-learn not installed", "peer (ms)": "-", "peer / sketchla": "-"})
    rows.append({key: row[key] for key in rows[0]})
    rows_sparse, cols_sparse = (10**5, 10**3) if context.quick else (10**6, 10**4)
    B = sp.random_array((rows_sparse, cols_sparse), density=1e-3, format="csr", rng=0)
    cwt_sparse = best_time(lambda: scipy.linalg.clarkson_woodruff_transform(B, m, rng=0), repeats)
    for kind in ("countsketch", "saso"):
        S = sketch_operator(kind, m, rows_sparse, seed=0)
        seconds = best_time(lambda S=S: S @ B, repeats)
        rows.append(
            {
                "family": kind,
                "input": f"scipy CSR {rows_sparse} x {cols_sparse}, density 1e-3",
                "sketchla (ms)": f"{1e3 * seconds:.1f}",
                "peer": "scipy clarkson_woodruff_transform",
                "peer (ms)": f"{1e3 * cwt_sparse:.1f}",
                "peer / sketchla": f"{cwt_sparse / seconds:.2f}",
                "distortion (d=16)": "-",
            }
        )
    notes = [
        f"m = {m}; one pass over A (A.sum(0)) takes {1e3 * one_pass:.1f} ms here.",
        "peer / sketchla > 1 means sketchla is faster; distortion = max |sigma(S U) - 1| for "
        "an orthonormal U with 16 columns.",
    ]
    return SectionResult(TITLE, rows, [], notes)
