"""Predictive distributions of a Laplace-approximated network.

GLM / linearised predictive (Immer et al. 2021b; Laplace Redux): around the MAP the
network is f(x, theta) ~= f(x, theta*) + J(x) (theta - theta*), so under
theta ~ N(theta*, P^-1) the outputs are Gaussian with mean f(x, theta*) and
covariance J(x) P^-1 J(x)^T. Jacobians are computed a chunk of inputs at a time, so
memory stays at chunk x C x P; everything is differentiable w.r.t. X (acquisition
gradients). Classification maps the Gaussian over logits to probabilities with the
probit approximation or Monte Carlo. For comparison, the sampling ("nn")
predictive pushes posterior weight samples through the nonlinear network.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from bdl_core.curvature import ParameterLayout, jacobians
from bdl_core.curvature.linear_jacobian_factors import linear_jacobian_factors
from bdl_core.likelihood import Likelihood

from .precision import PosteriorPrecision


def jacobian_chunks(model: nn.Module, layout: ParameterLayout, X: Tensor,
                    chunk_size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield (f (n, C), J (n, C, P)) for consecutive chunks of at most ``chunk_size`` inputs of X."""
    for start in range(0, X.shape[0], chunk_size):
        yield jacobians(model, X[start : start + chunk_size], layout)


def glm_predictive(model: nn.Module, layout: ParameterLayout, precision: PosteriorPrecision,
                   X: Tensor, chunk_size: int) -> tuple[Tensor, Tensor]:
    """Marginal linearised predictive over outputs.

    Args:
        model: Network at the MAP.
        layout: Selected parameters (those the posterior is over).
        precision: Posterior precision P.
        X: (N, *in_shape) inputs.
        chunk_size: Inputs per Jacobian evaluation.

    Returns:
        f_mean: (N, C) MAP outputs.
        f_cov: (N, C, C) per-input output covariances J_n P^-1 J_n^T.
    """
    means, covs = [], []
    for f, J in jacobian_chunks(model, layout, X, chunk_size):
        means.append(f)
        covs.append(precision.functional_variance(J))
    return torch.cat(means), torch.cat(covs)


