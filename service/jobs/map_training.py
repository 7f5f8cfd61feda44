"""MAP training of a job's network: Adam on minibatches with weight decay from a Gaussian prior.

The loss per batch is the mean negative log likelihood (cross-entropy, or half the squared error
of standardised targets) plus ``prior_precision / (2 N) * |theta|^2``, i.e. the negative log
joint divided by N, so the MAP matches the prior the Laplace approximation then uses. The prior
term enters as Adam's (coupled, L2) ``weight_decay = prior_precision / N``, whose gradient is the
same, without a per-step reduction over every parameter tensor.
"""

from __future__ import annotations

import torch
from torch import nn

from service.jobs.context import JobContext
from service.jobs.data import DataSplits


def batch_loss(network: nn.Module, x: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    """Mean negative log likelihood (up to constants) of a batch: x (B, D), y (B,) labels or (B, 1) targets."""
    output = network(x)
    if task == "classification":
        return nn.functional.cross_entropy(output, y)
    return 0.5 * (output - y).pow(2).sum(dim=1).mean()


def train_map(context: JobContext, network: nn.Module, data: DataSplits, *, epochs: int, lr: float,
              batch_size: int, prior_precision: float, span: tuple[float, float] = (0.0, 1.0),
              label: str = "MAP training") -> list[float]:
    """Train ``network`` in place; reports progress in ``span`` and checks cancellation every epoch.

    Returns:
        The mean training loss of each epoch (length ``epochs``).
    """
    n = data.x_train.shape[0]
    optimizer = torch.optim.Adam(network.parameters(), lr=lr, weight_decay=prior_precision / n)
    generator = torch.Generator(device="cpu").manual_seed(context.config.seed)
    losses: list[float] = []
    network.train()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(n, generator=generator).to(data.x_train.device)
        total = torch.zeros((), dtype=data.x_train.dtype, device=data.x_train.device)
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = batch_loss(network, data.x_train[rows], data.y_train[rows], context.task)
            loss.backward()
            optimizer.step()
            total += loss.detach() * rows.numel()
        losses.append(float(total) / n)  # one device synchronisation per epoch
        fraction = span[0] + (span[1] - span[0]) * epoch / epochs
        context.progress(fraction, f"{label}: epoch {epoch}/{epochs}, loss {losses[-1]:.4g}", epoch=epoch)
    network.eval()
    return losses
