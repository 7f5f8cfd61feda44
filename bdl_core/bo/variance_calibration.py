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
from .tangent_mlp import TangentFeatures, tangent_kernel

MIN_POINTS = 5  # fewer observations: no scale estimate worth trusting (c = 1)
MAX_POINTS = 3000  # more: the n x n inverse costs more than the fit it calibrates (c = 1)
SCALE_BOUNDS = (1e-2, 1e2)


def inverse_cholesky_factor(A: Tensor) -> Tensor:
    """(n, n) ``L^-1`` for ``A = L L^T`` (n, n) symmetric positive definite: ``A^-1 = L^-T L^-1``."""
    chol = torch.linalg.cholesky(A)
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    return torch.linalg.solve_triangular(chol, eye, upper=False)


def leave_one_out(residual: Tensor, inverse_factor: Tensor) -> tuple[Tensor, Tensor]:
    """(n,) leave-one-out residuals ``e_i`` and (n,) variances ``s_i`` (module docstring) of a GP with
    covariance ``A`` given as ``L^-1`` (n, n) (``inverse_cholesky_factor``) and residuals (n,): two
    matrix-vector products, O(n^2), for a factor the caller usually holds already."""
    precision_diag = inverse_factor.pow(2).sum(-2)  # diag(L^-T L^-1)
    loo_residual = (inverse_factor.mT @ (inverse_factor @ residual)) / precision_diag
    return loo_residual, precision_diag.reciprocal()


def loo_variance_scale(A: Tensor | None, residual: Tensor, inverse_factor: Tensor | None = None) -> Tensor:
    """() the leave-one-out maximum-likelihood scale ``c`` of the covariance ``A`` (module docstring).

    Args:
        A: (n, n) symmetric positive-definite covariance of the training targets (kernel + noise);
            not used (may be None) when ``inverse_factor`` is given.
        residual: (n,) targets minus the prior mean.
        inverse_factor: (n, n) ``L^-1`` of ``A`` when the caller has it (``A`` is then not factorised).
    """
    if inverse_factor is None:
        inverse_factor = inverse_cholesky_factor(A)
    loo_residual, loo_variance = leave_one_out(residual, inverse_factor)
    return (loo_residual.pow(2) / loo_variance).mean()


def loo_output_scales(residual: Tensor, inverse_factor: Tensor, n_outputs: int, newton_steps: int = 50) -> Tensor:
    """(m,) leave-one-out maximum-likelihood scales ``c_j``, one per output of a joint model.

    The joint GP over ``n`` points and ``m`` outputs (entries interleaved, points outer: entry
    ``k = i m + j``) has covariance ``A``; scaling output ``j``'s rows and columns by ``sqrt(c_j)``
    (``D A D``, ``D = diag(sqrt(c_j(k)))``) gives a valid joint GP whose leave-one-entry-out terms are
    ``e_k^2 / s_k = [P D^-1 r]_k^2 / P_kk`` and ``s_k = c_j(k) / P_kk`` with ``P = A^-1``. With
    ``v_j = c_j^-1/2`` and ``G = diag(P)^-1/2 P [r * 1_1, ..., r * 1_m]`` (nm, m), the negative
    leave-one-out log likelihood is, up to constants, ``-2 n sum_j log v_j + v^T (G^T G) v``: convex in
    ``v > 0``, minimised where ``v_j (G^T G v)_j = n`` for every j (Newton's method below, from the
    shared scale). For ``m = 1`` this is ``loo_variance_scale``'s closed form.

    Args:
        residual: (n m,) targets minus the prior mean, interleaved as above.
        inverse_factor: (n m, n m) ``L^-1`` of ``A``.
        n_outputs: m.
        newton_steps: at most this many Newton steps (m is small; a few suffice).
    """
    m = n_outputs
    n = residual.shape[0] // m
    output_of = torch.arange(residual.shape[0], device=residual.device) % m
    columns = residual.unsqueeze(-1) * (output_of.unsqueeze(-1) == torch.arange(m, device=residual.device))  # (nm, m)
    precision_diag = inverse_factor.pow(2).sum(-2)
    G = (inverse_factor.mT @ (inverse_factor @ columns)) / precision_diag.sqrt().unsqueeze(-1)
    M = G.mT @ G  # (m, m)
    total = M.diagonal().sum()
    if not bool(total > 0):  # every residual zero: no variance at all (bounded by the caller)
        return torch.zeros(m, dtype=residual.dtype, device=residual.device)
    M = M + 1e-12 * total * torch.eye(m, dtype=M.dtype, device=M.device)  # an output with zero residuals: finite

    def objective(v: Tensor) -> Tensor:
        return -2.0 * n * v.log().sum() + v @ M @ v

    v = (n * m / total).sqrt().expand(m).clone()  # the shared scale's v
    for _ in range(newton_steps):
        gradient = -2.0 * n / v + 2.0 * (M @ v)
        hessian = torch.diag(2.0 * n / v.pow(2)) + 2.0 * M
        step = torch.linalg.solve(hessian, gradient)
        shrink, current = 1.0, objective(v)
        # backtrack: stay in v > 0 and go downhill (convex objective, damped Newton)
        while shrink > 1e-8 and (bool((v - shrink * step <= 0).any()) or objective(v - shrink * step) > current):
            shrink *= 0.5
        v = v - shrink * step
        if float((shrink * step).abs().max()) <= 1e-12 * float(v.abs().max()):
            break
    return v.pow(-2)


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


