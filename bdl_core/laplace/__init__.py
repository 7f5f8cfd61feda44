"""Laplace approximations of neural networks: posteriors, evidence, tuning, predictive.

The front is one class per structure (``KronLaplace``, ``DiagLaplace``, ``FullLaplace``,
``FunctionLaplace``) over the shared engine ``LaplacePosterior``; ``Laplace(...)`` picks the
class by structure name. The posterior precision structures ("full", "diag",
"kron", "function") share the :class:`PosteriorPrecision` interface, which the
marginal likelihood and the linearised (GLM) predictive use.
"""

from .data_fit import MapDataFit
from .diag_precision import DiagPrecision
from .full_precision import FullPrecision
from .function_precision import FunctionPrecision
from .hyperparameter_tuning import maximise_evidence, optimize_hyperparameters
from .kron_precision import KronFactorisation, KronPrecision
from .laplace import LaplacePosterior
from .marginal_likelihood import laplace_log_marginal_likelihood
from .posteriors import POSTERIORS, DiagLaplace, FullLaplace, FunctionLaplace, KronLaplace, Laplace
from .precision import PosteriorPrecision
from .predictive import (
    glm_joint_predictive,
    glm_predictive,
    mc_probabilities,
    probit_probabilities,
    sampled_network_outputs,
    summarise_output_samples,
)
from .prior_values import prior_diagonal_from_values
from .validation_tuning import (
    default_prior_grid,
    optimize_prior_precision_on_validation,
    validation_negative_log_likelihood,
    validation_negative_log_likelihoods,
)

__all__ = [
    "POSTERIORS",
    "DiagLaplace",
    "DiagPrecision",
    "FullLaplace",
    "FunctionLaplace",
    "KronLaplace",
    "LaplacePosterior",
    "FullPrecision",
    "FunctionPrecision",
    "KronFactorisation",
    "KronPrecision",
    "Laplace",
    "MapDataFit",
    "PosteriorPrecision",
    "default_prior_grid",
    "glm_joint_predictive",
    "glm_predictive",
    "laplace_log_marginal_likelihood",
    "mc_probabilities",
    "maximise_evidence",
    "optimize_hyperparameters",
    "optimize_prior_precision_on_validation",
    "prior_diagonal_from_values",
    "probit_probabilities",
    "sampled_network_outputs",
    "summarise_output_samples",
    "validation_negative_log_likelihood",
    "validation_negative_log_likelihoods",
]
