"""The GP kernel chosen per fit by the marginal likelihood (``GPOptions.kernel = "evidence"``).

Both kernels of ``gp_model.continuous_gp`` (the RBF with BoTorch's dimension-scaled prior and the
Matern-5/2 with the Gamma lengthscale prior of ``gp_model.matern_lengthscale_prior``) are fitted to
the study's data and the one whose fitted hyperparameters give the higher log marginal likelihood
``log p(y | theta, kernel)`` is used (type-II maximum likelihood between two models, Rasmussen &
Williams 2006, ch. 5; the hyperpriors
are left out of the comparison so that the two lengthscale priors do not weigh in). Why: neither
kernel is better on every problem of ``benchmarks.bo_quality`` (the Matern reached Hartmann6's
global optimum on more seeds, the RBF ended far lower on Levy-10; ``docs/benchmarks.md``), and each
fit costs milliseconds with the closed-form fit, so asking the data is cheap.

Only the continuous GP with inferred noise is compared (the closed-form fit); a mixed space, known
noise variances or the retry configuration take ``FALLBACK_KERNEL``. Both kernels' fitted
hyperparameters travel in the warm state (packed like several outcomes' states, ``multi_outcome``;
the choice in ``meta["kernel"]``), so each fit is a warm one. Above ``SELECTION_MAX_N`` observations
the kernel chosen last stands and only it is refitted (``gp_model``'s refit rule applies to it).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from botorch.models import SingleTaskGP

from service.optimizers.cached_posterior import cached_posterior_model
from service.optimizers.gp_model import KERNELS, MIN_NOISE, GPData, fit_gp, hand_fit_applies
from service.optimizers.multi_outcome import pack_states, unpack_states
from service.optimizers.surrogate_state import SurrogateState
from service.space.search_space import SearchSpace

FALLBACK_KERNEL = "rbf"
SELECTION_MAX_N = 200  # above this, the last choice stands (module docstring); gp_model.REFIT_MIN_N


def log_marginal_likelihood(model: SingleTaskGP) -> float:
    """``log N(y; c 1, K + v I)`` of a fitted ``continuous_gp`` on its own (standardised) training targets.

    Raises:
        ValueError: the model is not one ``cached_posterior`` supports.
    """
    view = cached_posterior_model(model)
    if view is None:
        raise ValueError("log_marginal_likelihood needs a plain SingleTaskGP")
    residual = model.train_targets.detach() - view.constant
    n = residual.shape[0]
    value = -0.5 * residual @ view.alpha - torch.log(view.chol.diagonal()).sum() - 0.5 * n * math.log(2 * math.pi)
    return float(value)


def fit_by_evidence(space: SearchSpace, data: GPData, warm: SurrogateState | None,
                    safe: bool, min_noise: float = MIN_NOISE) -> tuple[SingleTaskGP, SurrogateState, dict]:
    """``gp_model.fit_gp`` with the kernel of higher marginal likelihood (module docstring).

    Args:
        space: the search space.
        data: training data.
        warm: this function's previous state (both kernels' hyperparameters), or None.
        safe: the retry configuration (no comparison, ``FALLBACK_KERNEL``).
        min_noise: floor of the inferred noise variance of both fits.

    Returns:
        ``(model, state, info)``: the chosen kernel's model, the packed state of both kernels, and
        ``fit_gp``'s info of the chosen one with ``"kernel"``, ``"log_evidence"`` (kernel -> value,
        when compared) and ``fit_seconds`` summed over the fits.
    """
    parts = dict(zip(KERNELS, unpack_states(warm, len(KERNELS))))
    last = warm.meta.get("kernel") if warm is not None else None
    comparable = hand_fit_applies(space, data, safe, FALLBACK_KERNEL)
    if not comparable:
        to_fit = [FALLBACK_KERNEL]
    elif data.n > SELECTION_MAX_N and last in KERNELS:
        to_fit = [last]
    else:
        to_fit = list(KERNELS)
    fits = {kernel: fit_gp(space, data, warm=parts[kernel], safe=safe, kernel=kernel, min_noise=min_noise)
            for kernel in to_fit}
    info_extra: dict = {}
    if len(fits) > 1:
        evidence = {kernel: log_marginal_likelihood(fit[0]) for kernel, fit in fits.items()}
        chosen = max(KERNELS, key=lambda k: (evidence[k], k == FALLBACK_KERNEL))
        info_extra["log_evidence"] = evidence
    else:
        [chosen] = fits
    model, _, info = fits[chosen]
    states = [fits[k][1] if k in fits else parts[k] for k in KERNELS]
    packed = pack_states(states)
    state = replace(packed, meta={**packed.meta, "kernel": chosen})
    seconds = sum(fit[2]["fit_seconds"] for fit in fits.values())
    return model, state, {**info, **info_extra, "fit_seconds": seconds, "kernel": chosen}
