"""The GP kernel chosen per fit by the marginal likelihood (``GPOptions.kernel = "evidence"``).

Both kernels of ``gp_model.continuous_gp`` (the RBF with BoTorch's dimension-scaled prior and the
Matern-5/2 with a Gamma(3, 6) lengthscale prior) are fitted to the study's data and the one whose
fitted hyperparameters give the higher log marginal likelihood ``log p(y | theta, kernel)`` is used
(type-II maximum likelihood between two models, Rasmussen & Williams 2006, ch. 5; the hyperpriors
are left out of the comparison so that the two lengthscale priors do not weigh in). Why: neither
kernel is better on every problem of ``benchmarks.bo_quality`` (the Matern reached Hartmann6's
global optimum on more seeds, the RBF ended far lower on Levy-10; ``docs/benchmarks.md``), and each
fit costs milliseconds with the closed-form fit, so asking the data is cheap.

Only the continuous GP with inferred noise is compared (the closed-form fit); a mixed space, known
noise variances or the retry configuration take ``FALLBACK_KERNEL``. The warm start carries over for
the kernel chosen last (the state's ``meta["kernel"]``); the other one is fitted from its defaults,
which at n = 1000 would cost seconds per suggest: above ``SELECTION_MAX_N`` observations the kernel
chosen last is kept and only it is fitted (with ``gp_model``'s refit rule).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from botorch.models import SingleTaskGP

from service.optimizers.cached_posterior import cached_posterior_model
from service.optimizers.gp_model import KERNELS, GPData, fit_gp, hand_fit_applies
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
                    safe: bool) -> tuple[SingleTaskGP, SurrogateState, dict]:
    """``gp_model.fit_gp`` with the kernel of higher marginal likelihood (module docstring).

    Returns:
        ``fit_gp``'s ``(model, state, info)`` of the chosen kernel; ``info`` adds ``"kernel"`` and
        ``"log_evidence"`` (kernel -> value) and sums ``fit_seconds`` over both fits.
    """
    last = warm.meta.get("kernel") if warm is not None else None
    if not hand_fit_applies(space, data, safe, FALLBACK_KERNEL) or (data.n > SELECTION_MAX_N and last in KERNELS):
        kernel = last if last in KERNELS and hand_fit_applies(space, data, safe, FALLBACK_KERNEL) else FALLBACK_KERNEL
        model, state, info = fit_gp(space, data, warm=warm, safe=safe, kernel=kernel)
        return model, replace(state, meta={**state.meta, "kernel": kernel}), {**info, "kernel": kernel}
    fits = {kernel: fit_gp(space, data, warm=warm, safe=safe, kernel=kernel) for kernel in KERNELS}
    evidence = {kernel: log_marginal_likelihood(fit[0]) for kernel, fit in fits.items()}
    chosen = max(KERNELS, key=lambda k: (evidence[k], k == FALLBACK_KERNEL))
    model, state, info = fits[chosen]
    seconds = sum(fit[2]["fit_seconds"] for fit in fits.values())
    state = replace(state, meta={**state.meta, "kernel": chosen})
    return model, state, {**info, "fit_seconds": seconds, "kernel": chosen, "log_evidence": evidence}
