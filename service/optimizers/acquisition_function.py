"""Which acquisition function a proposal maximises, built for a fitted BoTorch model.

* One point and no pending trials (the common sequential case): analytic
  ``LogExpectedImprovement`` (Ament et al., 2023) with the incumbent ``best_f`` = the
  highest posterior mean at the observed points (the noise-robust incumbent; for a
  deterministic objective it is the best observation). It is exact, needs only the
  marginal posterior at each candidate, and one evaluation costs a small fraction of
  qLogNEI's (which draws 128 joint samples over the candidate and the baseline).
* Otherwise (several points, or pending trials to steer away from): qLogNEI with a
  seeded quasi-MC sampler; the baseline is pre-selected to the observed points with the
  highest posterior mean (``select_baseline``).
"""

from __future__ import annotations

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models.model import Model
from botorch.sampling.normal import SobolQMCNormalSampler
from torch import Tensor


def posterior_mean(model: Model, X: Tensor) -> Tensor:
    """Posterior mean of the objective at ``X`` ``(n, D)`` -> ``(n,)`` (the model's own ``posterior_mean``
    when it has one: the LLA's needs no covariance)."""
    own = getattr(model, "posterior_mean", None)
    if callable(own):
        return own(X).reshape(-1)
    with torch.no_grad():
        return model.posterior(X).mean.reshape(-1)


def select_baseline(model: Model, X_baseline: Tensor, max_points: int) -> Tensor:
    """The ``min(n, max_points)`` rows of ``X_baseline`` ``(n, D)`` with the highest posterior mean."""
    if X_baseline.shape[0] <= max_points:
        return X_baseline
    return X_baseline[posterior_mean(model, X_baseline).topk(max_points).indices]


def build_qlognei(
    model: Model,
    X_baseline: Tensor,
    pending: Tensor,
    mc_samples: int,
    seed: int,
    max_baseline: int = 64,
) -> qLogNoisyExpectedImprovement:
    """qLogNEI with a seeded quasi-MC sampler.

    Args:
        model: fitted model of the (maximisation-oriented) objective on encoded inputs.
        X_baseline: ``(n, D)`` observed points.
        pending: ``(m, D)`` pending points (``m`` may be 0).
        mc_samples: number of quasi-MC samples.
        seed: sampler seed.
        max_baseline: baseline pre-selection size (see ``AcquisitionOptions``).
    """
    X_baseline = select_baseline(model, X_baseline, max_baseline)
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
    return qLogNoisyExpectedImprovement(
        model=model,
        X_baseline=X_baseline,
        sampler=sampler,
        X_pending=pending if pending.shape[0] > 0 else None,
        prune_baseline=True,
    )


def build_logei(model: Model, X_baseline: Tensor) -> LogExpectedImprovement:
    """Analytic LogEI over the best posterior mean at the observed points ``X_baseline`` ``(n, D)``."""
    return LogExpectedImprovement(model=model, best_f=posterior_mean(model, X_baseline).max())


def build_acquisition(
    model: Model,
    X_baseline: Tensor,
    pending: Tensor,
    q: int,
    mc_samples: int,
    seed: int,
    max_baseline: int = 64,
    analytic: bool = True,
) -> AcquisitionFunction:
    """Analytic LogEI for ``q = 1`` without pending points (when ``analytic``), else qLogNEI.

    Args:
        model: fitted model of the (maximisation-oriented) objective on encoded inputs.
        X_baseline: ``(n, D)`` observed points, ``n >= 1``.
        pending: ``(m, D)`` pending points.
        q: number of points optimised jointly.
        mc_samples, seed, max_baseline: qLogNEI settings (see ``build_qlognei``).
        analytic: allow the analytic shortcut.
    """
    if analytic and q == 1 and pending.shape[0] == 0:
        return build_logei(model, X_baseline)
    return build_qlognei(model, X_baseline, pending, mc_samples, seed, max_baseline)
