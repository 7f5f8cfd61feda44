"""The ``trust_region_side`` option of the model surrogates (pydantic only: no model code imported).

What the region is and why: ``trust_region``.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class TrustRegionOptions(BaseModel):
    """Options shared by the model surrogates' option models.

    Attributes:
        trust_region_side: side of the box around the best observation that the acquisition is
            maximised in, in units of the unit-scaled space (0 < side <= 1), or 0 for the whole space.
            One objective only: studies with several outcomes or linear constraints search the whole
            space. Default 0 (each surrogate may override it).
        trust_region_share: the share of model-based suggests that use the region (0..1); the others
            search the whole space. Suggest number ``n`` of the study (``n_suggested``) uses it when
            ``floor((n + 1) s) > floor(n s)``, so the choice is deterministic and spread evenly:
            1 every suggest, 0.5 every other one.
        trust_region_max_columns: the region is used only in spaces with at most this many
            non-categorical columns (default 8); larger spaces search the whole space. Why: a box of side
            0.3 is 3e-6 of a 10-dimensional space, and on Ackley-10 it kept the LLA near its first good
            point (median regret 10.5 against 7.4 without it, seeds 0-4), while on the suite's tasks of
            2 to 8 columns it helped (``docs/benchmarks.md``, "A trust region for the LLA").
    """

    model_config = ConfigDict(extra="forbid")

    trust_region_side: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    trust_region_share: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    trust_region_max_columns: Annotated[int, Field(ge=1, le=10_000)] = 8

    def uses_trust_region(self, n_suggested: int, columns: int) -> bool:
        """Whether the suggest after ``n_suggested`` earlier points searches the region, in a space of
        ``columns`` non-categorical columns."""
        share = self.trust_region_share
        return (self.trust_region_side > 0 and columns <= self.trust_region_max_columns
                and math.floor((n_suggested + 1) * share) > math.floor(n_suggested * share))
