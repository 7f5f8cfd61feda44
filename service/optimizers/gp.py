"""The Gaussian-process surrogate (``surrogate: "gp"``).

Fitting is ``gp_model.fit_gp``: BoTorch ``SingleTaskGP`` (``MixedSingleTaskGP`` with
categorical columns), hyperparameters warm-started from the study's previous fit, L-BFGS-B
capped, an unchanged data set not refitted. The state kept between calls is the fitted
hyperparameters. ``output_warping`` is applied by the policy (``output_warping``); ``kernel``
chooses the kernel (``GPOptions``).

Several outcomes (objectives, outcome constraints) get one GP each (``multi_outcome``). The kernel
is the Matern-5/2 with a short-lengthscale prior by default (``GPOptions``), for one outcome up to
six non-categorical columns since the 23-task suite measurement in ``docs/benchmarks.md`` ("The
kernel of the default GP"; above six, BoTorch's RBF: "The RBF above six columns") and for several
outcomes since DTLZ2: with the RBF and BoTorch's dimension-scaled prior, whose fitted
lengthscales (1.2 .. 4 on the unit cube in the five distance dimensions) make the model nearly
linear there, the GP reverted to the mean with a large variance at the cube's corners, and
qLogNEHVI sent 18 of 28 model trials of seed 0 to corners (distance term g = 1 .. 1.25, far from the
front); its median hypervolume was below random search's. The Matern-5/2 with lengthscales near
0.5 (BoTorch's default before 0.12, and the model of the qNEHVI paper) keeps the model local. Median
final hypervolume, seeds 0-4: DTLZ2 0.043 (RBF) -> 0.314 (Matern; random 0.112, Optuna's GPSampler
0.201), C2-DTLZ2 0.336 -> 0.368, BraninCurrin 56.7 -> 57.0; ConstrainedGramacy's median best feasible
value 0.6005 -> 0.5999 (optimum 0.5998). The tables are in ``docs/benchmarks.md`` ("Multi-objective kernel").
"""

from __future__ import annotations

from pydantic import BaseModel
from torch import Tensor

from service.optimizers.gp_model import MIN_NOISE, GPData, fit_gp
from service.optimizers.gp_options import GPOptions
from service.optimizers.kernel_selection import fit_by_evidence
from service.optimizers.multi_outcome import fit_outcomes
from service.optimizers.surrogate import FittedSurrogate, Surrogate
from service.optimizers.surrogate_state import SurrogateState
from service.space.search_space import SearchSpace


class GPSurrogate(Surrogate):
    """GP with inferred (or known) noise; ``output_warping`` concerns the policy, ``kernel`` the model."""

    name = "gp"
    options_model = GPOptions

    def fit(self, space: SearchSpace, data: GPData, *, options: BaseModel | None,
            warm: SurrogateState | None, safe: bool, seed: int) -> FittedSurrogate:
        """See :meth:`Surrogate.fit`; the state is the fitted hyperparameters (none when ``safe``)."""
        chosen = gp_options(options)
        return fit_one(space, data, chosen.resolved_kernel(space.numeric_dim), warm, safe,
                       chosen.resolved_min_noise(several_outcomes=False))

    def fit_joint(self, space: SearchSpace, X: Tensor, Y: Tensor, *, options: BaseModel | None,
                  warm: SurrogateState | None, safe: bool, seed: int) -> FittedSurrogate | None:
        """One GP per column of ``Y`` ``(n, m)`` (a ``ModelList``), each with the study's kernel and noise floor."""
        chosen = gp_options(options)
        kernel, min_noise = chosen.resolved_kernel(), chosen.resolved_min_noise(several_outcomes=True)
        return fit_outcomes(lambda one, part: fit_one(space, one, kernel, part, safe, min_noise), X, Y, warm)


def gp_options(options: BaseModel | None) -> GPOptions:
    """The study's GP options (the defaults when it set none)."""
    return options if isinstance(options, GPOptions) else GPOptions()


def fit_one(space: SearchSpace, data: GPData, kernel: str, warm: SurrogateState | None, safe: bool,
            min_noise: float = MIN_NOISE) -> FittedSurrogate:
    """One outcome's GP (no state when ``safe``); ``kernel`` ``"evidence"`` chooses it per fit (``kernel_selection``);
    ``min_noise`` floors its inferred noise variance (standardised units)."""
    if kernel == "evidence":
        model, state, info = fit_by_evidence(space, data, warm, safe, min_noise)
    else:
        model, state, info = fit_gp(space, data, warm=warm, safe=safe, kernel=kernel, min_noise=min_noise)
    return FittedSurrogate(model=model, state=None if safe else state, info=info)
