"""The model-based policy: Sobol initial design, then any surrogate + qLogNEI.

One policy serves every registered surrogate; a surrogate only fits a model
(``surrogate.Surrogate``). The policy owns:

* the initial design: while ``completed + pending < n_initial`` (or there is no completed
  observation) the whole batch comes from the study's Sobol sequence; counting pending trials
  lets parallel workers share one initial design;
* the acquisition: qLogNEI over the encoded box with pending points (``acquisition``; points
  beyond the 8th of a batch from Thompson sampling), rounding of ints/categoricals, dropping
  points equal to an observed/pending point or to each other, and filling with Sobol points;
* output warping: with one objective and inferred noise, the surrogate is fitted on a
  Yeo-Johnson warp of the outcomes when its ``output_warping`` option and the data call for one
  (``output_warping``; ``info["output_warp_lambda"]`` records it); predictions stay in raw units;
* the acquisition's region: the whole space, or with one objective and the surrogate option
  ``trust_region_side`` a box around the best observation (``trust_region``);
* robustness: any exception (or non-finite result) in fitting or acquisition triggers one
  retry with the surrogate's ``safe`` configuration; a second failure falls back to Sobol
  (``Suggestion.fallback_reason`` says why; the trial's policy reads ``"<name>->sobol-fallback"``);
* state: the surrogate's warm state comes in and the new one goes out with the answer.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import torch
from pydantic import BaseModel
from torch import Tensor

from service.optimizers.acquisition import AcquisitionOptions, optimization_bounds, propose_batch
from service.optimizers.base import Policy, Prediction, PredictionUnavailable, SuggestRequest, Suggestion
from service.optimizers.constrained_acquisition import propose_constrained
from service.optimizers.multi_outcome import fit_outcomes
from service.optimizers.output_warping import OutputWarp, choose_output_warp
from service.optimizers.distinct_points import select_distinct
from service.optimizers.gp_model import GPData, numerical_settings
from service.optimizers.sobol import draw_sobol
from service.optimizers.surrogate import FittedSurrogate, Surrogate
from service.optimizers.surrogate_state import SurrogateState
from service.optimizers.trust_region import best_point, trust_region_bounds
from service.optimizers.trust_region_options import TrustRegionOptions
from service.optimizers.warping_options import OutputWarpingOptions

logger = logging.getLogger(__name__)


class ModelBasedPolicy(Policy):
    """Bayesian optimisation with one surrogate (see module docstring).

    Args:
        surrogate: the model.
        acquisition_options: budget of the acquisition optimisation (default: the surrogate's).
    """

    def __init__(self, surrogate: Surrogate, acquisition_options: AcquisitionOptions | None = None) -> None:
        self.surrogate = surrogate
        self.name = surrogate.name
        self.acquisition_options = acquisition_options or surrogate.acquisition_options()

    def options(self, request: SuggestRequest) -> BaseModel | None:
        """The study's ``surrogate_options`` parsed by the surrogate's options model."""
        model = self.surrogate.options_model
        return None if model is None else model.model_validate(dict(request.surrogate_options or {}))

    def fit(self, request: SuggestRequest, data: GPData, warm: SurrogateState | None, safe: bool) -> FittedSurrogate:
        """The surrogate fitted on ``data`` (no warm start when ``safe``)."""
        return self.surrogate.fit(
            request.space, data, options=self.options(request), warm=None if safe else warm,
            safe=safe, seed=int(request.seed),
        )

    def fit_all(self, request: SuggestRequest, data: GPData, warm: SurrogateState | None, safe: bool) -> FittedSurrogate:
        """The objective's model; for several outcomes the surrogate's joint model, else one model per
        outcome (``multi_outcome``), with the outcomes' names in ``info["outcomes"]``."""
        if request.outcomes is None:
            return self.fit(request, data, warm, safe)
        fitted = self.surrogate.fit_joint(
            request.space, request.X, request.outcomes.Y, options=self.options(request),
            warm=None if safe else warm, safe=safe, seed=int(request.seed),
        )
        if fitted is None:
            fitted = fit_outcomes(lambda one, part: self.fit(request, one, part, safe), request.X,
                                  request.outcomes.Y, warm)
        return replace(fitted, info={**fitted.info, "outcomes": list(request.outcomes.names)})

    # ------------------------------------------------------------------ suggest
    def suggest(self, request: SuggestRequest, warm: SurrogateState | None = None) -> Suggestion:
        """``request.count`` points, ``Suggestion.X`` of shape ``(count, D)``; never raises."""
        data = GPData.from_request(request.X, request.y, request.y_var)
        n_pending = int(request.pending.shape[0])
        if data.n == 0 or data.n + n_pending < request.n_initial:
            X = self.sobol_points(request, request.count)
            return Suggestion(X=X, policy="sobol", info={"phase": "initial_design"}, state=warm)
        errors: list[str] = []
        for safe in (False, True):
            try:
                return self.model_suggest(request, data, warm, safe)
            except Exception as exc:  # noqa: BLE001 - any failure must end in a fallback
                errors.append(f"{type(exc).__name__}: {exc}")
                logger.warning(
                    "%s suggest failed (safe=%s, study=%s): %s", self.name, safe, request.cache_key, errors[-1],
                    exc_info=logger.isEnabledFor(logging.DEBUG),
                )
        return Suggestion(
            X=self.sobol_points(request, request.count),
            policy=f"{self.name}->sobol-fallback",
            info={"phase": "fallback"},
            fallback_reason=" | ".join(errors),
            state=warm,
        )

    def warped(self, request: SuggestRequest, data: GPData) -> tuple[GPData, OutputWarp | None]:
        """``data`` with its outcomes warped when the study's options and the data call for it
        (one objective, inferred noise; module docstring)."""
        options = self.options(request)
        mode = options.output_warping if isinstance(options, OutputWarpingOptions) else "off"
        if request.outcomes is not None or data.y_var is not None or mode == "off":
            return data, None
        warp = choose_output_warp(data.y, mode)
        if warp is None:
            return data, None
        return GPData(X=data.X, y=warp(data.y), y_var=None), warp

    def model_suggest(self, request: SuggestRequest, data: GPData, warm: SurrogateState | None,
                      safe: bool) -> Suggestion:
        """Fit, maximise the acquisition, canonicalise and de-duplicate (raises on failure)."""
        data, warp = self.warped(request, data)
        fitted = self.fit_all(request, data, warm, safe)
        info = dict(fitted.info)
        if warp is not None:
            info["output_warp_lambda"] = warp.lmbda
        start = time.perf_counter()
        with numerical_settings(safe):
            if request.outcomes is None and not request.linear_constraints:
                raw = propose_batch(
                    fitted.model,
                    request.space,
                    X_baseline=data.X,
                    pending=request.pending,
                    count=request.count,
                    seed=proposal_seed(request),
                    options=self.acquisition_options,
                    fixed=dict(request.fixed),
                    region=self.trust_region(request, data),
                )
            else:  # several outcomes or linear constraints (held parameters are set afterwards)
                raw = propose_constrained(
                    fitted.model, request.space, data.X, request.pending, request.count, proposal_seed(request),
                    request.outcomes, request.linear_constraints, self.acquisition_options,
                )
        if not bool(torch.isfinite(raw).all()):
            raise ValueError("acquisition optimisation returned non-finite points")
        candidates = request.space.apply_fixed(request.space.canonicalize(raw), request.fixed)
        if request.linear_constraints:  # rounding may cross a constraint: such points are replaced
            candidates = candidates[request.feasible(candidates)]
        avoid = torch.cat([data.X, request.pending.to(data.X)])
        chosen = select_distinct(candidates, avoid, request.count)
        info["acq_seconds"] = time.perf_counter() - start
        info["safe_mode"] = safe
        n_missing = request.count - chosen.shape[0]
        if n_missing > 0:
            fill = draw_sobol(
                request.space, request.seed, request.n_suggested, n_missing,
                avoid=torch.cat([avoid, chosen]), dtype=data.X.dtype, device=data.X.device,
                feasible=request.feasible, fixed=dict(request.fixed),
            )
            chosen = torch.cat([chosen, fill])
            info["sobol_filled"] = n_missing
        state = fitted.state if fitted.state is not None else warm
        return Suggestion(X=chosen, policy=str(info.pop("label", self.name)), info=info, state=state)

    def trust_region(self, request: SuggestRequest, data: GPData) -> Tensor | None:
        """``(2, D)`` box around the best observation when the study's ``trust_region_side`` and
        ``trust_region_share`` ask for one at this suggest (``trust_region``), else None (the whole space)."""
        options = self.options(request)
        if not isinstance(options, TrustRegionOptions) or \
                not options.uses_trust_region(request.n_suggested, request.space.numeric_dim):
            return None
        center = best_point(data.X, data.y)
        if center is None:
            return None
        bounds = optimization_bounds(request.space, data.X.dtype, data.X.device)
        return trust_region_bounds(request.space, bounds, center, options.trust_region_side, held=request.fixed)

    def sobol_points(self, request: SuggestRequest, count: int) -> Tensor:
        """``(count, D)`` points of the study's Sobol sequence, avoiding observed and pending ones."""
        avoid = torch.cat([request.X, request.pending.to(request.X)])
        return draw_sobol(
            request.space, request.seed, request.n_suggested, count,
            avoid=avoid, dtype=request.X.dtype, device=request.X.device, feasible=request.feasible,
            fixed=dict(request.fixed),
        )

    # ------------------------------------------------------------------ predict
    def predict(self, request: SuggestRequest, X: Tensor, warm: SurrogateState | None = None) -> Prediction:
        """Posterior mean and sd at ``X`` ``(k, D)``, in the units of ``request.y``.

        Returns ``(k,)`` means and sds, or ``(k, m)`` with one column per outcome when the
        request has several (``request.outcomes``, objectives maximisation-oriented).

        Raises:
            PredictionUnavailable: no finite observation, or fitting failed twice.
        """
        data = GPData.from_request(request.X, request.y, request.y_var)
        if data.n == 0:
            raise PredictionUnavailable("no completed observation to fit a model on")
        last_error: Exception | None = None
        for safe in (False, True):
            try:
                fitted = self.fit_all(request, data, warm, safe)
                with torch.no_grad(), numerical_settings(safe):
                    posterior = fitted.model.posterior(X.to(data.X))
                    mean, sd = posterior.mean, posterior.variance.clamp_min(0.0).sqrt()
                if request.outcomes is None:
                    mean, sd = mean.reshape(-1), sd.reshape(-1)
                if not (bool(torch.isfinite(mean).all()) and bool(torch.isfinite(sd).all())):
                    raise ValueError("non-finite posterior")
                return Prediction(mean, sd, fitted.state if fitted.state is not None else warm)
            except Exception as exc:  # noqa: BLE001
                last_error = exc
                logger.warning("%s predict failed (safe=%s, study=%s): %s", self.name, safe, request.cache_key, exc)
        raise PredictionUnavailable(f"model fitting failed: {last_error}") from last_error


def proposal_seed(request: SuggestRequest) -> int:
    """Per-call seed: reproducible for a study, different for each call."""
    return (int(request.seed) * 1_000_003 + request.n_suggested) % (2**31 - 1)
