"""Leave-one-out calibration of the scale of the LLA's predictive covariance.

The LLA of a network ``f(x; theta)`` at the MAP ``theta*`` with the prior ``theta ~ N(theta_0, diag(v))``
and Gaussian noise ``sigma^2`` is a GP: prior mean ``m(x) = f(x; theta*) - J(x) (theta* - theta_0)``,
kernel ``K = J diag(v) J^T`` (the empirical NTK) and noise ``sigma^2``. The evidence tunes ``v`` and
``sigma`` to the data, but it pins down the overall size of ``K`` only weakly where there are no
data. Measured on Styblinski-Tang in 5-d (20 points, standardised targets of variance 1): the
kernel's diagonal was 12-19 at the data and 21 at the corners of the box, a predictive sd of 3-4
data sds where nothing was observed (the GP's: about 1), and the acquisition spent 22 of 40 steps
at corners whose values were the worst of the run.

Scaling the whole covariance (``K`` and ``sigma^2``) by ``c`` leaves every mean unchanged (the
posterior's and each leave-one-out one) and multiplies every variance by ``c``. With
``A = K + sigma^2 I`` at the training inputs and ``r = y - m(X)``, the leave-one-out residuals and
variances are ``e_i = [A^-1 r]_i / [A^-1]_ii`` and ``s_i = 1 / [A^-1]_ii`` (Rasmussen and Williams
2006, eq. 5.12), and the leave-one-out log likelihood ``sum_i log N(e_i; 0, c s_i)`` is largest at

    c = (1/n) sum_i e_i^2 / s_i,

the closed-form estimate of a GP's variance scale by cross-validation (Sundararajan and Keerthi
2001; Bachoc 2013 shows it is the more robust one when the kernel's shape is misspecified, as a
network's tangent kernel is here). The LLA then predicts with ``c`` times its covariance: the
same network mean, an uncertainty sized by how well the model predicted the points it had not
seen, which is the quantity an acquisition function trades against the mean.

Written here: neither laplace-torch nor BoTorch calibrates a Laplace predictive by cross-validation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .multi_output_mlp import MultiTangentFeatures
from .tangent_mlp import TangentFeatures, gram_blocks

MIN_POINTS = 5  # fewer observations: no scale estimate worth trusting (c = 1)
MAX_POINTS = 3000  # more: the n x n inverse costs more than the fit it calibrates (c = 1)
SCALE_BOUNDS = (1e-2, 1e2)


def loo_variance_scale(A: Tensor, residual: Tensor, inverse: Tensor | None = None) -> Tensor:
    """() the leave-one-out maximum-likelihood scale ``c`` of the covariance ``A`` (module docstring).

    Args:
        A: (n, n) symmetric positive-definite covariance of the training targets (kernel + noise).
        residual: (n,) targets minus the prior mean.
        inverse: ``A^-1`` when the caller has it (``A`` is then not factorised again).
    """
    if inverse is None:
        inverse = torch.cholesky_inverse(torch.linalg.cholesky(A))
    precision_diag = inverse.diagonal()
    loo_residual = (inverse @ residual) / precision_diag
    return (loo_residual.pow(2) * precision_diag).mean()


def parameter_offsets(params: list[Tensor], prior_mean: list[Tensor] | None) -> list[Tensor]:
    """``theta_g* - theta_g0`` of every parameter tensor (detached; ``theta_0 = 0`` without a prior mean),
    each of its parameter's shape, e.g. ``(fan_out, fan_in)`` for a weight and ``(fan_out,)`` for a bias."""
    if prior_mean is None:
        return [p.detach() for p in params]
    return [p.detach() - mu.to(p) for p, mu in zip(params, prior_mean)]


def jacobian_times(features: TangentFeatures | MultiTangentFeatures, offsets: list[Tensor]) -> Tensor:
    """``J(x) delta`` for parameter offsets ``delta`` given per tensor (W_1, b_1, W_2, ...): (*batch,) for
    one output, (*batch, m) for a multi-output network. From the layer factors, without building the
    Jacobian: ``df/dW_l = delta_l^T a_{l-1}``, so ``<df/dW_l, dW_l> = delta_l . (a_{l-1} dW_l^T)``."""
    out = None
    for i, (a, d) in enumerate(zip(features.inputs, features.deltas)):
        moved = a @ offsets[2 * i].mT + offsets[2 * i + 1]  # (*batch, fan_out)
        if d.dim() > moved.dim():  # multi-output deltas (*batch, m, fan_out)
            moved = moved.unsqueeze(-2)
        term = (d * moved).sum(-1)
        out = term if out is None else out + term
    return out


def linearised_gp(features: TangentFeatures, ys: Tensor, variances: Tensor, sigma: Tensor,
                  offsets: list[Tensor]) -> tuple[Tensor, Tensor]:
    """(A, r) of the LLA as a GP at its training inputs (standardised units).

    Args:
        features: tangent features of the network at the MAP on the n training inputs.
        ys: (n,) standardised targets.
        variances: (G,) prior variances of the parameter tensors.
        sigma: () noise sd.
        offsets: ``theta* - theta_0`` per parameter tensor (:func:`parameter_offsets`).

    Returns:
        ``A = J diag(v) J^T + sigma^2 I`` (n, n) and ``r = ys - m(X)`` (n,).
    """
    A = torch.einsum("g,gij->ij", variances, gram_blocks(features))
    A = A + sigma.pow(2) * torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    prior_mean = features.f - jacobian_times(features, offsets)
    return A, ys - prior_mean


def calibrated_scale(A: Tensor, residual: Tensor, inverse: Tensor | None = None, n_points: int | None = None) -> float:
    """``loo_variance_scale`` within ``SCALE_BOUNDS``; 1 outside ``MIN_POINTS..MAX_POINTS`` observed points
    (``n_points``, default the length of ``residual``; a multi-output model has several entries per point)
    or when the estimate is not finite. ``A`` is (N, N), ``residual`` (N,), ``inverse`` (N, N) or None."""
    n = residual.shape[0] if n_points is None else n_points
    if not MIN_POINTS <= n <= MAX_POINTS:
        return 1.0
    try:
        scale = float(loo_variance_scale(A, residual, inverse))
    except RuntimeError:  # a Gram matrix that is not numerically positive definite
        return 1.0
    if scale != scale or scale in (float("inf"), float("-inf")):
        return 1.0
    return min(max(scale, SCALE_BOUNDS[0]), SCALE_BOUNDS[1])
