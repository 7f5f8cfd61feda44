"""A trained additive model with its Laplace posterior: term moments and the GLM predictive."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from bdl_core.laplace.predictive import probit_scaled
from bdl_core.likelihood import Likelihood

from .additive_model import AdditiveModel
from .curvature import kfac_curvature
from .posterior import AdditivePosterior, KronEigens
from .prior import AdditivePrior


@dataclass
class FittedAdditiveModel:
    """An :class:`AdditiveModel` at its MAP, its learned hyperparameters and posterior.

    Attributes:
        model: The network.
        prior: Learned :class:`AdditivePrior`.
        log_sigma: () log noise std (regression; 0 for classification).
        likelihood: ``"regression"`` or ``"classification"``.
        posterior: The :class:`AdditivePosterior` at the MAP (set by :meth:`refresh`).
        log_marglik: Laplace evidence per training example at the MAP.
    """

    model: AdditiveModel
    prior: AdditivePrior
    log_sigma: Tensor
    likelihood: Likelihood
    posterior: AdditivePosterior | None = None
    log_marglik: float = float("nan")

    def __post_init__(self) -> None:
        self.likelihood = Likelihood.of(self.likelihood)

    @property
    def sigma(self) -> float:
        """Noise std (1.0 for classification)."""
        return float(self.log_sigma.detach().exp()) if self.likelihood.is_regression else 1.0

    @torch.no_grad()
    def refresh(self, X: Tensor, y: Tensor) -> FittedAdditiveModel:
        """Recompute the curvature at the current parameters and build the posterior.

        Args:
            X: (N, D) training inputs; y: (N,) targets.

        Returns:
            self.
        """
        eigens = KronEigens(kfac_curvature(self.model, X, y.reshape(-1), self.likelihood))
        self.posterior = AdditivePosterior(eigens, self.prior, self.likelihood, self.log_sigma.detach())
        self.log_marglik = float(self.posterior.log_marginal_likelihood(self.model)) / X.shape[0]
        return self

    def term_moments(self, X: Tensor, chunk_size: int = 4096) -> tuple[Tensor, Tensor]:
        """Posterior mean and variance of every term f_t at M inputs.

        Args:
            X: (M, D) inputs.
            chunk_size: Inputs per pass.

        Returns:
            mean: (M, T) term values at the MAP (not centred).
            var: (M, T) J_t Sigma J_t^T.
        """
        if self.posterior is None:
            raise RuntimeError("Call refresh() first.")
        means, variances = [], []
        model = self.model
        for start in range(0, X.shape[0], chunk_size):
            Xb = X[start : start + chunk_size].detach()
            parts_mean, parts_var = [], []
            if model.mlp is not None:
                with torch.enable_grad():
                    out, inputs, preacts = model.mlp.forward_with_cache(model.layout.mlp_inputs(Xb))
                    gbars = torch.autograd.grad(out.sum(), preacts)
                inputs = [a.detach() for a in inputs]
                with torch.no_grad():
                    parts_mean.append(out.detach())
                    parts_var.append(self.posterior.mlp_term_variances(inputs, [g.detach() for g in gbars]))
            if model.table is not None:
                with torch.no_grad():
                    cells = model.table_indices(Xb)
                    parts_mean.append(model.table[cells].detach())
                    parts_var.append(self.posterior.cell_variances(cells))
            order = model.output_order
            means.append(torch.cat(parts_mean, 1)[:, order])
            variances.append(torch.cat(parts_var, 1)[:, order])
        return torch.cat(means), torch.cat(variances)

    def predict_latent(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Linearised (GLM) posterior of f(x); the block-diagonal posterior makes terms independent.

        Args:
            X: (M, D) inputs.

        Returns:
            mean (M,) and variance (M,) of f(x) (mean or logit, noise excluded).
        """
        mean, var = self.term_moments(X)
        with torch.no_grad():
            b = self.model.intercept.detach()
            return b + mean.sum(-1), var.sum(-1) + self.posterior.intercept_precision.reciprocal()

    def predict(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior predictive.

        Args:
            X: (M, D) inputs.

        Returns:
            Regression: mean (M,) and variance (M,) with the noise sigma^2 added.
            Classification: probit-approximated P(y = 1) (M,) and the logit variance (M,).
        """
        mean, var = self.predict_latent(X)
        if self.likelihood.is_regression:
            return mean, var + self.sigma**2
        return torch.sigmoid(probit_scaled(mean, var)), var


def new_fitted(model: AdditiveModel, likelihood: str, prior_init: float = 1.0, sigma_init: float = 1.0) -> FittedAdditiveModel:
    """A :class:`FittedAdditiveModel` with fresh hyperparameters (before training).

    Args:
        model: The (untrained) network.
        likelihood: ``"regression"`` or ``"classification"``.
        prior_init: Initial prior precision of every term layer.
        sigma_init: Initial noise std (regression).
    """
    likelihood = Likelihood.of(likelihood)
    ref = model.intercept
    log_sigma = torch.tensor(math.log(sigma_init) if likelihood.is_regression else 0.0, dtype=ref.dtype,
                             device=ref.device, requires_grad=likelihood.is_regression)
    return FittedAdditiveModel(model=model, prior=AdditivePrior(model, init=prior_init), log_sigma=log_sigma,
                               likelihood=likelihood)
