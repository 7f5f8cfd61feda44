"""Map prior-precision values of a :class:`~bdl_core.priors.PriorPrecision` structure to (P,).

``Laplace.log_marginal_likelihood(prior_precision=...)`` evaluates the evidence at
precisions other than the stored ones, differentiably in the values passed, without
modifying the stored prior (``PriorPrecision.set_`` is an in-place, non-differentiable
update).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.priors import PriorPrecision


def prior_diagonal_from_values(prior: PriorPrecision, value: float | Tensor) -> Tensor:
    """Per-parameter precisions for given hyperparameter values of ``prior``'s structure.

    Args:
        prior: Defines the structure (and dtype/device).
        value: A positive float or 0-dim tensor (every per-parameter precision equals it,
            for every structure, as in ``PriorPrecision.set_``), or a (n_hyper,) tensor of
            hyperparameter values (scalar: (1,), layerwise: one per parameter tensor,
            unitwise: concatenated factor vectors, parameter: (P,)).

    Returns:
        (P,) precisions, differentiable w.r.t. ``value``.
    """
    ref = prior.log_precision
    value = torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
    if value.ndim == 0:
        return value.expand(prior.n_params)
    if value.shape != (prior.n_hyper,):
        raise ValueError(
            f"prior_precision must be a scalar or have shape ({prior.n_hyper},) for the "
            f"{prior.structure!r} prior, got {tuple(value.shape)}."
        )
    if prior.structure == "scalar":  # a broadcast view, as PriorPrecision.diagonal() gives
        return value.reshape(()).expand(prior.n_params)
    padded = torch.cat([value.log(), value.new_zeros(1)])
    return padded[prior.index].sum(dim=0).exp()
