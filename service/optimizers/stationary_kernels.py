"""The two stationary kernels of the continuous GP as plain functions of squared scaled distances.

The hand-written fast paths (``gp_map_fit``, ``cached_posterior``, ``logei_search``) evaluate the GP's kernel
outside GPyTorch; this module is the one place that knows the formulas, so both paths and both
kernels stay in step with ``gpytorch.kernels.RBFKernel`` / ``MaternKernel(nu=2.5)`` (checked in
``tests/optimizers/test_cached_posterior.py``).

With ``q = |(x - x') / l|^2`` and ``r = sqrt(q)``:

* ``"rbf"``: ``k = exp(-q / 2)``;
* ``"matern52"``: ``k = (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r)``.

``slope`` is ``g`` with ``dk/dx = -g (x - x') / l^2``: ``g = k`` (RBF) and
``g = 5 (1 + sqrt5 r) exp(-sqrt5 r) / 3`` (Matern-5/2; finite at ``r = 0``, where ``k`` is smooth).
Everything is unit output scale; callers multiply by theirs.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from gpytorch.kernels import MaternKernel, RBFKernel
from torch import Tensor

StationaryKernel = Literal["rbf", "matern52"]
SQRT5 = math.sqrt(5.0)
MIN_SQUARED_DISTANCE = 1e-30  # GPyTorch's clamp before the square root (zero gradient at r = 0)


def kernel_name(kernel: torch.nn.Module) -> StationaryKernel | None:
    """``"rbf"`` or ``"matern52"`` for a GPyTorch base kernel these formulas describe, else None."""
    if type(kernel) is RBFKernel:
        return "rbf"
    if type(kernel) is MaternKernel and float(kernel.nu) == 2.5:
        return "matern52"
    return None


def correlation_torch(sq: Tensor, kernel: StationaryKernel) -> Tensor:
    """``k`` of squared scaled distances ``sq`` (any shape; torch, autograd-safe at 0)."""
    if kernel == "rbf":
        return torch.exp(-0.5 * sq)
    scaled = SQRT5 * sq.clamp_min(MIN_SQUARED_DISTANCE).sqrt()
    return (1.0 + scaled + scaled * scaled / 3.0) * torch.exp(-scaled)


def correlation_and_slope_numpy(sq: np.ndarray, kernel: StationaryKernel) -> tuple[np.ndarray, np.ndarray]:
    """``(k, g)`` of squared scaled distances ``sq`` (module docstring; numpy, negative rounding clipped to 0),
    each the shape of ``sq``; for the RBF both are the same array."""
    sq = np.maximum(sq, 0.0)
    if kernel == "rbf":
        k = np.exp(-0.5 * sq)
        return k, k
    scaled = SQRT5 * np.sqrt(sq)
    decay = np.exp(-scaled)
    return (1.0 + scaled + scaled * scaled / 3.0) * decay, (5.0 / 3.0) * (1.0 + scaled) * decay
