"""Marginal-likelihood training and stochastic evidence bounds for Laplace networks.

* :func:`train`: online marginal-likelihood training (Immer et al. 2021, Algorithm 1):
  MAP steps on the log joint with the current hyperparameters, interleaved with Adam
  steps on the log prior precisions (and log sigma) that maximise the Laplace evidence.
* :func:`stochastic_log_marginal_likelihood`: mini-batch (partition) lower bounds on
  the function-space Laplace evidence (Immer et al. 2023).
"""

from .bounds import block_log_determinant, partition_indices, stochastic_log_marginal_likelihood
from .cancellation import TrainingCancelled
from .history import MarglikHistory
from .map_objective import batch_negative_log_likelihood, map_objective
from .training import train

__all__ = [
    "MarglikHistory",
    "TrainingCancelled",
    "batch_negative_log_likelihood",
    "block_log_determinant",
    "map_objective",
    "partition_indices",
    "stochastic_log_marginal_likelihood",
    "train",
]
