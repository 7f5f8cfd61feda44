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
before the warp could separate them), its ``lambda`` the maximum-likelihood estimate, searched as
``scipy.stats.yeojohnson_normmax`` does (the likelihood itself is written here in numpy: scipy's
costs 6 ms a suggest through its array-API layer). Whether to use it is decided on the same likelihood: the warp is
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
have a fixed shape and no choice of whether to apply; scipy supplies the bounded search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize
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
        return torch.as_tensor(yeo_johnson(z, self.lmbda), dtype=y.dtype, device=y.device)


def yeo_johnson(z: np.ndarray, lmbda: float) -> np.ndarray:
    """The Yeo-Johnson transform of ``z`` (any shape) with exponent ``lmbda``."""
    out = np.empty_like(z, dtype=np.float64)
    pos, neg = z >= 0, z < 0
    if abs(lmbda) < np.spacing(1.0):
        out[pos] = np.log1p(z[pos])
    else:
        out[pos] = np.expm1(lmbda * np.log1p(z[pos])) / lmbda
    if abs(lmbda - 2.0) < np.spacing(1.0):
        out[neg] = -np.log1p(-z[neg])
    else:
        out[neg] = -np.expm1((2.0 - lmbda) * np.log1p(-z[neg])) / (2.0 - lmbda)
    return out


def log_likelihood(lmbda: float, z: np.ndarray) -> float:
    """Profile Gaussian log-likelihood of ``yeo_johnson(z, lmbda)`` with the log-Jacobian, constants
    dropped: scipy's ``yeojohnson_llf`` formula, in plain numpy (scipy's goes through its array-API
    layer at 0.37 ms a call; the estimate takes about 20 calls)."""
    variance = float(np.var(yeo_johnson(z, lmbda)))
    if not variance > 0.0:
        return -np.inf
    return -0.5 * z.size * float(np.log(variance)) + (lmbda - 1.0) * float(np.sum(np.sign(z) * np.log1p(np.abs(z))))


def maximum_likelihood_lambda(z: np.ndarray) -> float:
    """The exponent maximising :func:`log_likelihood`, searched as ``scipy.stats.yeojohnson_normmax``
    does (bounded Brent over the range where the transform neither overflows nor underflows)."""
    eps = np.finfo(np.float64).eps
    log1p_max = float(np.log1p(20.0 * np.max(np.abs(z))))
    low = (np.log(np.finfo(np.float64).tiny) - np.log(eps)) / 2 / log1p_max
    high = (np.log(np.finfo(np.float64).max) + np.log(eps)) / 2 / log1p_max
    if np.all(z < 0):
        low, high = 2 - high, 2 - low
    elif np.any(z < 0):
        low, high = max(2 - high, low), min(2 - low, high)
    return float(optimize.fminbound(lambda lam: -log_likelihood(lam, z), low, high, xtol=1.48e-8))


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
    lmbda = maximum_likelihood_lambda(z)
    statistic = 2.0 * (log_likelihood(lmbda, z) - log_likelihood(1.0, z))
    if not np.isfinite(statistic) or statistic < CHI2_1_99:
        return None
    if mode == "auto" and lmbda <= 1.0:
        return None
    return OutputWarp(lmbda=lmbda, centre=centre, scale=scale, statistic=statistic)