def prior_mean_residual(features: TangentFeatures | MultiTangentFeatures, ys: Tensor, offsets: list[Tensor]) -> Tensor:
    """``ys - m(X)`` with ``m(x) = f(x; theta*) - J(x) (theta* - theta_0)``, the linearised model's prior
    mean: (n,) for one output, (n, m) for a multi-output network (``ys`` of that shape, standardised)."""
    return ys - (features.f - jacobian_times(features, offsets))


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
    A = tangent_kernel(features, features, variances)
    A = A + sigma.pow(2) * torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    return A, prior_mean_residual(features, ys, offsets)


def calibration_applies(n_points: int) -> bool:
    """Whether ``n_points`` observations get a calibrated scale (``MIN_POINTS..MAX_POINTS``); check it
    before building an n x n matrix for :func:`calibrated_scale`."""
    return MIN_POINTS <= n_points <= MAX_POINTS


def calibrated_output_scales(residual: Tensor, inverse_factor: Tensor, n_points: int, n_outputs: int) -> Tensor:
    """(m,) ``loo_output_scales`` within ``SCALE_BOUNDS``; ones outside ``MIN_POINTS..MAX_POINTS`` points or
    when an estimate is not finite. ``residual`` (n m,) interleaved, ``inverse_factor`` (n m, n m)."""
    ones = torch.ones(n_outputs, dtype=residual.dtype, device=residual.device)
    if not calibration_applies(n_points):
        return ones
    scales = loo_output_scales(residual, inverse_factor, n_outputs)
    if not bool(torch.isfinite(scales).all()):
        return ones
    return scales.clamp(*SCALE_BOUNDS)


def calibrated_scale(A: Tensor | None, residual: Tensor, inverse_factor: Tensor | None = None) -> float:
    """``loo_variance_scale`` of a single-output model within ``SCALE_BOUNDS``; 1 outside
    ``MIN_POINTS..MAX_POINTS`` observed points or when the estimate is not finite. ``A`` is (n, n) or None
    with ``inverse_factor`` (n, n) given, ``residual`` (n,) (several outputs: :func:`calibrated_output_scales`)."""
    if not calibration_applies(residual.shape[0]):
        return 1.0
    try:
        scale = float(loo_variance_scale(A, residual, inverse_factor))
    except RuntimeError:  # a Gram matrix that is not numerically positive definite
        return 1.0
    if scale != scale or scale in (float("inf"), float("-inf")):
        return 1.0
    return min(max(scale, SCALE_BOUNDS[0]), SCALE_BOUNDS[1])
