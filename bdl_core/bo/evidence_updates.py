"""One marginal-likelihood update of the LLA hyperparameters at the current network weights.

Two forms of the same Laplace-GGN evidence, chosen like the posterior (``lla_fit``):

* :func:`function_space_update` (n < P): the Gram-block evidence of ``function_space_evidence``.
* :func:`parametric_update` (n >= P): the library's evidence of the ``bdl_core.laplace``
  posterior (K-FAC or full, factorised once per update), with the prior centred at
  ``prior_mean`` (the network's initialisation, or zero) through the posterior's
  :class:`~bdl_core.hyperparameters.Hyperparameters`.

Both keep the network fixed, tune with the one loop
(:func:`bdl_core.laplace.hyperparameter_tuning.maximise_evidence`) and return new
hyperparameters (sigma >= the floor).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.hyperparameters import Hyperparameters
from bdl_core.laplace import Laplace, LaplacePosterior
from bdl_core.laplace.hyperparameter_tuning import maximise_evidence

from .config import LLAConfig
from .function_space_evidence import LOG_PRIOR_BOUNDS, squared_offsets, tune_function_space
from .multi_output_mlp import MultiOutputMLP, multi_gram_blocks
from .tangent_mlp import TangentMLP, gram_blocks


def function_space_update(config: LLAConfig, prior_mean: list[Tensor] | None, net: TangentMLP | MultiOutputMLP,
                          inputs: Tensor, y: Tensor, hypers: Hyperparameters, n_steps: int) -> Hyperparameters:
    """Evidence update in function-space form, for one output or several.

    Args:
        config: tuning settings (``marglik_lr``, ``min_noise_sd``).
        prior_mean: prior mean per parameter tensor (None: zero).
        net: the network at its current weights (a :class:`TangentMLP`, or a
            :class:`MultiOutputMLP` with m outputs).
        inputs: (n, d_in) network inputs.
        y: (n,) standardised targets, or (n, m) for the multi-output network.
        hypers: starting hyperparameters (log sigma () or (m,)).
        n_steps: Adam steps.
    """
    with torch.no_grad():
        features = net.tangent_features(inputs)
        if isinstance(net, MultiOutputMLP):
            grams, sse = multi_gram_blocks(features), (features.f - y).pow(2).sum(0)
        else:
            grams, sse = gram_blocks(features), (features.f - y).pow(2).sum()
        theta_sq = squared_offsets(list(net.parameters()), prior_mean)
    return tune_function_space(grams, sse, theta_sq, hypers, n_steps, config.marglik_lr, config.min_noise_sd)


def _flat(prior_mean: list[Tensor] | None) -> Tensor | None:
    return None if prior_mean is None else torch.cat([mu.detach().reshape(-1) for mu in prior_mean])


def parametric_laplace(config: LLAConfig, net: TangentMLP, inputs: Tensor, y: Tensor,
                       hypers: Hyperparameters, prior_mean: list[Tensor] | None = None) -> LaplacePosterior:
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
                 prior_precision=hypers.log_prior.detach().exp(), sigma_noise=hypers.sigma.detach(),
                 min_sigma_noise=config.min_noise_sd, prior_mean=_flat(prior_mean))
    return la.fit(inputs.detach(), y.detach().unsqueeze(-1))


def parametric_update(config: LLAConfig, prior_mean: list[Tensor] | None, net: TangentMLP,
                      inputs: Tensor, y: Tensor, hypers: Hyperparameters, n_steps: int,
                      la: LaplacePosterior | None = None) -> Hyperparameters:
    """Evidence update with the library's parametric posterior precision.

    Args:
        config, prior_mean, net, inputs, y, hypers, n_steps: as in :func:`function_space_update`.
        la: an already fitted :func:`parametric_laplace` of ``net`` (fitted here if None); its prior
            mean is set to ``prior_mean``.
    """
    la = la if la is not None else parametric_laplace(config, net, inputs, y, hypers, prior_mean)
    la.hypers.prior_mean = _flat(prior_mean)
    tuned = hypers.clone()

    def evidence() -> Tensor:
        return la.log_marginal_likelihood(tuned.log_prior.exp(), tuned.log_sigma.exp())

    maximise_evidence(evidence, tuned, n_steps, config.marglik_lr, learn_sigma=True, floor=config.min_noise_sd,
                      prior_bounds=LOG_PRIOR_BOUNDS, record=False)
    return tuned
