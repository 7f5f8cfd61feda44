"""Network constructions from the papers the project builds on (pure PyTorch).

* :func:`bn_mlp`: the batch-normalised MLP with orthogonal weights and bounded gradients at any depth
  (Meterez et al., ICLR 2024); :func:`standard_bn_mlp`: the BN-ReLU MLP it is compared with.
* :func:`first_layer_gradient_norm`: the gradient norm the paper bounds.
"""

from .bn_mlp import ACTIVATIONS, BatchNorm, ShapedActivation, bn_mlp, shaping_gain, standard_bn_mlp
from .gradients import first_layer_gradient_norm, independent_inputs

__all__ = [
    "ACTIVATIONS",
    "BatchNorm",
    "ShapedActivation",
    "bn_mlp",
    "first_layer_gradient_norm",
    "independent_inputs",
    "shaping_gain",
    "standard_bn_mlp",
]
