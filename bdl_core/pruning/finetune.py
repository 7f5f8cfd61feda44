"""Fine-tuning a pruned network at the MAP of its (learned) prior, with the mask held.

The objective per minibatch is the negative log joint divided by N,

    mean_n -log p(y_n | f(x_n; theta))  +  theta^T diag(delta) theta / (2 N),

with -log p the cross-entropy or ||y - f||^2 / (2 sigma^2), and delta the per-parameter prior precision: the weight decay of MAP training, or the
prior learned by marginal-likelihood training (so a unit-wise prior that shrank a unit
keeps shrinking it). Pruned entries stay exactly zero (:class:`PruningMask`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bdl_core.curvature import ParameterLayout
from bdl_core.likelihood import Likelihood

from .mask import PruningMask


def finetune_masked(
    model: nn.Module,
    mask: PruningMask,
    X: Tensor,
    y: Tensor,
    likelihood: str,
    epochs: int,
    prior_diagonal: Tensor | float = 1.0,
    sigma_noise: float = 1.0,
    lr: float = 1e-3,
    batch_size: int = 128,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Adam on the MAP objective for ``epochs`` epochs with ``mask`` held.

    Args:
        model: The pruned network (trained in place; left in eval mode).
        mask: Its pruning mask (its layout's parameters are the ones trained).
        X: (N, *in_shape) training inputs.
        y: (N, C) regression targets or (N,) class indices.
        likelihood: ``"regression"`` or ``"classification"``.
        epochs: Passes over the data (0: only the mask is applied).
        prior_diagonal: (P,) per-parameter prior precisions in layout order, or one float.
        sigma_noise: Gaussian noise std (regression).
        lr: Adam learning rate.
        batch_size: Minibatch size.
        generator: CPU generator for the shuffling.

    Returns:
        Mean training objective of each epoch (length ``epochs``).
    """
    layout: ParameterLayout = mask.layout
    params = layout.parameters()
    delta = torch.as_tensor(prior_diagonal, dtype=layout.dtype, device=layout.device).detach()
    noise_scale = 1.0 if not Likelihood.of(likelihood).is_regression else 1.0 / sigma_noise**2
    n = X.shape[0]
    history: list[float] = []
    with mask.held():
        if epochs <= 0:
            return history
        optimizer = torch.optim.Adam(params, lr=lr)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator).to(X.device)
            total = 0.0
            for start in range(0, n, batch_size):
                rows = order[start : start + batch_size]
                optimizer.zero_grad(set_to_none=True)
                f = model(X[rows])
                nll = Likelihood.of(likelihood).negative_log_likelihood(f.reshape(rows.numel(), -1), y[rows],
                                                                        normalised=False)
                theta = torch.cat([p.reshape(-1) for p in params])
                penalty = 0.5 * (delta * theta.pow(2)).sum() / n
                loss = noise_scale * nll / rows.numel() + penalty
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * rows.numel()
            history.append(total / n)
        model.eval()
    return history
