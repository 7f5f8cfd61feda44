"""Log-likelihood of the training data at the MAP parameters, kept as sufficient statistics.

For the Gaussian likelihood only the sum of squared residuals is stored, so the
log-likelihood can be re-evaluated (and differentiated) for any sigma without
touching the data again; for the categorical likelihood the summed cross-entropy is
a constant of the fit.
"""

from __future__ import annotations


import torch
from torch import Tensor
from torch.nn import functional as F

from bdl_core.likelihood import Likelihood, gaussian_log_likelihood


class MapDataFit:
    """Accumulates N, C and the MAP data-fit statistic over mini-batches.

    Args:
        likelihood: ``"regression"`` or ``"classification"``.

    Attributes:
        n_data: N, examples seen.
        n_outputs: C, outputs per example.
        sum_squared_residuals: () sum ||y_n - f_n||^2 (regression).
        nll: () summed cross-entropy (classification).
    """

    def __init__(self, likelihood: str) -> None:
        self.likelihood = Likelihood.of(likelihood)
        self.n_data = 0
        self.n_outputs: int | None = None
        self.sum_squared_residuals: Tensor | None = None
        self.nll: Tensor | None = None

    @torch.no_grad()
    def add_batch(self, f: Tensor, y: Tensor) -> None:
        """Add one mini-batch.

        Args:
            f: (N, C) MAP outputs.
            y: (N, C) regression targets or (N,) class indices.
        """
        self.n_data += f.shape[0]
        self.n_outputs = f.shape[1]
        if self.likelihood.is_regression:
            value = (y.reshape(f.shape).to(f.dtype) - f).pow(2).sum()
            prev = self.sum_squared_residuals
            self.sum_squared_residuals = value if prev is None else prev + value
        else:
            value = F.cross_entropy(f, y.reshape(-1).long(), reduction="sum")
            self.nll = value if self.nll is None else self.nll + value

    def log_likelihood(self, sigma_noise: Tensor | float = 1.0) -> Tensor:
        """log p(D | theta*) (full normalisation constants included).

        Args:
            sigma_noise: () or float Gaussian noise standard deviation (regression only).

        Returns:
            () tensor, differentiable w.r.t. ``sigma_noise``:
            -N C/2 log(2 pi sigma^2) - SSR / (2 sigma^2), or minus the summed cross-entropy.
        """
        if self.n_outputs is None:
            raise RuntimeError("No data was added.")
        if not self.likelihood.is_regression:
            return -self.nll
        sigma = torch.as_tensor(sigma_noise, dtype=self.sum_squared_residuals.dtype,
                                device=self.sum_squared_residuals.device)
        return gaussian_log_likelihood(self.sum_squared_residuals, sigma.pow(2), self.n_data * self.n_outputs)
