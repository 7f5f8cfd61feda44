"""The ``output_warping`` option every model surrogate takes (pydantic only: no model code imported).

The transform itself and the reasons for its modes are in ``output_warping``.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

OutputWarping = Literal["auto", "yeo-johnson", "off"]
OUTPUT_WARPING_MODES: tuple[str, ...] = get_args(OutputWarping)


class OutputWarpingOptions(BaseModel):
    """Options shared by the model surrogates' option models.

    Attributes:
        output_warping: ``"auto"`` (default: a Yeo-Johnson warp of a significant tail of bad
            values), ``"yeo-johnson"`` (a significant skew either way) or ``"off"``.
    """

    model_config = ConfigDict(extra="forbid")

    output_warping: OutputWarping = "auto"
