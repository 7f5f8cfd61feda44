"""``surrogate_options`` of the GP surrogate (pydantic only: no model code is imported)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from service.optimizers.trust_region_options import TrustRegionOptions
from service.optimizers.warping_options import OutputWarpingOptions

GPKernel = Literal["auto", "rbf", "matern52", "evidence"]
# "auto", one modelled outcome: the Matern up to this many non-categorical columns, the RBF above.
# Why: the Matern's prior was chosen where it wins (Hartmann6, d = 6; the suite, mostly d <= 6); on
# Levy-10 the RBF with BoTorch's dimension-scaled prior (Hvarfner et al. 2024, made for high
# dimension) ended lower on seeds 0-9 than the Matern with any prior scaling tried (docs/benchmarks.md).
AUTO_MATERN_MAX_COLUMNS = 6
# Floors of the inferred noise variance (standardised units) when ``min_noise`` is not set, for one
# modelled outcome (``gp_model.MIN_NOISE`` is this value) and for each outcome of a study with several.
DEFAULT_MIN_NOISE = 1e-6
DEFAULT_MULTI_OUTCOME_MIN_NOISE = 1e-8


class GPOptions(OutputWarpingOptions, TrustRegionOptions):
    """Options of the GP surrogate (all optional).

    Attributes:
        output_warping: see :class:`OutputWarpingOptions`.
        kernel: the kernel of a continuous space's GP: ``"matern52"`` (ARD Matern-5/2 with a Gamma
            lengthscale prior of mean 0.5 on the unit cube up to 6 columns, growing in proportion to the
            number of columns above: ``gp_model.matern_lengthscale_prior``), ``"rbf"`` (ARD RBF, BoTorch's
            dimension-scaled lengthscale prior), ``"evidence"`` (whichever of the two has the higher
            marginal likelihood at each fit; ``kernel_selection``) or ``"auto"`` (default): for one
            modelled outcome the Matern up to ``AUTO_MATERN_MAX_COLUMNS`` non-categorical columns and
            the RBF above; for several outcomes the Matern. Measured in ``docs/benchmarks.md`` ("The
            kernel of the default GP", "The Matern prior in more than six dimensions", "The RBF above
            six columns"): on ``benchmarks.suite`` (23 tasks, 5 seeds) the Matern scored 74.7 against
            the RBF's 64.1 and evidence's 67.5, but of ``benchmarks.bo_quality``'s 10-dimensional
            problems the RBF ended lower on Levy and level on Ackley (seeds 0-9). In a space with
            categorical parameters it is the kernel of the other columns (``MixedSingleTaskGP``).
        min_noise: floor of the inferred noise variance of a continuous space's GP, in standardised units
            (1e-12 .. 0.1). Default: 1e-6 for one modelled outcome, 1e-8 for each outcome of a study with
            several (objectives, constrained metrics). Why lower there: an optimum on a constraint's
            boundary must be located to the precision of the last evaluations, far below the metric's
            overall spread; at 1e-6 the model treats slacks of ~1e-4 of that spread as noise
            (``docs/benchmarks.md``, "A lower noise floor for several outcomes").
        trust_region_side, trust_region_share, trust_region_max_columns: see :class:`TrustRegionOptions`
            (side 0 for the GP: the whole space; not measured as a GP default).
    """

    kernel: GPKernel = "auto"
    min_noise: Annotated[float, Field(ge=1e-12, le=1e-1)] | None = None

    def resolved_min_noise(self, several_outcomes: bool) -> float:
        """The floor of the inferred noise variance (standardised units): ``min_noise`` when set, else
        1e-6 for one modelled outcome and 1e-8 for each outcome of a study with several."""
        if self.min_noise is not None:
            return self.min_noise
        return DEFAULT_MULTI_OUTCOME_MIN_NOISE if several_outcomes else DEFAULT_MIN_NOISE

    def resolved_kernel(self, columns: int | None = None) -> str:
        """The kernel to fit.

        Args:
            columns: the number of non-categorical columns of the space when ONE outcome is modelled,
                None for several outcomes. ``"auto"`` gives the Matern for several outcomes and for one
                outcome up to ``AUTO_MATERN_MAX_COLUMNS`` columns, the RBF above.
        """
        if self.kernel != "auto":
            return self.kernel
        if columns is not None and columns > AUTO_MATERN_MAX_COLUMNS:
            return "rbf"
        return "matern52"
