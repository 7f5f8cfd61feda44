"""Gaussian-process policy: Sobol initial design, then GP + qLogNEI.

Initial design rule: while ``completed + pending < n_initial`` (or there is no
completed observation at all) the whole batch comes from the study's Sobol
sequence. Counting pending trials lets parallel workers share one initial design
instead of each receiving Sobol points until the first results arrive.

Model phase: fit the GP (``gp_model``), maximise qLogNEI for the batch
(``acquisition``; points beyond the 8th of a batch come from Thompson sampling),
canonicalize (round ints/categoricals), drop points equal to an observed/pending point
or to each other, and fill the gap with Sobol points.

Robustness: any exception (or non-finite result) in fitting or acquisition triggers one
retry with the ``safe`` model configuration; a second failure falls back to Sobol with
``policy="gp->sobol-fallback"`` and the reason in ``info``. ``suggest`` never raises
for data problems.
"""

from __future__ import annotations

import logging
import time

import torch
from torch import Tensor

from service.optimizers.acquisition import AcquisitionOptions, propose_batch
from service.optimizers.base import Policy, PredictionUnavailable, SuggestRequest, Suggestion
from service.optimizers.distinct_points import select_distinct
from service.optimizers.gp_model import GPData, fit_gp, numerical_settings
from service.optimizers.sobol import draw_sobol
from service.optimizers.warm_start_cache import WarmStartCache

logger = logging.getLogger(__name__)


class GPPolicy(Policy):
    """GP-based Bayesian optimisation with a Sobol initial design (see module docstring).

    Args:
        acquisition_options: budget of the acquisition optimisation.
        cache_capacity: number of studies whose fitted hyperparameters are kept.
    """

    name = "gp"

    def __init__(
        self,
        acquisition_options: AcquisitionOptions = AcquisitionOptions(),
        cache_capacity: int = 64,
    ) -> None:
        self.acquisition_options = acquisition_options
        self.cache = WarmStartCache(cache_capacity)

    # ------------------------------------------------------------------ suggest
    def suggest(self, request: SuggestRequest) -> Suggestion:
        """``request.count`` points, ``Suggestion.X`` of shape ``(count, D)``; never raises."""
        data = GPData.from_request(request.X, request.y, request.y_var)
        n_pending = int(request.pending.shape[0])
        if data.n == 0 or data.n + n_pending < request.n_initial:
            return self._sobol(request, policy="sobol", info={"phase": "initial_design"})
        errors: list[str] = []
        for safe in (False, True):
            try:
                return self._model_suggest(request, data, safe)
            except Exception as exc:  # noqa: BLE001 - any failure must end in a fallback
                errors.append(f"{type(exc).__name__}: {exc}")
                logger.warning(
                    "GP suggest failed (safe=%s, study=%s): %s", safe, request.cache_key, errors[-1],
                    exc_info=logger.isEnabledFor(logging.DEBUG),
                )
        return self._sobol(
            request, policy="gp->sobol-fallback", info={"fallback_reason": " | ".join(errors)}
        )

    def _model_suggest(self, request: SuggestRequest, data: GPData, safe: bool) -> Suggestion:
        model, info = self._fitted_model(request, data, safe)
        start = time.perf_counter()
        with numerical_settings(safe):
            raw = propose_batch(
                model,
                request.space,
                X_baseline=data.X,
                pending=request.pending,
                count=request.count,
                seed=_proposal_seed(request),
                options=self.acquisition_options,
            )
        if not bool(torch.isfinite(raw).all()):
            raise ValueError("acquisition optimisation returned non-finite points")
        candidates = request.space.canonicalize(raw)
        avoid = torch.cat([data.X, request.pending.to(data.X)])
        chosen = select_distinct(candidates, avoid, request.count)
        info["acq_seconds"] = time.perf_counter() - start
        info["safe_mode"] = safe
        n_missing = request.count - chosen.shape[0]
        if n_missing > 0:
            fill = draw_sobol(
                request.space, request.seed, request.n_suggested, n_missing,
                avoid=torch.cat([avoid, chosen]), dtype=data.X.dtype, device=data.X.device,
            )
            chosen = torch.cat([chosen, fill])
            info["sobol_filled"] = n_missing
        return Suggestion(X=chosen, policy=self.name, info=info)

    def _fitted_model(self, request: SuggestRequest, data: GPData, safe: bool):
        warm = self.cache.get(request.cache_key)
        model, state, info = fit_gp(request.space, data, warm=warm, safe=safe)
        if not safe:
            self.cache.put(request.cache_key, state)
        return model, info

    def _sobol(self, request: SuggestRequest, policy: str, info: dict) -> Suggestion:
        avoid = torch.cat([request.X, request.pending.to(request.X)])
        X = draw_sobol(
            request.space, request.seed, request.n_suggested, request.count,
            avoid=avoid, dtype=request.X.dtype, device=request.X.device,
        )
        return Suggestion(X=X, policy=policy, info=info)

    # ------------------------------------------------------------------ predict
    def predict(self, request: SuggestRequest, X: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and sd of the latent objective at ``X`` ``(k, D)`` -> ``(k,)``, ``(k,)``.

        Units are those of ``request.y`` (maximisation-oriented). Reuses the cached fit
        when the data did not change since the last call for ``request.cache_key``.

        Raises:
            PredictionUnavailable: no finite observation, or fitting failed twice.
        """
        data = GPData.from_request(request.X, request.y, request.y_var)
        if data.n == 0:
            raise PredictionUnavailable("no completed observation to fit a model on")
        last_error: Exception | None = None
        for safe in (False, True):
            try:
                model, _ = self._fitted_model(request, data, safe)
                with torch.no_grad(), numerical_settings(safe):
                    posterior = model.posterior(X.to(data.X))
                    mean = posterior.mean.reshape(-1)
                    sd = posterior.variance.clamp_min(0.0).sqrt().reshape(-1)
                if not (bool(torch.isfinite(mean).all()) and bool(torch.isfinite(sd).all())):
                    raise ValueError("non-finite posterior")
                return mean, sd
            except Exception as exc:  # noqa: BLE001
                last_error = exc
                logger.warning("GP predict failed (safe=%s, study=%s): %s", safe, request.cache_key, exc)
        raise PredictionUnavailable(f"model fitting failed: {last_error}") from last_error


def _proposal_seed(request: SuggestRequest) -> int:
    """Per-call seed: reproducible for a study, different for each call."""
    return (int(request.seed) * 1_000_003 + request.n_suggested) % (2**31 - 1)
