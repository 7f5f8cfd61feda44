"""Network inputs that know which parameters are active (the LLA surrogate on conditional spaces).

The network sees the usual embedding of every column (``bdl_core.bo.InputEncoder``) with the
features of inactive columns masked to zero, plus one activity indicator per conditional
column. So an inactive parameter contributes nothing but the fact that it is inactive, and the
network can learn a separate response per branch of the tree (no other BO system's surrogate
sees activity natively: SMAC's forests split on imputed values, Optuna's GPSampler falls back to
random sampling, TPE models each parameter on its own).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.bo import InputEncoder

from service.space.search_space import SearchSpace


class ActivityInputs:
    """Encoded points ``(*batch, D)`` -> masked embedding and indicators ``(*batch, D_in + #conditional)``.

    Args:
        encoder: the embedding of the columns.
        space: the (conditional) search space.
    """

    def __init__(self, encoder: InputEncoder, space: SearchSpace) -> None:
        self.encoder = encoder
        self.space = space
        width = 2 if encoder.embedding == "circular" else 1
        owner: list[int] = []
        for _ in range(width):
            owner.extend(encoder.numeric_dims)
        for i, k in sorted(encoder.categorical_choices.items()):
            owner.extend([i] * k)
        self.feature_columns = torch.tensor(owner, dtype=torch.long)
        self.indicator_columns = torch.tensor(space.conditional_dims, dtype=torch.long)
        self.dim = encoder.dim
        self.out_features = encoder.out_features + len(space.conditional_dims)

    def __call__(self, X: Tensor) -> Tensor:
        """Network inputs for ``X``; differentiable in the active numeric columns."""
        active = self.space.active_mask(X).to(X.dtype)
        features = self.encoder(X) * active[..., self.feature_columns.to(X.device)]
        return torch.cat([features, active[..., self.indicator_columns.to(X.device)]], dim=-1)
