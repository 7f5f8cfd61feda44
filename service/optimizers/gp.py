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

from service.optimizers.gp_model import GPData, fit_gp
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
        return fit_one(space, data, kernel_of(options, kernel_columns(space)), warm, safe)

    def fit_joint(self, space: SearchSpace, X: Tensor, Y: Tensor, *, options: BaseModel | None,
                  warm: SurrogateState | None, safe: bool, seed: int) -> FittedSurrogate | None:
        """One GP per column of ``Y`` ``(n, m)`` (a ``ModelList``), each with the study's kernel."""
        kernel = kernel_of(options)
        return fit_outcomes(lambda one, part: fit_one(space, one, kernel, part, safe), X, Y, warm)


def kernel_of(options: BaseModel | None, columns: int | None = None) -> str:
    """The study's kernel (``GPOptions.resolved_kernel``; ``columns`` for one modelled outcome)."""
    chosen = options if isinstance(options, GPOptions) else GPOptions()
    return chosen.resolved_kernel(columns)


def kernel_columns(space: SearchSpace) -> int:
    """The columns a GP's continuous kernel sees in ``space`` (all but the categorical ones)."""
    return space.dim - len(space.categorical_dims)


def fit_one(space: SearchSpace, data: GPData, kernel: str, warm: SurrogateState | None, safe: bool) -> FittedSurrogate:
    """One outcome's GP (no state when ``safe``); ``kernel`` ``"evidence"`` chooses it per fit (``kernel_selection``)."""
    if kernel == "evidence":
        model, state, info = fit_by_evidence(space, data, warm, safe)
    else:
        model, state, info = fit_gp(space, data, warm=warm, safe=safe, kernel=kernel)
    return FittedSurrogate(model=model, state=None if safe else state, info=info)
