"""Scores of fitted surrogates on the study's own data, comparable across surrogates.

Both criteria are computed on the same standardised targets (the observations minus their mean,
divided by their sample standard deviation: what the GP's ``Standardize`` transform and the LLA's
own standardisation both use), so the Jacobian of the standardisation is the same for every
candidate and cancels in a comparison.

* ``evidence``: the log marginal likelihood. GP: exact, with its fitted hyperparameters. LLA: the
  Laplace-GGN evidence in function-space form at the MAP and the tuned hyperparameters
  (``bdl_core.bo.function_space_log_evidence``; the function-space form is used while n < P).
* ``loo``: the closed-form leave-one-out predictive log likelihood of a GP with Gram matrix ``A``
  (Rasmussen and Williams 2006, eq. 5.12): ``mu_i = y_i - [A^-1 r]_i / [A^-1]_ii`` and
  ``var_i = 1 / [A^-1]_ii``, with ``r`` the residuals from the GP's prior mean. The LLA is the
  linear model ``f(x) = f(x; theta*) + J(x) (theta - theta*)`` with the Gaussian prior
  ``theta ~ N(theta_0, diag(v))``: a GP with the tangent kernel ``J diag(v) J^T`` and the prior mean
  ``m(x) = f(x; theta*) - J(x) (theta* - theta_0)``, so ``r = y - m(X)``. (Residuals from the MAP
  network ``f(x; theta*)``, the posterior mean, would let every left-out point be predicted by a
  network trained on it: the LLA's score came out 0.3-1 nats per point too high, and ``auto``
  chose it on data it then optimised badly.) ``theta*`` itself was trained on every point, as the
  GP's hyperparameters were fitted on every point: that part is not left out for either model.
  The LLA's ``A`` carries its covariance scale (``bdl_core.bo.variance_calibration``), so the score
  is that of the model the acquisition uses; the scale is one number chosen on this same criterion.

Written here because neither BoTorch nor ``bdl_core`` has a score common to both model types.
"""

from __future__ import annotations


import torch
from botorch.models import SingleTaskGP
from torch import Tensor

from bdl_core.bo import LLAModel, function_space_log_evidence, gram_blocks
from bdl_core.bo.function_space_evidence import squared_offsets
from bdl_core.bo.variance_calibration import inverse_cholesky_factor, leave_one_out, linearised_gp, parameter_offsets
from bdl_core.likelihood import LOG_2PI, gaussian_log_likelihood

CRITERIA = ("evidence", "loo")


def loo_log_likelihood(A: Tensor, residual: Tensor) -> Tensor:
    """() sum over i of log N(y_i | LOO mean, LOO variance) for Gram ``A`` (n, n) and residuals (n,)."""
    loo_residual, loo_variance = leave_one_out(residual, inverse_cholesky_factor(A))
    return gaussian_log_likelihood(loo_residual.pow(2), loo_variance).sum()


def gp_parts(model: SingleTaskGP) -> tuple[Tensor, Tensor, Tensor]:
    """(A, residual, standardised y) of a fitted GP: A = K + noise (standardised units)."""
    X = model.train_inputs[0]
    y = model.train_targets
    with torch.no_grad():
        K = model.covar_module(X).to_dense()
        noise = model.likelihood.noise.reshape(-1).expand(X.shape[0])
        mean = model.mean_module(X)
    return K + torch.diag(noise), y - mean, y


def lla_parts(model: LLAModel) -> tuple[Tensor, Tensor, Tensor]:
    """(A, residual, standardised y) of a fitted LLA: A = its covariance scale times (NTK Gram + sigma^2)
    (standardised units), residuals from the linearised model's prior mean (module docstring)."""
    inputs = model.encoder(model.train_X)
    ys = (model.train_Y.reshape(-1) - model.y_mean) / model.y_std
    with torch.no_grad():
        A, residual = linearised_gp(model.net.tangent_features(inputs), ys,
                                    model.hypers.precisions(model.net.n_groups).reciprocal(), model.hypers.sigma,
                                    parameter_offsets(list(model.net.parameters()), model.prior_mean))
    return model.variance_scale * A, residual, ys


def evidence(model: object) -> float:
    """Log marginal likelihood on the standardised targets (module docstring)."""
    if isinstance(model, SingleTaskGP):
        A, residual, _ = gp_parts(model)
        chol = torch.linalg.cholesky(A)
        alpha = torch.cholesky_solve(residual.unsqueeze(-1), chol).squeeze(-1)
        n = residual.shape[0]
        return float((-0.5 * residual @ alpha - chol.diagonal().log().sum() - 0.5 * n * LOG_2PI).detach())
    if isinstance(model, LLAModel):
        inputs = model.encoder(model.train_X)
        ys = (model.train_Y.reshape(-1) - model.y_mean) / model.y_std
        with torch.no_grad():
            features = model.net.tangent_features(inputs)
            theta_sq = squared_offsets(list(model.net.parameters()), model.prior_mean)
            value = function_space_log_evidence(gram_blocks(features), (features.f - ys).pow(2).sum(), theta_sq,
                                                model.hypers.log_prior, model.hypers.log_sigma)
        return float(value)
    raise TypeError(f"no evidence for a {type(model).__name__}")


def loo(model: object) -> float:
    """Closed-form leave-one-out predictive log likelihood on the standardised targets."""
    if isinstance(model, SingleTaskGP):
        A, residual, _ = gp_parts(model)
    elif isinstance(model, LLAModel):
        A, residual, _ = lla_parts(model)
    else:
        raise TypeError(f"no LOO score for a {type(model).__name__}")
    return float(loo_log_likelihood(A, residual).detach())


def score(model: object, criterion: str) -> float:
    """The named criterion of a fitted model (higher is better)."""
    if criterion == "evidence":
        return evidence(model)
    if criterion == "loo":
        return loo(model)
    raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
