"""``surrogate_options`` of the GP surrogate (pydantic only: no model code is imported)."""

from __future__ import annotations

from typing import Literal

from service.optimizers.warping_options import OutputWarpingOptions

GPKernel = Literal["auto", "rbf", "matern52", "evidence"]


class GPOptions(OutputWarpingOptions):
    """Options of the GP surrogate (all optional).

    Attributes:
        output_warping: see :class:`OutputWarpingOptions`.
        kernel: the kernel of a continuous space's GP: ``"rbf"`` (ARD RBF, BoTorch's
            dimension-scaled lengthscale prior), ``"matern52"`` (ARD Matern-5/2, a Gamma(3, 6)
            lengthscale prior of mean 0.5 on the unit cube), ``"evidence"`` (whichever of the two has
            the higher marginal likelihood at each fit; ``kernel_selection``) or ``"auto"`` (default): ``rbf`` for one
            modelled outcome, ``matern52`` for each outcome of a study with several (objectives or
            outcome constraints; measured in ``service.optimizers.gp``). In a space with categorical
            parameters it is the kernel of the other columns (``MixedSingleTaskGP``).
    """

    kernel: GPKernel = "auto"

    def resolved_kernel(self, n_outcomes: int) -> str:
        """The kernel for a study with ``n_outcomes`` modelled outcomes."""
        if self.kernel != "auto":
            return self.kernel
        return "rbf" if n_outcomes == 1 else "matern52"
