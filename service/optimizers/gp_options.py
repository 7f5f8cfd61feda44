"""``surrogate_options`` of the GP surrogate (pydantic only: no model code is imported)."""

from __future__ import annotations

from typing import Literal

from service.optimizers.warping_options import OutputWarpingOptions

GPKernel = Literal["auto", "rbf", "matern52", "evidence"]


class GPOptions(OutputWarpingOptions):
    """Options of the GP surrogate (all optional).

    Attributes:
        output_warping: see :class:`OutputWarpingOptions`.
        kernel: the kernel of a continuous space's GP: ``"matern52"`` (ARD Matern-5/2 with a Gamma
            lengthscale prior of mean 0.5 on the unit cube up to 6 columns, growing in proportion to the
            number of columns above: ``gp_model.matern_lengthscale_prior``), ``"rbf"`` (ARD RBF, BoTorch's
            dimension-scaled lengthscale prior), ``"evidence"`` (whichever of the two has the higher
            marginal likelihood at each fit; ``kernel_selection``) or ``"auto"`` (default): the Matern
            for every modelled outcome. Measured in ``docs/benchmarks.md`` ("The kernel of the default
            GP", "The Matern prior in more than six dimensions"): on ``benchmarks.suite`` (23 tasks,
            5 seeds) a mean score of 74.7 against the RBF's 64.1 and evidence's 67.5. In a space with
            categorical parameters it is the kernel of the other columns (``MixedSingleTaskGP``).
    """

    kernel: GPKernel = "auto"

    def resolved_kernel(self) -> str:
        """The kernel to fit (``"auto"``: the Matern, for one modelled outcome and for several)."""
        if self.kernel != "auto":
            return self.kernel
        return "matern52"
