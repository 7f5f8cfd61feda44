"""A read-only, closed-form posterior of a fitted ``SingleTaskGP`` for acquisition optimisation.

Why hand-written: maximising an acquisition function evaluates the GP posterior (and its
gradient) a few hundred times per suggestion. Through GPyTorch each evaluation costs
~6 ms of CPU at n = 100, d = 6, nearly all of it Python dispatch in the lazy
linear-operator machinery (the arithmetic is a few microseconds); the same posterior
written as a handful of dense torch operations on a cached Cholesky factor costs a
fraction of that. This is what Optuna's ``GPSampler`` does with its own GP. Fitting
stays with GPyTorch/BoTorch (``gp_model``); this module only reads the fitted
hyperparameters, so the two cannot disagree (``tests/optimizers/test_cached_posterior.py``
checks mean and covariance against GPyTorch's exact posterior).

Supported: ``SingleTaskGP`` with an ARD RBF or Matern-5/2 kernel (``stationary_kernels``; no output
scale) or a ``ScaleKernel`` around it, constant mean, homoskedastic or fixed noise and
an optional ``Standardize`` outcome transform; ``cached_posterior_model`` returns None
for anything else and callers keep the original model.

Posterior at ``X`` ``(..., q, D)``: with ``L L^T = K + diag(noise)``, ``alpha = (K + diag(noise))^{-1} (y - c)``,
``mean = c + k_*^T alpha``, ``cov = k_** - V^T V`` with ``V = L^{-1} k_*``, then un-standardised.
"""

from __future__ import annotations

import torch
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import ScaleKernel
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.means import ConstantMean
from torch import Tensor

from service.optimizers.stationary_kernels import StationaryKernel, correlation_torch, kernel_name

COVARIANCE_JITTER = 1e-9  # added to the joint predictive covariance (standardised units)


class CachedPosteriorGP(Model):
    """Exact GP posterior from cached factors (see module docstring); no training, no fantasies.

    Args:
        train_X: ``(n, D)`` training inputs.
        lengthscale: ``(D,)`` ARD lengthscales.
        outputscale: kernel output scale (1.0 without a ``ScaleKernel``).
        constant: the constant prior mean (standardised units).
        chol: ``(n, n)`` lower Cholesky factor of ``K + diag(noise)``.
        alpha: ``(n,)`` ``(K + diag(noise))^{-1} (y - constant)``.
        y_mean, y_std: the outcome standardisation (0 and 1 without one).
        kernel_type: ``"rbf"`` or ``"matern52"`` (``stationary_kernels``).
    """

    num_outputs = 1

    def __init__(self, train_X: Tensor, lengthscale: Tensor, outputscale: float | Tensor, constant: Tensor,
                 chol: Tensor, alpha: Tensor, y_mean: Tensor, y_std: Tensor,
                 kernel_type: StationaryKernel = "rbf") -> None:
        super().__init__()
        self.kernel_type = kernel_type
        self.train_X = train_X
        self.scaled_train_X = train_X / lengthscale
        self.lengthscale = lengthscale
        self.outputscale = torch.as_tensor(outputscale, dtype=train_X.dtype)
        self.constant = constant
        self.chol = chol
        self.alpha = alpha
        self.y_mean = y_mean
        self.y_std = y_std

    def kernel(self, A: Tensor, B: Tensor) -> Tensor:
        """``(..., p, r)`` ``outputscale * k(a, b)`` on lengthscale-scaled inputs ``(..., p, D)``, ``(..., r, D)``."""
        sq = (A.unsqueeze(-2) - B.unsqueeze(-3)).pow(2).sum(-1)
        return self.outputscale * correlation_torch(sq, self.kernel_type)

    def posterior(self, X: Tensor, output_indices=None, observation_noise=False, posterior_transform=None,
                  **kwargs) -> GPyTorchPosterior:
        """Joint posterior of the latent objective at ``X`` ``(..., q, D)`` in the original units.

        Raises:
            NotImplementedError: ``observation_noise`` or a ``posterior_transform`` was requested.
        """
        if observation_noise is not False or posterior_transform is not None:
            raise NotImplementedError("CachedPosteriorGP serves the latent posterior only")
        Z = X / self.lengthscale
        k_star = self.kernel(Z, self.scaled_train_X)  # (..., q, n)
        mean = self.constant + k_star @ self.alpha  # (..., q)
        n = self.chol.shape[0]
        # one triangular solve with all batch x q right-hand sides (a batched solve would copy the factor)
        V = torch.linalg.solve_triangular(self.chol, k_star.reshape(-1, n).T, upper=False).T.reshape(k_star.shape)
        cov = self.kernel(Z, Z) - V @ V.transpose(-1, -2)  # (..., q, q)
        q = X.shape[-2]
        cov = cov + COVARIANCE_JITTER * torch.eye(q, dtype=X.dtype, device=X.device)
        mean = self.y_mean + self.y_std * mean
        cov = self.y_std.pow(2) * cov
        return GPyTorchPosterior(MultivariateNormal(mean, cov))


