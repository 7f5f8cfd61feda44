"""Linearised-Laplace (LLA) policy: the GP policy's loop with a neural-network surrogate.

Everything except the model is the GP policy's: the Sobol initial design, qLogNEI over
the encoded box with pending points (``acquisition.propose_batch``), rounding of
integers/categoricals, de-duplication, Sobol filling, the ``safe`` retry and the Sobol
fallback (``policy="lla->sobol-fallback"``), and ``predict``. This class only overrides
how the model is obtained (``_fitted_model``):

* one cached fitted :class:`bdl_core.bo.LLAModel` per study (``cache_key``), reused as is
  while the observations are unchanged (e.g. a suggest with new pending trials only, or
  ``predict`` after ``suggest``): no refit, the posterior's factorisation is reused;
* when the observations only grew (every cached row is still there), the new fit is
  warm-started from the cached network and hyperparameters (``warm_epochs`` Adam steps
  instead of ``epochs``); otherwise (other data, other options, ``safe``) it starts cold;
* categorical columns are one-hot encoded inside the model (``InputEncoder``); integer
  columns are relaxed to the unit interval and rounded by the shared acquisition code.

Known observation-noise variances are not used: the LLA infers one homoskedastic noise
level by the marginal likelihood (with a floor).

Options: the study's ``surrogate_options`` (``request.surrogate_options``, validated by
:class:`LLAOptions` when the study was created) configure the network and its training;
a request without options uses the policy's defaults.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from bdl_core.bo import InputEncoder, LLAConfig, LLAModel, fit_lla_model
from service.optimizers.acquisition import AcquisitionOptions
from service.optimizers.base import SuggestRequest, Suggestion
from service.optimizers.gp import GPPolicy
from service.optimizers.gp_model import GPData
from service.optimizers.lla_options import LLAOptions
from service.optimizers.warm_start_cache import data_fingerprint

# qLogNEI budget: the GP's. A smaller multi-start (4 restarts, 256 raw samples, 60
# iterations) was tried to save time and cost optimisation quality: Hartmann6 median
# regret after 60 evaluations, seeds 0-4, 0.204 with it vs 0.038 with the GP's budget.
LLA_ACQUISITION = AcquisitionOptions()


@dataclass(frozen=True)
class CachedLLA:
    """A study's last fitted model (stored in the policy's LRU ``cache``).

    Attributes:
        kind: the configuration and input layout it was fitted with.
        fingerprint: digest of the (X, y) it was fitted on.
        model: the fitted model (immutable).
    """

    kind: tuple
    fingerprint: str
    model: LLAModel


def only_grew(old_X: Tensor, old_y: Tensor, X: Tensor, y: Tensor) -> bool:
    """True when every row of (old_X, old_y) occurs in (X, y) (as a multiset, any order).

    Args:
        old_X: (m, D), old_y: (m,) the data of the cached fit.
        X: (n, D), y: (n,) the current data.
    """
    if old_X.shape[0] > X.shape[0] or old_X.shape[1] != X.shape[1]:
        return False

    def rows(A: Tensor, b: Tensor) -> Counter:
        table = torch.cat([A, b.reshape(-1, 1).to(A)], dim=1).detach().cpu().contiguous()
        return Counter(bytes(r.numpy().tobytes()) for r in table)

    old, new = rows(old_X, old_y), rows(X, y)
    return all(new[r] >= c for r, c in old.items())


class LLAPolicy(GPPolicy):
    """BO with a linearised-Laplace neural network (see module docstring).

    Args:
        acquisition_options: budget of the qLogNEI optimisation.
        cache_capacity: number of studies whose fitted model is kept.
        default_options: options used when a request carries none.
    """

    name = "lla"

    def __init__(self, acquisition_options: AcquisitionOptions = LLA_ACQUISITION, cache_capacity: int = 32,
                 default_options: LLAOptions | None = None) -> None:
        super().__init__(acquisition_options, cache_capacity)
        self.default_options = default_options or LLAOptions()

    def options_for(self, request: SuggestRequest) -> LLAOptions:
        """The study's options (``request.surrogate_options``) or, when it has none, the defaults."""
        raw = request.surrogate_options
        return LLAOptions.model_validate(raw) if raw else self.default_options

    def _fitted_model(self, request: SuggestRequest, data: GPData, safe: bool) -> tuple[LLAModel, dict[str, Any]]:
        config: LLAConfig = self.options_for(request).to_config(safe=safe)
        space = request.space
        kind = (config, space.dim, tuple(sorted(space.n_choices.items())))
        fingerprint = data_fingerprint(data.X, data.y)
        cached = None if safe else self.cache.get(request.cache_key)
        if cached is not None and cached.kind == kind and cached.fingerprint == fingerprint:
            model = cached.model
            return model, {"fit_seconds": 0.0, "fit_skipped": True, "warm_started": False,
                           "regime": model.info["regime"]}
        warm = None
        if cached is not None and cached.kind == kind:
            old = cached.model
            if only_grew(old.train_X, old.train_Y.reshape(-1), data.X, data.y):
                warm = old
        seed = int(request.seed) + (1 if safe else 0)
        model = fit_lla_model(data.X, data.y, InputEncoder(space.dim, space.n_choices, config.input_embedding), config, warm=warm, seed=seed)
        if not safe:
            self.cache.put(request.cache_key, CachedLLA(kind, fingerprint, model))  # type: ignore[arg-type]
        info = {key: model.info[key] for key in ("fit_seconds", "warm_started", "regime", "noise_sd")}
        info["fit_skipped"] = False
        return model, info

    def _sobol(self, request: SuggestRequest, policy: str, info: dict) -> Suggestion:
        """The GP policy's Sobol draw, with the fallback labelled ``lla->sobol-fallback``."""
        if policy.startswith("gp->"):
            policy = f"{self.name}->" + policy.removeprefix("gp->")
        return super()._sobol(request, policy, info)
