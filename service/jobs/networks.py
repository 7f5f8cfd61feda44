"""Builders of the declared architectures (:mod:`service.jobs.model_specs`) as ``torch.nn`` modules.

Every network takes flat inputs (N, D) and returns (N, C) outputs, so the data pipeline, the
Laplace engine and the saved weights never depend on the input's image shape: the CNN reshapes
its inputs itself with a leading ``nn.Unflatten``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from service.jobs.model_specs import BNMLPSpec, CNNSpec, MLPSpec, ModelSpec

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}


def build_network(spec: ModelSpec, n_features: int, n_outputs: int, *, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu", seed: int | None = None) -> nn.Sequential:
    """A freshly initialised network mapping (N, n_features) inputs to (N, n_outputs).

    Args:
        spec: the declared architecture.
        n_features: D, the input width.
        n_outputs: C, the number of outputs (classes, or 1 for regression).
        dtype, device: of the parameters.
        seed: seeds the initialisation (None: the global generator).

    Raises:
        ValueError: the CNN's image shape does not match ``n_features``.
    """
    if seed is not None:
        torch.manual_seed(seed)
    if isinstance(spec, MLPSpec):
        network = _mlp(spec, n_features, n_outputs)
    elif isinstance(spec, CNNSpec):
        network = _cnn(spec, n_features, n_outputs)
    elif isinstance(spec, BNMLPSpec):
        from bdl_core.networks import bn_mlp

        network = bn_mlp(n_features, n_outputs, spec.width, spec.depth, spec.activation, spec.shaping_exponent,
                         dtype=dtype)
    else:  # pragma: no cover - the spec union is closed
        raise TypeError(f"unknown model spec {type(spec).__name__}")
    return network.to(device=device, dtype=dtype)


def _mlp(spec: MLPSpec, n_features: int, n_outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for hidden in spec.hidden:
        layers += [nn.Linear(width, hidden), _ACTIVATIONS[spec.activation]()]
        width = hidden
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def cnn_image_shape(spec: CNNSpec, n_features: int) -> tuple[int, int, int]:
    """(C, H, W) of the CNN's inputs: the declared shape, else a square single-channel image."""
    if spec.image_shape is not None:
        shape = tuple(spec.image_shape)
        if math.prod(shape) != n_features:
            raise ValueError(f"model.image_shape {list(shape)} has {math.prod(shape)} values; "
                             f"the dataset has {n_features} features")
        return shape  # type: ignore[return-value]
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(f"the CNN needs image-shaped inputs: {n_features} features are not a square image; "
                         "set model.image_shape")
    return (1, side, side)


def _cnn(spec: CNNSpec, n_features: int, n_outputs: int) -> nn.Sequential:
    channels, height, width = cnn_image_shape(spec, n_features)
    layers: list[nn.Module] = [nn.Unflatten(1, (channels, height, width))]
    for out_channels in spec.channels:
        layers += [nn.Conv2d(channels, out_channels, spec.kernel_size, padding=spec.kernel_size // 2),
                   _ACTIVATIONS[spec.activation]()]
        if height >= 2 and width >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels = out_channels
    layers.append(nn.Flatten())
    size = channels * height * width
    for hidden in spec.hidden:
        layers += [nn.Linear(size, hidden), _ACTIVATIONS[spec.activation]()]
        size = hidden
    layers.append(nn.Linear(size, n_outputs))
    return nn.Sequential(*layers)
