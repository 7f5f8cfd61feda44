"""Headless matplotlib for the library's and the service's PNG figures.

matplotlib is imported on first use with the Agg back end, so importing a plotting module needs
no display and no matplotlib until a figure is drawn.
"""

from __future__ import annotations

import io


def pyplot():
    """``matplotlib.pyplot`` on the Agg back end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (tight bounding box); the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return buffer.getvalue()
