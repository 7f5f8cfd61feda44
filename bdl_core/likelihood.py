"""The likelihood of a network's outputs: one object instead of strings.

``Likelihood.REGRESSION`` is a Gaussian with noise std sigma (curvature computed with unit
noise and rescaled by 1 / sigma^2); ``Likelihood.CLASSIFICATION`` a categorical (softmax over
C logits, or a Bernoulli on one logit for the additive model). It is a ``StrEnum``, so the
names clients and configs use (``"regression"``, ``"classification"``) convert to it with
:meth:`Likelihood.of` and compare equal to it; code asks the object (``is_regression``,
:meth:`curvature_scale`, :meth:`targets`) instead of comparing strings.
"""

from __future__ import annotations

import math
from enum import StrEnum

import torch
from torch import Tensor
from torch.nn import functional as F

LIKELIHOODS = ("regression", "classification")
LOG_2PI = math.log(2.0 * math.pi)


class Likelihood(StrEnum):
    """Gaussian regression or categorical classification."""

    REGRESSION = "regression"
    CLASSIFICATION = "classification"

    @classmethod
    def of(cls, value: str | Likelihood) -> Likelihood:
        """The likelihood named ``value`` (``ValueError`` naming the choices otherwise)."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {value!r}.") from None

    @property
    def is_regression(self) -> bool:
        """True for the Gaussian likelihood (it has a learnable noise)."""
        return self is Likelihood.REGRESSION

    def curvature_scale(self, sigma: Tensor) -> Tensor | float:
        """Factor of the unit-noise curvature: ``sigma ** -2`` (regression) or 1."""
        return sigma.pow(-2) if self.is_regression else 1.0

    def negative_log_likelihood(self, f: Tensor, y: Tensor, sigma: Tensor | float = 1.0, *,
                                normalised: bool = True) -> Tensor:
        """() summed -log p(y | f) over the examples, normalisation constants included.

        Args:
            f: (N, C) outputs (logits: a softmax over C classes), or (N,) one output per example
                (for classification a Bernoulli logit, the additive model's binary output).
            y: Regression targets (reshaped to ``f``); class indices (N,) (labels in {0, 1}
                for one logit).
            sigma: () or float Gaussian noise std (regression only; differentiable).
            normalised: False: the regression loss with unit noise and its constants dropped,
                ``0.5 ||y - f||^2`` (the form whose output derivatives the curvature uses).

        Returns:
            () tensor, differentiable w.r.t. ``f`` (and ``sigma``).
        """
        if self.is_regression:
            sigma = torch.as_tensor(sigma, dtype=f.dtype, device=f.device)
            residual = y.reshape(f.shape).to(f.dtype) - f
            if not normalised:
                return 0.5 * residual.pow(2).sum()
            return -gaussian_log_likelihood(residual.pow(2).sum(), sigma.pow(2), f.numel())
        if f.dim() == 1:
            return F.binary_cross_entropy_with_logits(f, y.reshape(f.shape).to(f.dtype), reduction="sum")
        return F.cross_entropy(f, y.reshape(-1).long(), reduction="sum")

    def targets(self, y: Tensor, dtype: torch.dtype, device: torch.device) -> Tensor:
        """``y`` on ``device``: real targets in ``dtype`` (regression) or long class indices."""
        return y.to(device=device, dtype=dtype) if self.is_regression else y.to(device).long()


def check_likelihood(likelihood: str | Likelihood) -> Likelihood:
    """The :class:`Likelihood` named ``likelihood`` (``ValueError`` unless it is one)."""
    return Likelihood.of(likelihood)


def gaussian_log_likelihood(sse: Tensor, variance: Tensor | float, n: int | float = 1) -> Tensor:
    """The Gaussian log density, the one place its formula is written: ``-1/2 [n log(2 pi v) + sse / v]``.

    The log density of ``n`` residuals with summed squares ``sse`` under N(0, v); with ``n = 1``
    and ``sse`` the squared residual of each entry it is the per-entry log density. Elementwise,
    broadcasting ``sse`` against ``variance``: sum the result over outputs or entries.

    Args:
        sse: Summed squared residuals: () for one output, (m,) one per output, or any shape
            (one per entry, with ``n = 1``).
        variance: Noise variance(s) (> 0), a float or a tensor broadcastable to ``sse``
            (differentiable).
        n: Number of residuals summed into each entry of ``sse``.

    Returns:
        Tensor of the broadcast shape of ``sse`` and ``variance``.
    """
    variance = torch.as_tensor(variance, dtype=sse.dtype, device=sse.device)
    return -0.5 * (n * (LOG_2PI + variance.log()) + sse / variance)
