"""The hyperparameters of a Laplace model: one object for every posterior and training loop.

A :class:`Hyperparameters` holds

* the prior precisions, of any structure: a module whose parameters are LOG precisions
  (:class:`bdl_core.priors.PriorPrecision` for scalar / layerwise / unitwise / parameter
  priors over a parameter layout, or the additive model's per-term ``AdditivePrior``);
* an optional prior mean (P,) (None: zero mean), so the evidence is
  ``log p(D | theta*) - 1/2 [log det P - log det P0 + (theta* - mu)^T P0 (theta* - mu)]``;
* the observation noise std as ``log_sigma``, () or one per output (m,) (learnable for
  Gaussian likelihoods only) with an optional floor ``min_sigma``, applied by
  :meth:`apply_floor_` after every optimiser step.

The Laplace posterior (``bdl_core.laplace``), the online marginal-likelihood loop
(``bdl_core.marglik``), LA-NAM (``bdl_core.nam``) and the LLA surrogates (``bdl_core.bo``,
one or several outputs) read this one object and tune it with the one loop
:func:`bdl_core.laplace.hyperparameter_tuning.maximise_evidence`.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from .curvature.params import ParameterLayout
from .priors import PriorPrecision


class Hyperparameters(nn.Module):
    """Log prior precisions (any structure), optional prior mean, log noise std with a floor.

    Args:
        prior: Module whose parameters are the log prior precisions.
        sigma: Initial noise std (float, () tensor, or (m,) tensor: one per output), or a leaf
            tensor of LOG sigma to share (``log_sigma_is_tensor=True``): in-place updates then
            show in it.
        learn_sigma: Whether :meth:`trainable` includes log sigma (False for classification).
        min_sigma: Floor of sigma (None: none).
        prior_mean: (P,) prior mean, or None for a zero-mean prior.
        log_sigma_is_tensor: ``sigma`` is already the log noise (a leaf tensor to share).

    Attributes:
        prior: As above.
        log_sigma: () or (m,) ``nn.Parameter``.
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

    @classmethod
    def for_network(cls, net: nn.Module, structure: str, precision: float | Tensor, sigma: float | Tensor, *,
                    n_outputs: int | None = None, min_sigma: float | None = None) -> Hyperparameters:
        """A :class:`~bdl_core.priors.PriorPrecision` prior over every trainable tensor of ``net`` and a noise.

        Args:
            net: The network (its trainable parameters define the layout, dtype and device).
            structure: Prior structure (``"scalar"``, ``"layerwise"``, ...).
            precision: A float: every per-parameter precision is ``precision`` (as
                :class:`~bdl_core.priors.PriorPrecision`'s ``init``); or the (n_hyper,) LOG
                hyperparameters themselves as a tensor (a saved state).
            sigma: Noise std as a float (the same for every output), or the () or (m,) LOG sigma
                as a tensor (a saved state).
            n_outputs: None: one noise level, log sigma of shape (); m: one per output, (m,).
            min_sigma: Floor of sigma (None: none).
        """
        prior = PriorPrecision(ParameterLayout(net), structure)
        reference = prior.log_precision
        with torch.no_grad():
            if isinstance(precision, Tensor):
                reference.copy_(precision.reshape(reference.shape))
            elif structure in ("scalar", "layerwise"):  # one factor per parameter: the log, rounded once
                reference.fill_(math.log(precision))
            else:
                prior.set_(precision)
        if isinstance(sigma, Tensor):
            log_sigma = sigma.detach().to(reference).clone()
        else:
            shape = () if n_outputs is None else (n_outputs,)
            log_sigma = torch.full(shape, math.log(sigma), dtype=reference.dtype, device=reference.device)
        return cls(prior, nn.Parameter(log_sigma), min_sigma=min_sigma, log_sigma_is_tensor=True)

    @property
    def sigma(self) -> Tensor:
        """() or (m,) noise std (differentiable in ``log_sigma``)."""
        return self.log_sigma.exp()

    @property
    def log_prior(self) -> Tensor:
        """The log prior hyperparameters of a :class:`~bdl_core.priors.PriorPrecision` prior:
        (1,) scalar, (G,) layerwise, ... (the parameter itself: in-place edits show)."""
        return self.prior.log_precision

    def precisions(self, n_groups: int | None = None) -> Tensor:
        """(G,) prior precision of every parameter tensor (a scalar or layerwise prior only).

        Args:
            n_groups: G, checked against the prior's (None: not checked).
        """
        values = self.prior.per_group()
        if values is None:
            raise ValueError(f"a {self.prior.structure!r} prior has no single precision per parameter tensor")
        if n_groups is not None and values.shape[0] != n_groups:
            raise ValueError(f"the prior is over {values.shape[0]} parameter tensors, not {n_groups}")
        return values

    def clone(self) -> Hyperparameters:
        """An independent, tunable copy (values, floor, prior mean; no stored gradients)."""
        twin = copy.deepcopy(self)
        for p in twin.parameters():
            p.grad = None
            p.requires_grad_(True)
        return twin

    def is_finite(self) -> bool:
        """Whether every log hyperparameter is finite."""
        return all(bool(torch.isfinite(p).all()) for p in self.parameters())

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
