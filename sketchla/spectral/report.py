"""``analyze``: the spectral metrics of every weight matrix of a model, as a report.

A model is a torch ``nn.Module`` (its linear and convolution layers), a state dict (a mapping of
names to arrays or tensors: every floating entry named ``*weight`` with at least two
dimensions), or the path of a ``.safetensors`` file (read with ``safetensors`` alone) or of a
``.pt`` / ``.pth`` / ``.bin`` checkpoint (read with ``torch.load(weights_only=True)``: tensors
only, no code; a ``"state_dict"`` or ``"model"`` entry holding the weights is looked into).
A module contributes its linear, convolution and embedding layers (and HuggingFace's ``Conv1D``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _validation as v
from .esd import esd, weight_matrices
from .farms import farms_esd, window_shape
from .metrics import spectral_metrics
from .powerlaw import ZERO_THRESHOLD

__all__ = ["SpectralReport", "analyze"]

#: Metrics averaged by :meth:`SpectralReport.summary`.
SUMMARY_METRICS = (
    "alpha",
    "alpha_weighted",
    "log_norm",
    "log_spectral_norm",
    "log_alpha_norm",
    "stable_rank",
    "mp_softrank",
)


@dataclass
class SpectralReport:
    """One row of metrics per weight matrix (see :func:`analyze`).

    Attributes
    ----------
    rows : list of dict
        ``name``, ``shape`` (of the weight), ``N``, ``M`` (of its matrices, ``N >= M``),
        ``matrices`` (1, or the kernel positions of a convolution), ``farms``, then the metrics
        of :func:`~sketchla.spectral.spectral_metrics`.
    evals : dict of str to numpy.ndarray
        The ESD each row was fitted on.
    skipped : list of str
        Weights left out, with why.
    """

    rows: list[dict[str, Any]]
    evals: dict[str, np.ndarray] = field(repr=False)
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def summary(self) -> dict[str, float]:
        """The mean of each metric over the layers."""
        if not self.rows:
            raise ValueError("the report has no layers to summarise")
        return {key: float(np.mean([row[key] for row in self.rows])) for key in SUMMARY_METRICS} | {
            "layers": len(self.rows)
        }

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame`` (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("SpectralReport.to_pandas needs pandas") from exc
        return pd.DataFrame(self.rows)

    def to_markdown(self, columns: tuple[str, ...] | None = None) -> str:
        """A markdown table of ``columns`` (default: name, shape and the main metrics)."""
        columns = columns or (
            "name", "N", "M", "alpha", "alpha_weighted", "log_norm", "stable_rank", "n_tail",
        )  # fmt: skip
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in self.rows:
            lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """The rows as CSV text."""
        import csv
        import io

        out = io.StringIO()
        fields = list(self.rows[0]) if self.rows else []
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _plain(v) for k, v in row.items()})
        return out.getvalue()

    def to_json(self) -> str:
        """The rows as a JSON list (a non-finite value, e.g. the alpha of a degenerate fit, as
        ``null``)."""
        return json.dumps(
            [{k: _finite_or_none(_plain(v)) for k, v in row.items()} for row in self.rows]
        )

    def plot(self, name: str | None = None, *, ax: Any = None) -> Any:
        """The ESD of one layer (default: the first) on log-log axes with its fitted power-law
        tail; returns the matplotlib axes."""
        import matplotlib.pyplot as plt

        if not self.rows:
            raise ValueError("the report has no layers to plot")
        row = self.rows[0] if name is None else self._row(name)
        evals = self.evals[row["name"]]
        evals = evals[evals > ZERO_THRESHOLD]  # what the fit saw
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        bins = np.logspace(np.log10(evals.min()), np.log10(evals.max()), 60)
        ax.hist(evals, bins=bins, density=True, alpha=0.5, label="ESD")
        xmin, alpha = row["xmin"], row["alpha"]
        tail = np.logspace(np.log10(xmin), np.log10(evals.max()), 50)
        share = row["n_tail"] / evals.size  # the tail's share of the density
        ax.plot(
            tail, share * (alpha - 1) / xmin * (tail / xmin) ** -alpha, "r-",
            label=f"power law, alpha = {alpha:.2f}",
        )  # fmt: skip
        ax.axvline(xmin, color="r", linestyle=":", label="xmin")
        ax.set(xscale="log", yscale="log", xlabel="eigenvalue", ylabel="density", title=row["name"])
        ax.legend()
        return ax

    def _row(self, name: str) -> dict[str, Any]:
        for row in self.rows:
            if row["name"] == name:
                return row
        raise KeyError(f"no layer named {name!r} in the report")


def analyze(
    model: Any,
    *,
    farms: bool = False,
    xmin: str | float = "ks",
    min_size: int = 10,
    rows: int = 2000,
    aspect_ratio: float = 1.0,
    windows: int = 15,
    dtype: str = "float64",
    progress: bool = False,
) -> SpectralReport:
    """The spectral metrics of every weight matrix of ``model``.

    Parameters
    ----------
    model : torch.nn.Module, mapping of names to arrays, or str / Path
        See the module docstring.
    farms : bool
        Fit FARMS's pooled ESD of fixed-aspect-ratio windows (``rows``, ``aspect_ratio``,
        ``windows``; see :func:`~sketchla.spectral.farms_esd`) instead of the plain ESD.
    xmin : str or float
        See :func:`~sketchla.spectral.fit_powerlaw`.
    min_size : int
        Matrices with fewer rows or columns than this are skipped (too few eigenvalues to fit).
    dtype : {"float64", "float32"}
        Precision of the eigenvalues (see :func:`~sketchla.spectral.esd`).
    progress : bool
        Show a progress bar over the layers.

    Returns
    -------
    SpectralReport

    Examples
    --------
    >>> import torch
    >>> from sketchla.spectral import analyze
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> layers = [torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)]
    >>> model = torch.nn.Sequential(*layers)
    >>> report = analyze(model)
    >>> [row["name"] for row in report.rows]
    ['0.weight', '2.weight']
    >>> round(report.rows[0]["stable_rank"], 1) > 1
    True
    """
    min_size = v.check_int(min_size, "min_size", minimum=1)
    weights = _weights(model)
    if not weights:
        raise ValueError("the model has no weight matrices (2-D or convolution weights)")
    from tqdm import tqdm

    report = SpectralReport([], {}, [])
    for name, weight in tqdm(weights.items(), desc="layers", disable=not progress):
        matrices = weight_matrices(weight)
        N, M = max(matrices[0].shape), min(matrices[0].shape)
        if min_size > M:
            report.skipped.append(f"{name}: {M} < min_size={min_size} rows or columns")
            continue
        if farms:
            evals = farms_esd(
                weight, rows=rows, aspect_ratio=aspect_ratio, windows=windows, dtype=dtype
            )
        elif len(matrices) == 1:
            evals = esd(matrices[0], dtype=dtype)
        else:
            evals = np.sort(esd(_stack(matrices), dtype=dtype).reshape(-1))
        # the Marchenko-Pastur law of what was fitted: the windows' shape under FARMS
        fitted = window_shape(*matrices[0].shape, rows, aspect_ratio) if farms else (N, M)
        try:
            metrics = spectral_metrics(evals, fitted, xmin=xmin)
        except ValueError as exc:  # e.g. all eigenvalues numerically zero
            report.skipped.append(f"{name}: {exc}")
            continue
        row = {
            "name": name,
            "shape": tuple(int(s) for s in weight.shape),
            "N": N,
            "M": M,
            "matrices": len(matrices),
            "farms": farms,
        }
        report.rows.append(row | metrics)
        report.evals[name] = evals
    return report


def _stack(matrices: list) -> Any:
    from .._array import array_namespace

    return array_namespace(matrices[0]).stack(matrices)


def _weights(model: Any) -> dict[str, Any]:
    """The weight tensors of ``model``, by name."""
    if isinstance(model, (str, Path)):
        return _weights(_load(Path(model)))
    if isinstance(model, Mapping):
        out = {}
        for name, value in model.items():
            if not str(name).endswith("weight"):
                continue
            array = value.detach() if hasattr(value, "detach") else value
            shape = getattr(array, "shape", ())
            dtype = str(getattr(array, "dtype", ""))
            if len(shape) >= 2 and "float" in dtype:
                out[str(name)] = array
        return out
    try:
        import torch
    except ImportError:  # pragma: no cover - a torch model needs torch
        torch = None
    if torch is not None and isinstance(model, torch.nn.Module):
        kinds = (
            torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Embedding,
        )  # fmt: skip
        return {
            f"{name}.weight" if name else "weight": module.weight.detach()
            for name, module in model.named_modules()
            # HuggingFace's GPT-2 Conv1D is a linear layer with the weight transposed
            if isinstance(module, kinds) or type(module).__name__ == "Conv1D"
        }
    raise TypeError(
        "model must be a torch.nn.Module, a state dict (mapping of names to arrays) or the "
        f"path of a .safetensors / .pt checkpoint, got {type(model).__name__}"
    )


def _load(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        try:
            # through torch when it is there: NumPy has no bfloat16, most LLM checkpoints' dtype
            try:
                from safetensors.torch import load_file
            except ImportError:
                from safetensors.numpy import load_file
        except ImportError as exc:
            raise ImportError("reading .safetensors files needs the safetensors package") from exc
        try:
            return load_file(str(path))
        except Exception as exc:
            raise ValueError(f"{path} is not a readable .safetensors file: {exc}") from exc
    if suffix in (".pt", ".pth", ".bin"):
        import pickle

        import torch

        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
            raise ValueError(
                f"{path} is not a checkpoint of tensors that loads safely (weights_only=True): "
                f"{exc}"
            ) from exc
        for key in ("state_dict", "model"):  # common wrappers of a training checkpoint
            if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
                state = state[key]
                break
        if not isinstance(state, Mapping):
            raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict")
        return state
    raise ValueError(
        f"unknown checkpoint format {suffix!r}: expected .safetensors, .pt, .pth or .bin"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _cell(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, float):
        return f"{value:.3f}" if math.isfinite(value) else str(value)
    return str(value)
