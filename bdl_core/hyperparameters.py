"""The hyperparameters of a Laplace model: one object for every posterior and training loop.

A :class:`Hyperparameters` holds

* the prior precisions, of any structure: a module whose parameters are LOG precisions
  (:class:`bdl_core.priors.PriorPrecision` for scalar / layerwise / unitwise / parameter
  priors over a parameter layout, or the additive model's per-term ``AdditivePrior``);
* an optional prior mean (P,) (None: zero mean), so the evidence is
  ``log p(D | theta*) - 1/2 [log det P - log det P0 + (theta* - mu)^T P0 (theta* - mu)]``;
* the observation noise std as ``log_sigma`` (learnable for Gaussian likelihoods only) with an
  optional floor ``min_sigma``, applied by :meth:`apply_floor_` after every optimiser step.

The Laplace posterior (``bdl_core.laplace``), the online marginal-likelihood loop
(``bdl_core.marglik``) and LA-NAM (``bdl_core.nam``) read and tune this one object.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn


class Hyperparameters(nn.Module):
    """Log prior precisions (any structure), optional prior mean, log noise std with a floor.

    Args:
        prior: Module whose parameters are the log prior precisions.
        sigma: Initial noise std (float or () tensor), or a () leaf tensor of LOG sigma to
            share (``log_sigma_is_tensor=True``): in-place updates then show in it.
        learn_sigma: Whether :meth:`trainable` includes log sigma (False for classification).
        min_sigma: Floor of sigma (None: none).
        prior_mean: (P,) prior mean, or None for a zero-mean prior.
        log_sigma_is_tensor: ``sigma`` is already the log noise (a leaf tensor to share).

    Attributes:
        prior: As above.
        log_sigma: () ``nn.Parameter``.
        learn_sigma, min_sigma: As above.
        prior_mean: (P,) buffer or None.
    """

    def __init__(self, prior: nn.Module, sigma: float | Tensor = 1.0, *, learn_sigma: bool = True,
                 min_sigma: float | None = None, prior_mean: Tensor | None = None,
                 log_sigma_is_tensor: bool = False) -> None:
        super().__init__()
        if min_sigma is not None and min_sigma <= 0:
            raise ValueError(f"min_sigma must be positive, got {min_sigma}.")
        self.prior = prior
        reference = next(prior.parameters())
        if log_sigma_is_tensor:
            self.log_sigma = sigma if isinstance(sigma, nn.Parameter) else nn.Parameter(sigma.detach())
        else:
            value = torch.as_tensor(sigma, dtype=reference.dtype, device=reference.device)
            if (value <= 0).any():
                raise ValueError("sigma must be positive.")
            self.log_sigma = nn.Parameter(value.detach().log().clone())
        self.learn_sigma = learn_sigma
        self.min_sigma = min_sigma
        self.register_buffer("prior_mean", None if prior_mean is None else prior_mean.detach().clone())

    @property
    def sigma(self) -> Tensor:
        """() noise std (differentiable in ``log_sigma``)."""
        return self.log_sigma.exp()

    def trainable(self) -> list[nn.Parameter]:
        """The log hyperparameters an optimiser tunes: the prior's, plus log sigma if learnt."""
        params = list(self.prior.parameters())
        return params + [self.log_sigma] if self.learn_sigma else params

    @torch.no_grad()
    def apply_floor_(self) -> None:
        """Project log sigma onto [log min_sigma, inf) (no-op without a floor)."""
        if self.min_sigma is not None:
            self.log_sigma.clamp_(min=math.log(self.min_sigma))

    def centred(self, theta: Tensor) -> Tensor:
        """(P,) ``theta - prior_mean`` (``theta`` itself for a zero-mean prior)."""
        return theta if self.prior_mean is None else theta - self.prior_mean

    def snapshot(self) -> dict[str, Any]:
        """A copy of every value, for :meth:`restore` (e.g. the best evidence seen)."""
        return copy.deepcopy(self.state_dict())

    @torch.no_grad()
    def restore(self, snapshot: dict[str, Any]) -> None:
        """Load values taken by :meth:`snapshot`."""
        self.load_state_dict(snapshot)
