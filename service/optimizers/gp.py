"""The Gaussian-process surrogate (``surrogate: "gp"``).

Fitting is ``gp_model.fit_gp``: BoTorch ``SingleTaskGP`` (``MixedSingleTaskGP`` with
categorical columns), hyperparameters warm-started from the study's previous fit, L-BFGS-B
capped, an unchanged data set not refitted. The state kept between calls is the fitted
hyperparameters. Its one option, ``output_warping``, is applied by the policy (``output_warping``).
"""

from __future__ import annotations

from pydantic import BaseModel

from service.optimizers.gp_model import GPData, fit_gp
from service.optimizers.gp_options import GPOptions
from service.optimizers.surrogate import FittedSurrogate, Surrogate
from service.optimizers.surrogate_state import SurrogateState
from service.space.search_space import SearchSpace


class GPSurrogate(Surrogate):
    """GP with inferred (or known) noise; its options (``GPOptions``) concern the policy only."""

    name = "gp"
    options_model = GPOptions

    def fit(self, space: SearchSpace, data: GPData, *, options: BaseModel | None,
            warm: SurrogateState | None, safe: bool, seed: int) -> FittedSurrogate:
        """See :meth:`Surrogate.fit`; the state is the fitted hyperparameters (none when ``safe``)."""
        model, state, info = fit_gp(space, data, warm=warm, safe=safe)
        return FittedSurrogate(model=model, state=None if safe else state, info=info)
