"""A stationary Matern-5/2 term added to the LLA's tangent kernel (function-space form).

The LLA of a network is a GP whose kernel is the empirical tangent kernel ``K(a, b) = J(a) V J(b)^T``
(``tangent_kernel``). Its posterior variance is small wherever the network's Jacobian there is nearly
spanned by the Jacobians at the data, which can hold far from every observation: the network
extrapolates with confidence. A GP with a stationary kernel is uncertain wherever it has no data
nearby. The term

    K_s(a, b) = K(a, b) + c k(a, b),   c = v * mean_i K(x_i, x_i),
    k = Matern-5/2 on the network inputs, length scale l * sqrt(d_in),

adds that behaviour: ``v`` sets its variance as a fraction of the tangent kernel's average prior
variance at the data (so it scales with whatever the evidence tuned), ``l`` its length scale per unit
of the input norm's spread (``sqrt(d_in)``: inputs of the linear or circular embedding have O(1)
entries). The predictive mean stays the network's; only the covariance (and hence the acquisition's
exploration) changes, and the leave-one-out calibration then scales the summed kernel's covariance
like the tangent one. It applies in the function-space regime (fewer observations than parameters),
where the posterior is the GP form of the kernel; with more data the parametric posterior keeps the
tangent kernel alone (its Laplace precision has no place for a kernel term).

Measured in ``docs/benchmarks.md`` ("A stationary term for the LLA").

Written here: laplace-torch has no kernel terms beside the tangent kernel; GPyTorch's Matern kernel
would pull its lazy-tensor machinery into every acquisition evaluation of the LLA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

MIN_SQUARED_DISTANCE = 1e-30  # floor of a squared distance before its square root (zero gradient at a == b)


@dataclass(frozen=True)
class StationaryTerm:
    """The term's two settings (module docstring).

    Attributes:
        variance_fraction: ``v``, its variance in units of the tangent kernel's mean diagonal at the data (> 0).
        lengthscale_factor: ``l``, its length scale in units of ``sqrt(d_in)`` (> 0).
    """

    variance_fraction: float
    lengthscale_factor: float

    def __post_init__(self) -> None:
        if not (self.variance_fraction > 0 and self.lengthscale_factor > 0):
            raise ValueError("the stationary term's variance fraction and length scale factor must be positive")

    def lengthscale(self, in_features: int) -> float:
        """The Matern length scale for network inputs of ``in_features`` entries."""
        return self.lengthscale_factor * math.sqrt(in_features)


def matern52(a: Tensor, b: Tensor, lengthscale: float) -> Tensor:
    """Matern-5/2 correlation ``(1 + r + r^2 / 3) exp(-r)``, ``r = sqrt(5) |a - b| / lengthscale``.

    Args:
        a: (*batch, m1, d) inputs.
        b: (m2, d) or (*batch, m2, d) inputs.
        lengthscale: isotropic length scale (> 0).

    Returns:
        (*batch, m1, m2) correlations, 1 where ``a_i = b_j`` (differentiable there, with zero gradient).
    """
    squared = (a.unsqueeze(-2) - b.unsqueeze(-3)).pow(2).sum(-1)
    r = math.sqrt(5.0) * squared.clamp_min(MIN_SQUARED_DISTANCE).sqrt() / lengthscale
    return (1.0 + r + r.pow(2) / 3.0) * (-r).exp()
