"""One marginal-likelihood update of the LLA hyperparameters at the current network weights.

Two forms of the same Laplace-GGN evidence, chosen like the posterior (``lla_fit``):

* :func:`function_space_update` (n < P): the Gram-block evidence of ``hyperparameters``.
* :func:`parametric_update` (n >= P): the library's evidence of the ``bdl_core.laplace``
  posterior (K-FAC or full, factorised once per update), with the prior centred at
  ``prior_mean`` (the network's initialisation, or zero) through the posterior's
  :class:`~bdl_core.hyperparameters.Hyperparameters`.

Both keep the network fixed and return new hyperparameters (sigma >= the floor).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.laplace import Laplace, LaplacePosterior

from .config import LLAConfig
from .hyperparameters import LLAHyperparameters, maximise_evidence, tune_function_space
from .tangent_mlp import TangentMLP, gram_blocks


def _offsets(net: TangentMLP, prior_mean: list[Tensor] | None) -> list[Tensor]:
    """theta_g - mu_g for every parameter tensor (detached)."""
    params = [p.detach() for p in net.parameters()]
    if prior_mean is None:
        return params
    return [p - mu for p, mu in zip(params, prior_mean)]


def function_space_update(config: LLAConfig, prior_mean: list[Tensor] | None, net: TangentMLP,
                          inputs: Tensor, y: Tensor, hypers: LLAHyperparameters,
                          n_steps: int) -> LLAHyperparameters:
    """Evidence update in function-space form.

    Args:
        config: tuning settings (``marglik_lr``, ``min_noise_sd``).
        prior_mean: prior mean per parameter tensor (None: zero).
        net: the network at its current weights.
        inputs: (n, d_in) network inputs.
        y: (n,) standardised targets.
        hypers: starting hyperparameters.
        n_steps: Adam steps.
    """
    with torch.no_grad():
        features = net.tangent_features(inputs)
        grams = gram_blocks(features)
        sse = (features.f - y).pow(2).sum()
        theta_sq = torch.stack([d.pow(2).sum() for d in _offsets(net, prior_mean)])
    return tune_function_space(grams, sse, theta_sq, hypers, n_steps, config.marglik_lr, config.min_noise_sd)


def _flat(prior_mean: list[Tensor] | None) -> Tensor | None:
    return None if prior_mean is None else torch.cat([mu.detach().reshape(-1) for mu in prior_mean])


def parametric_laplace(config: LLAConfig, net: TangentMLP, inputs: Tensor, y: Tensor,
                       hypers: LLAHyperparameters, prior_mean: list[Tensor] | None = None) -> LaplacePosterior:
    """``bdl_core`` Laplace (K-FAC or full, ``config.parametric_structure_for``) of ``net``, fitted.

    Args:
        config: structure, prior and noise floor.
        net: the network at the MAP.
        inputs: (n, d_in) network inputs; y: (n,) standardised targets.
        hypers: prior precisions and noise to start from.
        prior_mean: prior mean per parameter tensor (None: zero).
    """
    structure = config.parametric_structure_for(sum(p.numel() for p in net.parameters()))
    la = Laplace(net, "regression", structure=structure, prior=config.prior,
                 prior_precision=hypers.log_prior.exp(), sigma_noise=hypers.sigma,
                 min_sigma_noise=config.min_noise_sd, prior_mean=_flat(prior_mean))
    return la.fit(inputs.detach(), y.detach().unsqueeze(-1))


def parametric_update(config: LLAConfig, prior_mean: list[Tensor] | None, net: TangentMLP,
                      inputs: Tensor, y: Tensor, hypers: LLAHyperparameters, n_steps: int,
                      la: LaplacePosterior | None = None) -> LLAHyperparameters:
    """Evidence update with the library's parametric posterior precision.

    Args:
        config, prior_mean, net, inputs, y, hypers, n_steps: as in :func:`function_space_update`.
        la: an already fitted :func:`parametric_laplace` of ``net`` (fitted here if None); its prior
            mean is set to ``prior_mean``.
    """
    la = la if la is not None else parametric_laplace(config, net, inputs, y, hypers, prior_mean)
    la.hypers.prior_mean = _flat(prior_mean)

    def evidence(log_prior: Tensor, log_sigma: Tensor) -> Tensor:
        return la.log_marginal_likelihood(log_prior.exp(), log_sigma.exp())

    return maximise_evidence(evidence, hypers, n_steps, config.marglik_lr, config.min_noise_sd)
