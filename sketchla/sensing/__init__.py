"""Matrix sensing: measurement operators, factored gradient descent (symmetric and asymmetric,
exact- and over-parameterized) and the one-step rebalancing of Xiong, Ding & Du (ICLR 2024)."""

from .experiment import (
    PARAMETERIZATIONS,
    SensingExperiment,
    fit_linear_rate,
    fit_power_law,
    planted_low_rank,
    plot_error_histories,
    run_sensing_experiment,
)
from .gd import SensingResult, asymmetric_gd, rebalance, symmetric_gd
from .operators import (
    OPERATOR_KINDS,
    GaussianMeasurements,
    MeasurementOperator,
    RankOneMeasurements,
    SketchedMeasurements,
    degrees_of_freedom,
    measurement_operator,
)
from .rip import RIPEstimate, rip_constant

__all__ = [
    "OPERATOR_KINDS",
    "PARAMETERIZATIONS",
    "GaussianMeasurements",
    "MeasurementOperator",
    "RIPEstimate",
    "RankOneMeasurements",
    "SensingExperiment",
    "SensingResult",
    "SketchedMeasurements",
    "asymmetric_gd",
    "degrees_of_freedom",
    "fit_linear_rate",
    "fit_power_law",
    "measurement_operator",
    "planted_low_rank",
    "plot_error_histories",
    "rebalance",
    "rip_constant",
    "run_sensing_experiment",
    "symmetric_gd",
]
