"""Joint linearised-Laplace predictive of a fitted :class:`TangentMLP`, factorised once.

The LLA predictive is f(x*) ~ N(f_theta*(x*), J* P^-1 J*^T), P = J^T J / sigma^2 + D.
Two exact forms of the covariance, chosen by the data size n against P:

* :class:`FunctionSpacePredictive` (n < P): by Woodbury it is the GP posterior of the NTK,

      J* P^-1 J*^T = K** - K*n (K_nn + sigma^2 I)^-1 K_n*,   K = J D^-1 J^T,

  one n x n Cholesky per fit (its inverse factor is stored so every later evaluation
  is matmuls only), kernels from the closed-form tangent features.
* :class:`ParametricPredictive` (n >= P): any ``bdl_core.laplace.PosteriorPrecision``
  (K-FAC or full, factorised by the library once) applied to explicit Jacobians.

Both return the joint covariance over the q points of every batch for inputs of
shape (*batch, q, d_in) and are differentiable w.r.t. the inputs (acquisition
gradients) but not w.r.t. the fitted quantities.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from bdl_core.laplace import PosteriorPrecision

from .stationary_term import StationaryTerm, matern52
from .tangent_mlp import TangentFeatures, TangentMLP, tangent_kernel
from .uniform_variance import kernel_diagonal, uniform_kernel


class LLAPredictive(ABC):
    """Maps network inputs (*batch, q, d_in) to the joint linearised predictive.

    Args:
        net: the network at the MAP (its parameters are not changed afterwards).
    """

    def __init__(self, net: TangentMLP) -> None:
        self.net = net

    @abstractmethod
    def _covariance(self, features: TangentFeatures, inputs: Tensor) -> Tensor:
        """(*batch, q, q) covariance from the features of (*batch, q, d_in) ``inputs``."""

    def __call__(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Joint predictive of the latent function (standardised units).

        Args:
            X: (*batch, q, d_in) network inputs.

        Returns:
            mean (*batch, q) and covariance (*batch, q, q).
        """
        features = self.net.tangent_features(X)
        return features.f, self._covariance(features, X)


class FunctionSpacePredictive(LLAPredictive):
    """GP (NTK) form of the LLA covariance for n < P (see module docstring).

    Args:
        net: the network at the MAP.
        train_inputs: (n, d_in) training inputs.
        variances: (G,) prior variances 1 / precision per parameter tensor.
        sigma: () noise standard deviation.
        uniform: the ``"uniform"`` variance shape (``uniform_variance``): the kernel rescaled to
            the mean of its diagonal at the training inputs, at every input.
        stationary: a Matern-5/2 term added to the (possibly rescaled) kernel (``stationary_term``),
            or None.
    """

    def __init__(self, net: TangentMLP, train_inputs: Tensor, variances: Tensor, sigma: Tensor,
                 uniform: bool = False, stationary: StationaryTerm | None = None) -> None:
        super().__init__(net)
        self.uniform = uniform
        self.stationary = stationary
        with torch.no_grad():
            self.train_features = net.tangent_features(train_inputs).detach()
            self.variances = variances.detach()
            kernel = tangent_kernel(self.train_features, self.train_features, self.variances)
            if uniform:
                self.train_variance = kernel_diagonal(kernel)  # (n,)
                self.level = self.train_variance.mean()
                kernel = uniform_kernel(kernel, self.train_variance, self.train_variance, self.level)
            if stationary is not None:
                self.train_inputs = train_inputs.detach()
                self.stationary_variance = stationary.variance_fraction * kernel_diagonal(kernel).mean()
                self.stationary_lengthscale = stationary.lengthscale(train_inputs.shape[-1])
                kernel = kernel + self.stationary_variance * matern52(self.train_inputs, self.train_inputs,
                                                                      self.stationary_lengthscale)
            n = kernel.shape[0]
            eye = torch.eye(n, dtype=kernel.dtype, device=kernel.device)
            chol = torch.linalg.cholesky(kernel + sigma.detach().pow(2) * eye)
            self.inverse_factor = torch.linalg.solve_triangular(chol, eye, upper=False)  # L^-1

    def _covariance(self, features: TangentFeatures, inputs: Tensor) -> Tensor:
        prior = tangent_kernel(features, features, self.variances)
        cross = tangent_kernel(features, self.train_features, self.variances)  # (*batch, q, n)
        if self.uniform:
            variance = kernel_diagonal(prior)
            prior = uniform_kernel(prior, variance, variance, self.level)
            cross = uniform_kernel(cross, variance, self.train_variance, self.level)
        if self.stationary is not None:
            prior = prior + self.stationary_variance * matern52(inputs, inputs, self.stationary_lengthscale)
            cross = cross + self.stationary_variance * matern52(inputs, self.train_inputs, self.stationary_lengthscale)
        reduced = cross @ self.inverse_factor.mT  # rows: (L^-1 K_n*)^T
        return prior - reduced @ reduced.mT


class ParametricPredictive(LLAPredictive):
    """J* P^-1 J*^T with a library posterior precision, for n >= P.

    Args:
        net: the network at the MAP.
        precision: ``bdl_core`` posterior precision over all parameters of ``net`` in
            ``named_parameters`` order (e.g. ``Laplace(..., structure="kron").posterior_precision``).
    """

    def __init__(self, net: TangentMLP, precision: PosteriorPrecision) -> None:
        super().__init__(net)
        self.precision = precision

    def _covariance(self, features: TangentFeatures, inputs: Tensor) -> Tensor:
        J = features.jacobian()  # (*batch, q, P)
        flat = J.reshape(-1, J.shape[-1])
        solved = self.precision.solve(flat.mT).mT.reshape(J.shape)
        return J @ solved.mT
