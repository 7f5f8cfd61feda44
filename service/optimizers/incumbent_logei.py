"""LogEI against the incumbent as a random variable, for any BoTorch model (one point, no pending).

``f(x) - f(x*)``, with ``x*`` the observed point of highest posterior mean, is Gaussian under the
joint posterior of ``(x, x*)``: mean ``mu(x) - mu(x*)``, variance ``var(x) + var(x*) - 2 cov(x, x*)``.
Its log expected positive part is qLogNEI's quantity for one point with the baseline reduced to
its best point, in closed form; ``logei_search.LogEIObjective`` computes the same for the GP in
numpy. Here it is a BoTorch ``AcquisitionFunction`` (autograd, ``optimize_acqf``) for models
without that fast path, such as the linearised Laplace model: each evaluation needs the joint
posterior at 2 points per candidate instead of qLogNEI's candidate plus up to 64 baseline
points (``AcquisitionOptions.max_baseline``), and for the LLA every point costs a network
Jacobian and a product with the posterior factor.

Written here because BoTorch's analytic ``LogExpectedImprovement`` takes a fixed ``best_f`` and
its ``LogNoisyExpectedImprovement`` needs a GPyTorch model to fantasise on. ``log_h`` uses
BoTorch's public stable primitives; ``tests/optimizers/test_incumbent_logei.py`` checks it
against 50-digit arithmetic and the acquisition against the numpy GP version.
"""

from __future__ import annotations

import math

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models.model import Model
from botorch.utils.probability.utils import log_erfcx, log_ndtr, log_phi
from botorch.utils.safe_math import log1mexp
from torch import Tensor

MIN_VARIANCE = 1e-24  # floor of the variance of the difference (model units squared)
_LOG_SQRT_HALF_PI = 0.5 * math.log(math.pi / 2)
_ASYMPTOTIC_Z = -1e6


def log_h(z: Tensor) -> Tensor:
    """``log(phi(z) + z Phi(z))`` for any ``z`` (same three branches as ``logei_search.log_h``), differentiable."""
    direct_z = z.clamp_min(-1.0)
    direct = torch.log(torch.exp(log_phi(direct_z)) + direct_z * torch.exp(log_ndtr(direct_z)))
    tail_z = z.clamp(max=-1.0, min=_ASYMPTOTIC_Z)
    tail = log_phi(tail_z) + log1mexp(torch.log(-tail_z) + log_erfcx(-tail_z / math.sqrt(2)) + _LOG_SQRT_HALF_PI)
    far_z = z.clamp(max=_ASYMPTOTIC_Z)
    far = log_phi(far_z) - 2 * torch.log(-far_z)
    return torch.where(z > -1.0, direct, torch.where(z > _ASYMPTOTIC_Z, tail, far))


class IncumbentLogEI(AcquisitionFunction):
    """LogEI of ``f(x) - f(x*)`` (module docstring) for a single-output model, maximisation.

    Args:
        model: a fitted single-output BoTorch model.
        X_baseline: ``(n, D)`` observed points; ``x*`` is the one with the highest posterior mean.
    """

    def __init__(self, model: Model, X_baseline: Tensor) -> None:
        super().__init__(model=model)
        with torch.no_grad():
            means = model.posterior(X_baseline.unsqueeze(-2)).mean.reshape(-1)
        self.register_buffer("incumbent", X_baseline[int(means.argmax())].detach().clone())

    def forward(self, X: Tensor) -> Tensor:
        """LogEI at ``X`` ``(b, 1, D)`` -> ``(b,)``."""
        if X.shape[-2] != 1:
            raise ValueError("IncumbentLogEI scores one point per batch (q = 1)")
        pairs = torch.cat([X, self.incumbent.expand(X.shape)], dim=-2)  # (b, 2, D)
        posterior = self.model.posterior(pairs)
        mean = posterior.mean.squeeze(-1)  # (b, 2)
        cov = posterior.mvn.covariance_matrix  # (b, 2, 2)
        var = (cov[..., 0, 0] + cov[..., 1, 1] - 2.0 * cov[..., 0, 1]).clamp_min(MIN_VARIANCE)
        sd = var.sqrt()
        return log_h((mean[..., 0] - mean[..., 1]) / sd) + sd.log()
