"""Output warping: a Yeo-Johnson transform of the objective before the surrogate is fitted.

A GP (and the LLA's Gaussian likelihood) assumes roughly Gaussian outcomes. An objective with a
heavy tail of *bad* values (a loss that blows up in part of the box, ``exp`` of a quadratic) has a
few enormous values that set the output scale: after standardisation every good point sits at
almost the same value, and the model cannot tell them apart. A monotone transform fixes that
without changing which point is best, so expected improvement on the warped scale still ranks
points by the chance of beating the incumbent.

The transform is Yeo-Johnson (Yeo and Johnson 2000; the power family HEBO uses, Cowen-Rivers et
al. 2022) of the outcomes robustly standardised (median and interquartile range: a plain
standardisation by a sd that the outliers set would leave the good values indistinguishable
before the warp could separate them), its ``lambda`` the maximum-likelihood estimate of
``scipy.stats.yeojohnson``. Whether to use it is decided on the same likelihood: the warp is
applied only when twice the log-likelihood gain over ``lambda = 1`` (the identity) exceeds the
chi-squared(1) 99 % quantile, so near-Gaussian outcomes are left alone.

Modes (``surrogate_options.output_warping``):

* ``"auto"`` (default): warp only a significant tail of bad values (``lambda > 1`` in the
  maximisation orientation the policies use). A long tail of *good* values (``lambda < 1``: a
  few points far better than the rest, as on Hartmann6 once the optimum's basin is found) is
  left alone: compressing it would flatten the differences near the incumbent that the
  acquisition needs.
* ``"yeo-johnson"``: warp a significant skew in either direction.
* ``"off"``: never.

Known noise variances (``noise_sd`` on the observations) are in the raw units, so a study that
gives them is not warped. Predictions (``/predict``) always use the raw outcomes: they answer in
the objective's own units.

Written here rather than taken from BoTorch: its outcome transforms (``Power``, ``Log``, ``Bilog``)
have a fixed shape and no choice of whether to apply; scipy supplies the estimate and the
likelihood, this module only the decision and the tensor plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import torch
from scipy import stats
from torch import Tensor

from service.optimizers.warping_options import OUTPUT_WARPING_MODES, OutputWarping

CHI2_1_99 = 6.634896601021214  # chi-squared, 1 degree of freedom, 99 % quantile
MIN_POINTS = 8  # fewer finite outcomes: no estimate of a tail worth trusting


@dataclass(frozen=True)
class OutputWarp:
    """A fitted warp ``y -> yeojohnson((y - centre) / scale, lmbda)``.

    Attributes:
        lmbda: the Yeo-Johnson exponent.
        centre, scale: the robust standardisation applied first (``robust_scale``).
        statistic: twice the log-likelihood gain over the identity (``lmbda = 1``).
    """

    lmbda: float
    centre: float
    scale: float
    statistic: float

    def __call__(self, y: Tensor) -> Tensor:
        """Warped ``y`` (any shape), same dtype and device; strictly increasing in ``y``."""
        z = ((y.detach().cpu().double() - self.centre) / self.scale).numpy()
        warped = stats.yeojohnson(z, lmbda=self.lmbda)
        return torch.as_tensor(np.asarray(warped), dtype=y.dtype, device=y.device)


def robust_scale(values: np.ndarray) -> tuple[float, float | None]:
    """(median, IQR / 1.349): the centre and scale of the bulk of the values (the sd of a normal
    sample), so that a few enormous values do not squash the rest to one number before the warp.
    Falls back to the sample sd when the IQR is 0; scale None when that is 0 too."""
    centre = float(np.median(values))
    q25, q75 = np.percentile(values, [25.0, 75.0])
    scale = float(q75 - q25) / 1.349
    if not scale > 0.0:
        scale = float(values.std())
    return centre, scale if np.isfinite(scale) and scale > 0.0 else None


def choose_output_warp(y: Tensor, mode: OutputWarping = "auto") -> OutputWarp | None:
    """The warp to fit the surrogate on, or None for the raw outcomes (see module docstring).

    Args:
        y: ``(n,)`` finite outcomes, maximisation-oriented.
        mode: ``"auto"``, ``"yeo-johnson"`` or ``"off"``.
    """
    if mode not in OUTPUT_WARPING_MODES:
        raise ValueError(f"output_warping must be one of {OUTPUT_WARPING_MODES}, got {mode!r}")
    if mode == "off" or y.numel() < MIN_POINTS:
        return None
    values = y.detach().cpu().double().reshape(-1).numpy()
    centre, scale = robust_scale(values)
    if scale is None:
        return None
    z = (values - centre) / scale
    _, lmbda = stats.yeojohnson(z)
    lmbda = float(lmbda)
    statistic = 2.0 * (float(stats.yeojohnson_llf(lmbda, z)) - float(stats.yeojohnson_llf(1.0, z)))
    if not np.isfinite(statistic) or statistic < CHI2_1_99:
        return None
    if mode == "auto" and lmbda <= 1.0:
        return None
    return OutputWarp(lmbda=lmbda, centre=centre, scale=scale, statistic=statistic)
