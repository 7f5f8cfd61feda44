"""MAP hyperparameters of the continuous GP (``gp_model.continuous_gp``) by a closed-form gradient.

Both kernels of ``continuous_gp`` are covered (``MapPriors.kernel``), each with either lengthscale
prior: BoTorch's dimension-scaled LogNormal or a Gamma (``MapPriors.lengthscale``).

Why hand-written: at the sizes of a tuning study (n = 10 .. 200) one evaluation of the
log posterior through GPyTorch's ``ExactMarginalLogLikelihood`` costs ~4 ms of CPU, nearly all
of it Python dispatch in the lazy linear-operator machinery, and a fit takes 20 .. 75 of them;
the same objective and its gradient written as a handful of dense numpy/LAPACK operations cost
~0.1 ms at n = 20 (numpy's per-operation cost is a fraction of torch's at these sizes). This is what Optuna's ``GPSampler`` does with its own GP. It is
the same objective as GPyTorch's, so the MAP is the same; ``tests/optimizers/test_gp_map_fit.py``
checks the value against ``ExactMarginalLogLikelihood`` and the gradient against autograd in
float64, and the fitted model against ``fit_gpytorch_mll``.

Model (standardised outcomes ``y``, ``n`` points ``X`` in the unit cube)::

    y ~ N(c 1, s R + v I),   R_ij = exp(-r_ij^2 / 2)                          (RBF)
                             R_ij = (1 + sqrt5 r_ij + 5 r_ij^2 / 3) exp(-sqrt5 r_ij)   (Matern-5/2)
    with r_ij = |(x_i - x_j) / l|

Log posterior (per observation, as GPyTorch scales it)::

    [log N(y; c 1, K) + sum_d log LogNormal(l_d; mu0, s0) + log Gamma(s; a_s, b_s) + log Gamma(v; a_v, b_v)] / n

with BoTorch's dimension-scaled lengthscale prior (``mu0 = sqrt(2) + log(D) / 2``, ``s0 = sqrt(3)``)
and the output-scale and noise priors of ``gp_model`` (normalised densities, so the value is
GPyTorch's to rounding). Priors are on the values (as in GPyTorch,
no Jacobian). The objective has several local optima, so the parametrisation the optimiser works
in decides which one a fit ends in: ``fit_map`` works in GPyTorch's coordinates
``(l, softplus^-1(s), v, c)`` with its bounds ``l >= 0.025`` and ``v >= MIN_NOISE``, so from the same
start it takes the same L-BFGS-B steps as ``fit_gpytorch_mll`` (measured: a fit in log coordinates,
same objective, moved Hartmann6 seed 1 from the global to a local optimum, 60 evaluations).

Gradient: with ``alpha = K^{-1}(y - c)`` and ``W = K^{-1} - alpha alpha^T``,
``d(-log N)/d theta = tr(W dK/d theta) / 2``, where ``dK/d log s = s R``,
``dK/d log v = v I`` and ``dK/d log l_d = s G * (x_id - x_jd)^2 / l_d^2`` with ``G = R`` (RBF) or
``G = 5 (1 + sqrt5 r) exp(-sqrt5 r) / 3`` (Matern-5/2: ``dR/dr * (-1 / r)``, finite at ``r = 0``);
the last needs only ``sum_ij M_ij (a_i - a_j)^2 = 2 a^T diag(M 1) a - 2 a^T M a`` with
``M = W * G`` (O(n^2 D)).

Lengthscale coordinates follow GPyTorch too: with the dimension-scaled prior they are bounded below
by ``LENGTHSCALE_MIN`` and optimised as they are (BoTorch's constraint for that prior); with a Gamma
prior they are ``softplus(raw)`` (GPyTorch's default constraint), optimised in ``raw``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from scipy.optimize import minimize
from scipy.special import expit
from torch import Tensor

from service.optimizers.stationary_kernels import StationaryKernel, correlation_and_slope_numpy

LENGTHSCALE_MIN = 2.5e-2  # BoTorch's lower bound on the dimension-scaled RBF lengthscales
# below this lengthscale (X in the unit cube) the squared distances overflow: map_objective rejects the point
LOG_TINY_LENGTHSCALE = math.log(1e-150)


@dataclass(frozen=True)
class GPHyperparameters:
    """Hyperparameters of the continuous GP in standardised units.

    Attributes:
        lengthscale: ``(D,)`` RBF ARD lengthscales.
        outputscale: ``()`` prior variance ``s``.
        noise: ``()`` observation-noise variance ``v``.
        constant: ``()`` constant prior mean ``c``.
    """

    lengthscale: Tensor
    outputscale: Tensor
    noise: Tensor
    constant: Tensor


@dataclass(frozen=True)
class MapPriors:
    """Priors and bounds of the MAP objective (see module docstring).

    Attributes:
        outputscale: Gamma ``(concentration, rate)`` of ``s``.
        noise: Gamma ``(concentration, rate)`` of ``v``.
        min_noise: lower bound of ``v``.
        lengthscale: Gamma ``(concentration, rate)`` of each ``l_d`` (softplus coordinates); None:
            the dimension-scaled LogNormal prior (bounded coordinates).
        kernel: ``"rbf"`` or ``"matern52"`` (``stationary_kernels``).
    """

    outputscale: tuple[float, float]
    noise: tuple[float, float]
    min_noise: float
    lengthscale: tuple[float, float] | None = None
    kernel: StationaryKernel = "rbf"

    @property
    def softplus_lengthscales(self) -> bool:
        """Whether the lengthscales are optimised as ``softplus(raw)`` (a Gamma prior) or bounded as they are."""
        return self.lengthscale is not None


def lengthscale_prior(dim: int) -> tuple[float, float]:
    """``(mu0, s0)`` of BoTorch's dimension-scaled LogNormal lengthscale prior for ``dim`` inputs."""
    return math.sqrt(2.0) + 0.5 * math.log(dim), math.sqrt(3.0)