def rank_one_chunk_size(layout: ParameterLayout, n_outputs: int, budget: int) -> int:
    """Inputs per chunk of :func:`glm_predictive_rank_one` for a budget of ``budget`` numbers.

    Per input the factors hold C * d_out + d_in' numbers per layer, at most
    (C + 1) * (the largest dimension of each selected tensor, summed).
    """
    widths = sum(max(g.shape) for g in layout.groups)
    return max(1, budget // max(1, (n_outputs + 1) * widths))


def glm_predictive_rank_one(layout: ParameterLayout, precision: PosteriorPrecision, X: Tensor,
                            chunk_size: int) -> tuple[Tensor, Tensor] | None:
    """:func:`glm_predictive` for kron / diag posteriors over plain linear layers, without Jacobians.

    Uses the rank-one structure of linear-layer Jacobians (see
    ``bdl_core.curvature.linear_jacobian_factors``); same results as :func:`glm_predictive`.

    Args:
        layout: Selected parameters (``layout.model`` is the network at the MAP).
        precision: A posterior precision with ``supports_rank_one_factors()``.
        X: (N, *in_shape) inputs.
        chunk_size: Inputs per forward/backward pass.

    Returns:
        f_mean (N, C) and f_cov (N, C, C), or None when the precision or the model does
        not allow it (callers then use :func:`glm_predictive`).
    """
    if not precision.supports_rank_one_factors():
        return None
    means, covs = [], []
    for start in range(0, X.shape[0], chunk_size):
        result = linear_jacobian_factors(layout, X[start : start + chunk_size])
        if result is None:
            return None
        f, factors = result
        means.append(f)
        covs.append(precision.functional_variance_from_factors(factors))
    return torch.cat(means), torch.cat(covs)


def glm_joint_predictive(model: nn.Module, layout: ParameterLayout, precision: PosteriorPrecision,
                         X: Tensor, chunk_size: int) -> tuple[Tensor, Tensor]:
    """Joint linearised predictive over all inputs and outputs.

    Args:
        model, layout, precision, X, chunk_size: As in :func:`glm_predictive`. With more
            than one chunk, Jacobians of earlier chunks are recomputed (memory stays
            bounded at two chunks' Jacobians).

    Returns:
        f_mean: (N*C,) MAP outputs, index n*C + c.
        f_cov: (N*C, N*C) covariance J P^-1 J^T.
    """
    n = X.shape[0]
    if n <= chunk_size:
        f, J = jacobians(model, X, layout)
        return f.reshape(-1), precision.functional_covariance(J)
    starts = list(range(0, n, chunk_size))
    means, rows = [], []
    for i, si in enumerate(starts):
        f_i, J_i = jacobians(model, X[si : si + chunk_size], layout)
        means.append(f_i.reshape(-1))
        Ji = J_i.reshape(-1, J_i.shape[-1])
        Y_i = precision.solve(Ji.mT)  # (P, n_i C)
        row = []
        for j, sj in enumerate(starts):
            if j == i:
                Jj = Ji
            else:
                Jj = jacobians(model, X[sj : sj + chunk_size], layout)[1]
                Jj = Jj.reshape(-1, Jj.shape[-1])
            row.append(Y_i.mT @ Jj.mT)
        rows.append(torch.cat(row, dim=1))
    cov = torch.cat(rows, dim=0)
    return torch.cat(means), 0.5 * (cov + cov.mT)


def probit_probabilities(f_mean: Tensor, f_cov: Tensor) -> Tensor:
    """Probit (MacKay) approximation of E[softmax(f)], f ~ N(f_mean, f_cov).

    Args:
        f_mean: (N, C) logit means.
        f_cov: (N, C, C) logit covariances (only the diagonal is used).

    Returns:
        (N, C) probabilities softmax(f_mean / sqrt(1 + pi/8 var)).
    """
    return torch.softmax(probit_scaled(f_mean, f_cov.diagonal(dim1=-2, dim2=-1)), dim=-1)


def probit_scaled(f_mean: Tensor, var: Tensor) -> Tensor:
    """The probit (MacKay) moderated logits ``f_mean / sqrt(1 + pi/8 var)``, any shape.

    Args:
        f_mean: Logit means, e.g. (N, C), or (N,) for one Bernoulli logit per example.
        var: Logit variances of the same shape.
    """
    return f_mean / (1.0 + math.pi / 8.0 * var).sqrt()


def mc_probabilities(f_mean: Tensor, f_cov: Tensor, n_samples: int,
                     generator: torch.Generator | None = None) -> Tensor:
    """Monte-Carlo estimate of E[softmax(f)], f ~ N(f_mean, f_cov) per input.

    Args:
        f_mean: (N, C) logit means.
        f_cov: (N, C, C) logit covariances (PSD; a symmetric square root is used, so
            singular covariances are fine).
        n_samples: S, number of draws.
        generator: Optional random generator.

    Returns:
        (N, C) probabilities.
    """
    values, vectors = torch.linalg.eigh(0.5 * (f_cov + f_cov.mT))
    root = vectors * values.clamp_min(0.0).sqrt().unsqueeze(-2)  # (N, C, C)
    eps = torch.randn(n_samples, *f_mean.shape, dtype=f_mean.dtype, device=f_mean.device,
                      generator=generator)
    f = f_mean + (root @ eps.unsqueeze(-1)).squeeze(-1)
    return torch.softmax(f, dim=-1).mean(0)


def sampled_network_outputs(model: nn.Module, layout: ParameterLayout, theta_map: Tensor,
                            precision: PosteriorPrecision, X: Tensor, n_samples: int,
                            generator: torch.Generator | None = None) -> Tensor:
    """Outputs of the NONLINEAR network at posterior weight samples theta* + N(0, P^-1).

    Args:
        model: Network (its own parameters are left untouched; unselected ones are used as is).
        layout: Selected parameters.
        theta_map: (P,) MAP values of the selected parameters.
        precision: Posterior precision P.
        X: (N, *in_shape) inputs.
        n_samples: S, number of weight samples.
        generator: Optional random generator.

    Returns:
        (S, N, C) outputs.
    """
    thetas = theta_map + precision.sample(n_samples, generator)
    params = {g.name: thetas[:, g.slice].reshape(n_samples, *g.shape) for g in layout.groups}

    def run(p: dict[str, Tensor]) -> Tensor:
        return functional_call(model, p, (X,)).reshape(X.shape[0], -1)

    return vmap(run, chunk_size=256)(params)


def summarise_output_samples(f: Tensor, likelihood: str, joint: bool,
                             noise_variance: Tensor | float = 0.0) -> Tensor | tuple[Tensor, Tensor]:
    """Predictive summaries of sampled network outputs (the "nn" predictive).

    Args:
        f: (S, N, C) outputs at S posterior weight samples.
        likelihood: ``"regression"`` or ``"classification"``.
        joint: Return the empirical joint mean (N*C,) and covariance (N*C, N*C) of f.
        noise_variance: Added to the variances (regression observation noise).

    Returns:
        Classification (not joint): mean softmax probabilities (N, C). Otherwise mean
        (N, C) and variance (N, C), or the joint pair.
    """
    n_samples = f.shape[0]
    if not Likelihood.of(likelihood).is_regression and not joint:
        return torch.softmax(f, dim=-1).mean(0)
    if joint:
        flat = f.reshape(n_samples, -1)
        centred = flat - flat.mean(0)
        cov = centred.mT @ centred / n_samples
        eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
        return flat.mean(0), cov + noise_variance * eye
    return f.mean(0), f.var(0, unbiased=False) + noise_variance
