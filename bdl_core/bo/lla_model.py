"""The linearised-Laplace (LLA) surrogate as a BoTorch ``Model``.

A fitted :class:`LLAModel` is a GP whose mean is the MAP network and whose covariance is
the linearised Laplace posterior (Kristiadi et al. 2023, "Promises and Pitfalls of the
Linearized Laplace in Bayesian Optimization"). ``posterior(X)`` returns a
``GPyTorchPosterior`` with the joint Gaussian over the q points of each batch, so every
BoTorch acquisition function (qLogNEI, qLogEI, UCB, Thompson sampling) works unchanged,
with gradients w.r.t. X. Outputs are in the units of the training targets; the
observation noise sigma^2 is added only when ``observation_noise`` asks for it.

The model is immutable after :func:`bdl_core.bo.fit_lla_model`: all factorisations are
done there once, and ``posterior`` only evaluates the network's tangent features and a
few matmuls.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from torch import Tensor

from bdl_core.hyperparameters import Hyperparameters

from .config import LLAConfig
from .input_encoding import InputEncoder
from .lla_predictive import LLAPredictive
from .tangent_mlp import TangentMLP

VARIANCE_JITTER = 1e-10  # standardised units; keeps K** - V^T V positive definite at the data


class LLAModel(Model):
    """Fitted LLA surrogate of one scalar outcome.

    Args:
        net: the MAP network (frozen).
        encoder: encoded points (*batch, D) -> network inputs (*batch, D_in).
        predictive: the factorised joint predictive (standardised units).
        hypers: the tuned hyperparameters (standardised units).
        train_X: (n, D) training points (encoded).
        train_Y: (n, 1) training targets.
        y_mean, y_std: () standardisation of the targets.
        config: the configuration it was fitted with.
        info: diagnostics of the fit (seconds, steps, regime, ...).
        prior_mean: the prior mean of each parameter tensor (None: zero), kept for warm starts.
        variance_scale: factor on the predictive covariance and the noise variance
            (``variance_calibration``; 1: as the evidence left them).
    """

    def __init__(self, net: TangentMLP, encoder: InputEncoder, predictive: LLAPredictive,
                 hypers: Hyperparameters, train_X: Tensor, train_Y: Tensor, y_mean: Tensor,
                 y_std: Tensor, config: LLAConfig, info: dict[str, Any],
                 prior_mean: list[Tensor] | None = None, variance_scale: float = 1.0) -> None:
        super().__init__()
        self.net = net
        self.encoder = encoder
        self.predictive = predictive
        self.hypers = hypers
        self.train_X = train_X
        self.train_Y = train_Y
        self.y_mean = y_mean
        self.y_std = y_std
        self.config = config
        self.info = info
        self.prior_mean = prior_mean
        self.variance_scale = variance_scale

    @property
    def num_outputs(self) -> int:
        """1: a single objective."""
        return 1

    @property
    def batch_shape(self) -> torch.Size:
        """Empty: one model, not a batch of models."""
        return torch.Size([])

    @property
    def noise_variance(self) -> Tensor:
        """() observation-noise variance in the units of the targets."""
        return self.variance_scale * (self.hypers.sigma * self.y_std).pow(2)

    def posterior(self, X: Tensor, output_indices: list[int] | None = None,
                  observation_noise: bool | Tensor = False, posterior_transform: Any = None,
                  **kwargs: Any) -> GPyTorchPosterior:
        """Joint predictive over the q points of each batch.

        Args:
            X: (*batch, q, D) encoded points (q x D for a single batch).
            output_indices: None or [0].
            observation_noise: False (latent function), True (add the fitted noise
                variance) or a (*batch, q, 1) tensor of noise variances to add.
            posterior_transform: optional BoTorch posterior transform.

        Returns:
            ``GPyTorchPosterior`` of a ``MultivariateNormal`` with mean (*batch, q) and
            covariance (*batch, q, q); differentiable w.r.t. X.
        """
        if output_indices is not None and list(output_indices) != [0]:
            raise ValueError("LLAModel has a single output (index 0)")
        if X.dim() < 2:
            raise ValueError(f"X must have shape (*batch, q, d), got {tuple(X.shape)}")
        X = X.to(self.train_X)
        mean, cov = self.predictive(self.encoder(X))
        scale = self.y_std.pow(2)
        mean = mean * self.y_std + self.y_mean
        eye = torch.eye(X.shape[-2], dtype=X.dtype, device=X.device)
        cov = (cov * self.variance_scale + VARIANCE_JITTER * eye) * scale
        if isinstance(observation_noise, Tensor):
            cov = cov + torch.diag_embed(observation_noise.to(cov).squeeze(-1).expand(mean.shape))
        elif observation_noise:
            cov = cov + self.noise_variance * eye
        posterior = GPyTorchPosterior(MultivariateNormal(mean, cov))
        return posterior_transform(posterior) if posterior_transform is not None else posterior

    def posterior_mean(self, X: Tensor) -> Tensor:
        """Predictive mean at ``X`` ``(*batch, D)`` -> ``(*batch,)`` in the outcome's units.

        The linearised predictive's mean is the MAP network's output, so this costs one forward
        pass and no covariance (``posterior`` of n points builds an n x n covariance).
        """
        with torch.no_grad():
            out = self.net(self.encoder(X.to(self.train_X))).squeeze(-1)
        return out * self.y_std + self.y_mean

    def condition_on_observations(self, X: Tensor, Y: Tensor, **kwargs: Any) -> Model:
        """Not supported: refit with :func:`bdl_core.bo.fit_lla_model` (warm-started) instead."""
        raise NotImplementedError("LLAModel is refitted, not conditioned (use fit_lla_model with warm=...)")
