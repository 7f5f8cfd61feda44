"""Bayesian-optimisation surrogates built on the Laplace engine.

``fit_lla_model`` trains an MLP by MAP with online marginal-likelihood tuning and returns
an :class:`LLAModel`, a BoTorch ``Model`` whose posterior is the linearised Laplace
predictive (Kristiadi et al. 2023): the function-space (NTK) form while the data set is
smaller than the parameter count, the parametric (K-FAC / full) form above.
"""

from .config import LLAConfig
from .function_space_evidence import function_space_log_evidence, tune_function_space
from .input_encoding import InputEncoder
from .lla_fit import assemble_lla_model, compatible, fit_lla_model
from .lla_model import LLAModel
from .lla_predictive import FunctionSpacePredictive, LLAPredictive, ParametricPredictive
from .map_training import map_loss, train_map
from .tangent_mlp import ACTIVATIONS, TangentFeatures, TangentMLP, gram_blocks, tangent_kernel

__all__ = [
    "ACTIVATIONS",
    "FunctionSpacePredictive",
    "InputEncoder",
    "LLAConfig",
    "LLAModel",
    "LLAPredictive",
    "ParametricPredictive",
    "TangentFeatures",
    "TangentMLP",
    "assemble_lla_model",
    "compatible",
    "fit_lla_model",
    "function_space_log_evidence",
    "gram_blocks",
    "map_loss",
    "tangent_kernel",
    "train_map",
    "tune_function_space",
]