def _cholesky(K: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of ``K``; on failure jitter of 1e-8 .. 1e-4 x the mean diagonal (as GPyTorch)."""
    jitter = 1e-8
    while True:
        try:
            return scipy.linalg.cholesky(K, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            if jitter > 1e-4:
                raise
            K = K + jitter * K.diagonal().mean() * np.eye(K.shape[0])
            jitter *= 10


def negative_log_posterior(u: np.ndarray, X: np.ndarray, y: np.ndarray, priors: MapPriors) -> tuple[float, np.ndarray]:
    """The MAP objective and its gradient (module docstring), both divided by ``n`` (numpy, float64).

    Args:
        u: ``(D + 3,)`` ``(log l, log s, log v, c)``.
        X: ``(n, D)`` inputs.
        y: ``(n,)`` standardised outcomes.
        priors: the priors.

    Returns:
        ``(value, gradient)``: a float and ``(D + 3,)``.

    Raises:
        numpy.linalg.LinAlgError: the kernel matrix is not positive definite even with jitter.
    """
    n, D = X.shape
    log_l, log_s, log_v, c = u[:D], u[D], u[D + 1], u[D + 2]
    lengthscale, s, v = np.exp(log_l), math.exp(log_s), math.exp(log_v)
    Z = X / lengthscale
    sq_norms = (Z * Z).sum(-1)
    sq_dist = np.maximum(sq_norms[:, None] + sq_norms[None, :] - 2.0 * Z @ Z.T, 0.0)
    R, G = correlation_and_slope_numpy(sq_dist, priors.kernel)
    K = s * R
    K[np.diag_indices(n)] += v
    L = _cholesky(K)
    r = y - c
    inverse = scipy.linalg.cho_solve((L, True), np.eye(n), check_finite=False)
    alpha = inverse @ r
    nll = 0.5 * float(r @ alpha) + float(np.log(L.diagonal()).sum()) + 0.5 * n * math.log(2 * math.pi)
    W = inverse - np.outer(alpha, alpha)
    M = W * G
    row = M.sum(-1)
    # sum_ij M_ij (x_id - x_jd)^2 for every d, from row sums and quadratic forms
    spread = 2.0 * (row @ (X * X)) - 2.0 * ((M @ X) * X).sum(0)
    grad = np.empty(D + 3)
    grad[:D] = 0.5 * s * spread / lengthscale ** 2
    grad[D] = 0.5 * s * float((W * R).sum())
    grad[D + 1] = 0.5 * v * float(W.diagonal().sum())
    grad[D + 2] = -float(alpha.sum())
    # negative log priors on the values (normalised densities), their derivatives in u
    a_s, b_s = priors.outputscale
    a_v, b_v = priors.noise
    if priors.lengthscale is not None:
        a_l, b_l = priors.lengthscale
        prior = float((-(a_l - 1) * log_l + b_l * lengthscale).sum()) + D * (math.lgamma(a_l) - a_l * math.log(b_l))
        grad[:D] += -(a_l - 1) + b_l * lengthscale
    else:
        mu0, s0 = lengthscale_prior(D)
        prior = float((log_l + (log_l - mu0) ** 2 / (2 * s0 * s0)).sum()) + D * (math.log(s0) + 0.5 * math.log(2 * math.pi))
        grad[:D] += 1.0 + (log_l - mu0) / (s0 * s0)
    prior += -(a_s - 1) * log_s + b_s * s - a_s * math.log(b_s) + math.lgamma(a_s)
    prior += -(a_v - 1) * log_v + b_v * v - a_v * math.log(b_v) + math.lgamma(a_v)
    grad[D] += -(a_s - 1) + b_s * s
    grad[D + 1] += -(a_v - 1) + b_v * v
    return (nll + prior) / n, grad / n


def fit_map(X: Tensor, y: Tensor, start: GPHyperparameters, priors: MapPriors, maxiter: int) -> GPHyperparameters:
    """MAP hyperparameters by L-BFGS-B from ``start`` (scipy's default tolerances, as BoTorch's fit).

    Args:
        X: ``(n, D)`` inputs.
        y: ``(n,)`` standardised outcomes.
        start: starting hyperparameters (clipped into the bounds).
        priors: priors and the noise floor.
        maxiter: iteration cap.

    Raises:
        ValueError: the optimiser ended on a non-finite point.
        numpy.linalg.LinAlgError: the kernel matrix could not be factorised.
    """
    D = X.shape[-1]
    # GPyTorch's coordinates p = (l or raw_l, raw_s, v, c), s = softplus(raw_s) (and l = softplus(raw_l) for
    # the Matern): the same iterates as fit_gpytorch_mll
    start_l = start.lengthscale.detach().reshape(-1).cpu().numpy().astype(np.float64)
    p0 = np.concatenate([
        _inverse_softplus_array(start_l) if priors.softplus_lengthscales else np.maximum(start_l, LENGTHSCALE_MIN),
        [_inverse_softplus(float(start.outputscale))],
        [max(float(start.noise), priors.min_noise)],
        [float(start.constant)],
    ])
    X_np = X.detach().cpu().numpy().astype(np.float64)
    y_np = y.detach().cpu().numpy().astype(np.float64)

    lengthscale_bound = (None, None) if priors.softplus_lengthscales else (LENGTHSCALE_MIN, None)
    bounds = [lengthscale_bound] * D + [(None, None), (priors.min_noise, None), (None, None)]
    result = minimize(map_objective, p0, args=(X_np, y_np, priors), jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": maxiter})
    if not bool(np.isfinite(result.x).all()):
        raise ValueError("MAP fit ended on non-finite hyperparameters")
    p = torch.as_tensor(result.x, dtype=X.dtype, device=X.device)
    lengthscale = torch.nn.functional.softplus(p[:D]) if priors.softplus_lengthscales else p[:D]
    return GPHyperparameters(lengthscale=lengthscale, outputscale=torch.nn.functional.softplus(p[D]),
                             noise=p[D + 1], constant=p[D + 2])


def map_objective(p: np.ndarray, X: np.ndarray, y: np.ndarray, priors: MapPriors) -> tuple[float, np.ndarray]:
    """:func:`negative_log_posterior` and its gradient in ``fit_map``'s coordinates ``p`` ``(D + 3,)``.

    A point whose smallest lengthscale is below 1e-150 (``LOG_TINY_LENGTHSCALE``: an L-BFGS-B
    line-search step far into ``raw -> -inf``) is rejected with an infinite value and a zero gradient,
    so that the line search backtracks; evaluating it would overflow ``(X / l)^2`` into NaN, on which
    scipy's L-BFGS-B ends the whole fit early ("ABNORMAL" termination), wherever it stood.
    """
    D = X.shape[-1]
    log_s, d_log_s = _log_softplus(float(p[D]))
    if priors.softplus_lengthscales:
        log_l, d_log_l = _log_softplus_array(p[:D])
    else:
        log_l, d_log_l = np.log(p[:D]), None
    if float(log_l.min()) < LOG_TINY_LENGTHSCALE:
        return math.inf, np.zeros_like(p)
    u = np.concatenate([log_l, [log_s, math.log(p[D + 1]), p[D + 2]]])
    value, grad_u = negative_log_posterior(u, X, y, priors)
    grad = grad_u.copy()
    if d_log_l is None:
        grad[:D] /= p[:D]
    else:
        grad[:D] *= d_log_l
    grad[D] *= d_log_s
    grad[D + 1] /= p[D + 1]
    return value, grad


def _log_softplus_array(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise ``_log_softplus`` of ``raw`` ``(k,)``: two ``(k,)`` arrays."""
    pairs = [_log_softplus(float(value)) for value in raw]
    return np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])


def _inverse_softplus_array(values: np.ndarray) -> np.ndarray:
    """Elementwise ``_inverse_softplus`` of ``values`` ``(k,)``."""
    return np.array([_inverse_softplus(float(value)) for value in values])


def _log_softplus(raw: float) -> tuple[float, float]:
    """``log(softplus(raw))`` and its derivative ``sigmoid(raw) / softplus(raw)``, for any ``raw``
    (below -30, ``softplus(raw) = exp(raw)`` to double precision: ``(raw, 1)``)."""
    if raw < -30.0:
        return raw, 1.0
    softplus = float(np.logaddexp(0.0, raw))
    return math.log(softplus), float(expit(raw)) / softplus


def _inverse_softplus(value: float) -> float:
    """``raw`` with ``softplus(raw) = value`` (``value > 0``; tiny values map to ``log(value)``)."""
    value = max(value, 1e-300)
    if value > 30.0:
        return value
    return value + math.log(-math.expm1(-value))
