"""l_p sensitivity sampling: leverage scores, Lewis weights, l_p sensitivities, row sampling
and l_p regression on the sample (Woodruff & Yasuda, "Sharper bounds for l_p sensitivity
sampling", ICML 2023)."""

from .leverage import LEVERAGE_METHODS, leverage_scores
from .lewis import LEWIS_METHODS, LewisWeights, lewis_weights
from .regression import REGRESSION_METHODS, LpRegressionResult, lp_norm, lp_regression
from .sample import SCHEMES, SampledRows, sample_rows
from .sensitivity import SENSITIVITY_METHODS, sensitivities, total_sensitivity

__all__ = [
    "LEVERAGE_METHODS",
    "LEWIS_METHODS",
    "REGRESSION_METHODS",
    "SCHEMES",
    "SENSITIVITY_METHODS",
    "LewisWeights",
    "LpRegressionResult",
    "SampledRows",
    "leverage_scores",
    "lewis_weights",
    "lp_norm",
    "lp_regression",
    "sample_rows",
    "sensitivities",
    "total_sensitivity",
]
