"""Synthetic additive data with a known truth, for checks and demonstrations of LA-NAM.

y = sum_d f_d(x_d / sqrt(3)) [+ c * x_2 * x_3 / 3] + noise with x ~ U(-sqrt(3), sqrt(3))^D, so the
inputs have unit variance as after standardisation. Four features carry the shapes below
(functions on [-1, 1], each centred under U(-1, 1)), an optional categorical feature adds one
value per level, and the remaining features are pure noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .terms import Feature

#: The known shape functions, centred under U(-1, 1).
SHAPES = {
    0: ("sin", lambda x: torch.sin(math.pi * x)),
    1: ("square", lambda x: x.pow(2) - 1.0 / 3.0),
    2: ("linear", lambda x: x),
    3: ("bump", lambda x: torch.exp(-2.0 * x.pow(2)) - math.sqrt(math.pi / 2.0) / 2.0 * math.erf(math.sqrt(2.0))),
}

#: Inputs are U(-SCALE, SCALE): unit variance.
SCALE = math.sqrt(3.0)

#: Effect of each level of the optional categorical feature (centred).
LEVEL_EFFECTS = (-0.6, 0.1, 0.5)


@dataclass
class SyntheticAdditiveData:
    """A draw of the synthetic problem.

    Attributes:
        X: (N, D) inputs (the categorical column, if any, holds codes 0..2).
        y: (N,) targets.
        features: The D column descriptions.
        informative: Indices of the features with a non-zero shape.
        noise_features: Indices of the pure-noise features.
        interaction: The interacting pair (i, j) or None.
        noise_std: Observation noise standard deviation.
    """

    X: Tensor
    y: Tensor
    features: list[Feature]
    informative: list[int]
    noise_features: list[int]
    interaction: tuple[int, int] | None
    noise_std: float

    def true_shape(self, feature: int, values: Tensor) -> Tensor:
        """The true first-order shape of ``feature`` at (M,) ``values`` (zero for noise features)."""
        if self.features[feature].categorical:
            return torch.tensor(LEVEL_EFFECTS, dtype=values.dtype, device=values.device)[values.round().long()]
        if feature in SHAPES:
            return SHAPES[feature][1](values / SCALE)
        return torch.zeros_like(values)


def make_additive_data(n: int = 1000, n_noise: int = 2, interaction: float = 0.0, categorical: bool = False,
                       noise_std: float = 0.3, seed: int = 0, dtype: torch.dtype = torch.float32) -> SyntheticAdditiveData:
    """Draw the synthetic problem.

    Args:
        n: Number of examples N.
        n_noise: Number of pure-noise numerical features (appended after the informative ones).
        interaction: Coefficient c of the product (x_2 / sqrt 3) (x_3 / sqrt 3) (0: purely additive).
        categorical: Append a categorical feature with three levels (effects ``LEVEL_EFFECTS``).
        noise_std: Standard deviation of the Gaussian observation noise.
        seed: Seeds the draw.
        dtype: Of X and y.

    Returns:
        :class:`SyntheticAdditiveData`.
    """
    g = torch.Generator().manual_seed(seed)
    n_num = len(SHAPES) + n_noise
    U = torch.rand(n, n_num, generator=g, dtype=torch.float64) * 2 - 1
    X = SCALE * U
    y = sum(shape(U[:, d]) for d, (_, shape) in SHAPES.items())
    features = [Feature(f"x{d}_{SHAPES[d][0]}" if d in SHAPES else f"x{d}_noise") for d in range(n_num)]
    informative = list(SHAPES)
    if categorical:
        codes = torch.randint(0, len(LEVEL_EFFECTS), (n,), generator=g).double()
        X = torch.cat([X, codes.unsqueeze(1)], dim=1)
        y = y + torch.tensor(LEVEL_EFFECTS, dtype=torch.float64)[codes.long()]
        features.append(Feature("group", len(LEVEL_EFFECTS)))
        informative.append(n_num)
    pair = (2, 3) if interaction else None
    if interaction:
        y = y + interaction * U[:, 2] * U[:, 3]
    y = y + noise_std * torch.randn(n, generator=g, dtype=torch.float64)
    return SyntheticAdditiveData(X=X.to(dtype), y=y.to(dtype), features=features, informative=informative,
                                 noise_features=list(range(len(SHAPES), n_num)), interaction=pair,
                                 noise_std=noise_std)