def cached_posterior_model(model: Model) -> CachedPosteriorGP | None:
    """A ``CachedPosteriorGP`` equal to a fitted ``SingleTaskGP``'s posterior, or None when unsupported.

    Args:
        model: a fitted model (in eval mode); only plain ``SingleTaskGP`` (see module docstring) qualifies.
    """
    if type(model) is not SingleTaskGP or getattr(model, "input_transform", None) is not None:
        return None
    transform = getattr(model, "outcome_transform", None)
    if transform is not None and not isinstance(transform, Standardize):
        return None
    kernel, outputscale = model.covar_module, 1.0
    if isinstance(kernel, ScaleKernel):
        kernel, outputscale = kernel.base_kernel, model.covar_module.outputscale.detach()
    kernel_type = kernel_name(kernel)
    if kernel_type is None or kernel.active_dims is not None or not isinstance(model.mean_module, ConstantMean):
        return None
    likelihood = model.likelihood
    train_X = model.train_inputs[0].detach()
    y = model.train_targets.detach()  # standardised when there is an outcome transform
    if train_X.dim() != 2:
        return None
    if isinstance(likelihood, FixedNoiseGaussianLikelihood):
        noise = likelihood.noise.detach().reshape(-1)
    elif isinstance(likelihood, GaussianLikelihood):
        noise = likelihood.noise.detach().reshape(-1).expand(y.shape[0])
    else:
        return None
    with torch.no_grad():
        lengthscale = kernel.lengthscale.detach().reshape(-1)
        constant = model.mean_module.constant.detach().reshape(())
        view = CachedPosteriorGP(train_X, lengthscale, outputscale, constant,
                                 torch.empty(0), torch.empty(0), torch.zeros(()), torch.ones(()), kernel_type)
        K = view.kernel(view.scaled_train_X, view.scaled_train_X) + torch.diag(noise)
        chol = _cholesky(K)
        alpha = torch.cholesky_solve((y - constant).unsqueeze(-1), chol).squeeze(-1)
    y_mean = torch.zeros((), dtype=train_X.dtype)
    y_std = torch.ones((), dtype=train_X.dtype)
    if isinstance(transform, Standardize):
        y_mean = transform.means.detach().reshape(())
        y_std = transform.stdvs.detach().reshape(())
    view.chol, view.alpha, view.y_mean, view.y_std = chol, alpha, y_mean, y_std
    return view


def _cholesky(K: Tensor) -> Tensor:
    """Lower Cholesky factor of ``K``, adding jitter like GPyTorch (1e-8 .. 1e-4 x mean diagonal) when needed."""
    factor, info = torch.linalg.cholesky_ex(K)
    jitter = 1e-8
    while int(info) != 0 and jitter <= 1e-3:
        scale = K.diagonal().mean()
        factor, info = torch.linalg.cholesky_ex(K + jitter * scale * torch.eye(K.shape[0], dtype=K.dtype))
        jitter *= 10
    if int(info) != 0:
        raise torch.linalg.LinAlgError("kernel matrix is not positive definite")
    return factor
