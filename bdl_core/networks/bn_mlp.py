"""Batch-normalised MLPs: the bounded-gradient construction of Meterez et al. (ICLR 2024, "Towards
Training Without Depth Limits: Batch Normalization Without Gradient Explosion") and the standard
BN-ReLU MLP it is compared with.

* :func:`bn_mlp` (the paper's network): every hidden layer is ``h <- BN(act_l(W_l h))`` with W_l
  ORTHOGONALLY initialised (``nn.init.orthogonal_``, no bias: BN removes it) and BN without learned
  scale or shift. With ``activation="linear"`` this is the network the paper proves has bounded
  first-layer gradients at any depth for linearly independent inputs. For a non-linear activation
  the paper shapes it so that it gets closer to the identity with depth; here
  ``act_l(x) = x + c_l (act(x) - x)`` with ``c_l = l ** -shaping_exponent`` (l = 1, 2, ... the
  hidden layer), so the summed non-linearity ``sum c_l^2`` stays finite for an exponent > 1/2.
  This schedule is ours, in the spirit of the paper's shaping (``shaping_exponent=0`` turns shaping
  off: the plain activation in every layer).
* :func:`standard_bn_mlp`: ``h <- ReLU(BN(W_l h + b_l))`` with PyTorch's default (i.i.d. uniform)
  initialisation, the mean-field setting in which gradients explode with depth (Yang et al. 2019).

Both end in a ``nn.Linear`` head. Batch norm is written here (:class:`BatchNorm`) instead of using
``nn.BatchNorm1d`` only to fall back to the running statistics for a training batch of one row
(the last mini-batch of an epoch can be that small), where ``nn.BatchNorm1d`` raises.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

ACTIVATIONS = ("linear", "tanh", "sin", "relu")


class BatchNorm(nn.Module):
    """Batch normalisation of (N, D) features without affine parameters.

    Training mode normalises with the batch mean and (biased) variance and updates running
    estimates; evaluation mode (or a training batch of one row) uses the running estimates.

    Args:
        num_features: D.
        eps: Added to the variance.
        momentum: Weight of the new batch in the running estimates.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        """(N, D) normalised features of x (N, D)."""
        use_batch = self.training and x.shape[0] > 1
        return F.batch_norm(x, self.running_mean, self.running_var, training=use_batch, momentum=self.momentum,
                            eps=self.eps)


class ShapedActivation(nn.Module):
    """``x + c (act(x) - x)``: ``act`` blended towards the identity with weight c in [0, 1].

    Args:
        activation: One of :data:`ACTIVATIONS` (``"linear"``: the identity).
        gain: c (1: the plain activation, 0: the identity).
    """

    def __init__(self, activation: str, gain: float = 1.0) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}.")
        if not 0.0 <= gain <= 1.0:
            raise ValueError(f"gain must be in [0, 1], got {gain}.")
        self.activation, self.gain = activation, float(gain)

    def forward(self, x: Tensor) -> Tensor:
        """x (any shape, e.g. (N, D)) mapped elementwise, same shape."""
        if self.activation == "linear" or self.gain == 0.0:
            return x
        act = {"tanh": torch.tanh, "sin": torch.sin, "relu": torch.relu}[self.activation](x)
        return act if self.gain == 1.0 else x + self.gain * (act - x)

    def extra_repr(self) -> str:
        return f"{self.activation!r}, gain={self.gain:.4g}"


def shaping_gain(layer: int, exponent: float) -> float:
    """c_l = l ** -exponent for the 1-based hidden layer l (1.0 for exponent 0)."""
    return 1.0 if exponent == 0 else float(layer) ** -exponent


def bn_mlp(in_features: int, out_features: int, width: int, depth: int, activation: str = "linear",
           shaping_exponent: float = 1.0, dtype: torch.dtype | None = None,
           device: torch.device | str | None = None) -> nn.Sequential:
    """The paper's network: ``depth`` hidden layers ``BN(act_l(W_l h))``, orthogonal W_l, then a head.

    Args:
        in_features, out_features: Input and output widths.
        width: Hidden width (the first layer maps ``in_features`` to it, semi-orthogonally).
        depth: Number of hidden (linear + BN) layers, at least 1.
        activation: One of :data:`ACTIVATIONS`.
        shaping_exponent: Shaping schedule exponent (module docstring); ignored for ``"linear"``.
        dtype, device: Of the parameters (the orthogonal initialisation is done in ``dtype``, so a
            float64 network is orthogonal to float64 precision).
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be positive, got depth={depth}, width={width}.")
    if shaping_exponent < 0 or not math.isfinite(shaping_exponent):
        raise ValueError(f"shaping_exponent must be finite and >= 0, got {shaping_exponent}.")
    layers: list[nn.Module] = []
    size = in_features
    for layer in range(1, depth + 1):
        linear = nn.Linear(size, width, bias=False, dtype=dtype, device=device)
        nn.init.orthogonal_(linear.weight)
        layers += [linear, ShapedActivation(activation, shaping_gain(layer, shaping_exponent)), BatchNorm(width)]
        size = width
    layers.append(nn.Linear(width, out_features, dtype=dtype, device=device))
    return nn.Sequential(*layers).to(dtype=dtype, device=device)


def standard_bn_mlp(in_features: int, out_features: int, width: int, depth: int) -> nn.Sequential:
    """The standard BN-ReLU MLP: ``depth`` hidden layers ``ReLU(BN(W_l h + b_l))``, default init, a head."""
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be positive, got depth={depth}, width={width}.")
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        layers += [nn.Linear(size, width), BatchNorm(width), nn.ReLU()]
        size = width
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)
