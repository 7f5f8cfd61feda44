"""Learned layer-wise equivariance by Laplace marginal likelihood (van der Ouderaa, Immer, van der
Wilk, NeurIPS 2023, "Learning Layer-wise Equivariances Automatically using Gradients").

Each layer is the sum of a weight-shared convolution and a free dense map
(:class:`TwoPathConv2d`); each path has its own prior precision, learned by online marginal-likelihood
training (:func:`train_by_evidence`). The evidence, unlike the training loss, pays for effective
parameters, so a layer keeps its convolution where translation symmetry explains the data.
:mod:`.shares` defines the reported ``equivariant_share``.
"""

from .network import ACTIVATIONS, TwoPathNetwork
from .shares import LayerShare, layer_shares, path_precisions
from .training import EvidenceTraining, learned_shares, train_by_evidence
from .two_path import PATHS, TwoPathConv2d, zero_path_

__all__ = [
    "ACTIVATIONS",
    "EvidenceTraining",
    "LayerShare",
    "PATHS",
    "TwoPathConv2d",
    "TwoPathNetwork",
    "layer_shares",
    "learned_shares",
    "path_precisions",
    "train_by_evidence",
    "zero_path_",
]
