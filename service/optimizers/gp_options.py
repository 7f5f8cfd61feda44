"""``surrogate_options`` of the GP surrogate (pydantic only: no model code is imported)."""

from __future__ import annotations

from service.optimizers.warping_options import OutputWarpingOptions


class GPOptions(OutputWarpingOptions):
    """Options of the GP surrogate (all optional).

    Attributes:
        output_warping: see :class:`OutputWarpingOptions`.
    """
