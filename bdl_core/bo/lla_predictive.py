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

Mean. By default the predictive mean is the network f_theta*(x*). A few hundred Adam
steps do not reach the exact mode of the posterior under the hyperparameters tuned
afterwards, so the linearised model's own posterior mean differs from it by
J* delta with delta = P^-1 (J^T r / sigma^2 - P0 u), r = y - f(X) the training
residuals and u = theta* - mu0 the offset from the prior mean (one Newton step, exact
for the linearised model). ``mean_correction`` adds it: in function space
J* delta = K*n (K_nn + sigma^2 I)^-1 (r + J u) - J* u, in weight space one solve at fit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from bdl_core.laplace import PosteriorPrecision

from .tangent_mlp import TangentFeatures, TangentMLP, tangent_kernel


class LLAPredictive(ABC):
    """Maps network inputs (*batch, q, d_in) to the joint linearised predictive.

    Args:
        net: the network at the MAP (its parameters are not changed afterwards).
    """

    def __init__(self, net: TangentMLP) -> None:
        self.net = net
        self.offset: list[Tensor] | None = None  # u = theta* - mu0 per parameter tensor

    @abstractmethod
    def _covariance(self, features: TangentFeatures) -> Tensor:
        """(*batch, q, q) covariance from the features of (*batch, q) inputs."""

    def _mean_shift(self, features: TangentFeatures) -> Tensor | None:
        """(*batch, q) correction J* delta of the mean (None: no correction)."""
        return None

    def __call__(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Joint predictive of the latent function (standardised units).

        Args:
            X: (*batch, q, d_in) network inputs.

        Returns:
            mean (*batch, q) and covariance (*batch, q, q).
        """
        features = self.net.tangent_features(X)
        shift = self._mean_shift(features)
        mean = features.f if shift is None else features.f + shift
        return mean, self._covariance(features)


def jacobian_vector_product(features: TangentFeatures, vector: list[Tensor]) -> Tensor:
    """(*batch) J(x) v for v given per parameter tensor (W_1, b_1, W_2, ...), from the features."""
    out = None
    for i, (a, d) in enumerate(zip(features.inputs, features.deltas)):
        W, b = vector[2 * i], vector[2 * i + 1]
        term = (d * (a @ W.mT)).sum(-1) + d @ b
        out = term if out is None else out + term
    return out


def parameter_offset(net: TangentMLP, prior_mean: list[Tensor] | None) -> list[Tensor]:
    """u = theta* - mu0 per parameter tensor (mu0 = 0 when ``prior_mean`` is None).

    Returns:
        One tensor per parameter, (fan_out, fan_in) for weights and (fan_out,) for biases.
    """
    params = [p.detach() for p in net.parameters()]
    if prior_mean is None:
        return params
    return [p - m.to(p) for p, m in zip(params, prior_mean)]


class FunctionSpacePredictive(LLAPredictive):
    """GP (NTK) form of the LLA covariance for n < P (see module docstring).

    Args:
        net: the network at the MAP.
        train_inputs: (n, d_in) training inputs.
        variances: (G,) prior variances 1 / precision per parameter tensor.
        sigma: () noise standard deviation.
    """

    def __init__(self, net: TangentMLP, train_inputs: Tensor, variances: Tensor, sigma: Tensor,
                 targets: Tensor | None = None, prior_mean: list[Tensor] | None = None) -> None:
        super().__init__(net)
        with torch.no_grad():
            self.train_features = net.tangent_features(train_inputs).detach()
            self.variances = variances.detach()
            kernel = tangent_kernel(self.train_features, self.train_features, self.variances)
            n = kernel.shape[0]
            eye = torch.eye(n, dtype=kernel.dtype, device=kernel.device)
            chol = torch.linalg.cholesky(kernel + sigma.detach().pow(2) * eye)
            self.inverse_factor = torch.linalg.solve_triangular(chol, eye, upper=False)  # L^-1
            self.weights = None
            if targets is not None:  # mean correction (module docstring)
                self.offset = parameter_offset(net, prior_mean)
                rhs = targets.reshape(-1) - self.train_features.f + jacobian_vector_product(self.train_features, self.offset)
                self.weights = self.inverse_factor.mT @ (self.inverse_factor @ rhs)  # (K + s^2 I)^-1 rhs

    def _mean_shift(self, features: TangentFeatures) -> Tensor | None:
        if self.weights is None:
            return None
        cross = tangent_kernel(features, self.train_features, self.variances)
        return cross @ self.weights - jacobian_vector_product(features, self.offset)

    def _covariance(self, features: TangentFeatures) -> Tensor:
        prior = tangent_kernel(features, features, self.variances)
        cross = tangent_kernel(features, self.train_features, self.variances)  # (*batch, q, n)
        reduced = cross @ self.inverse_factor.mT  # rows: (L^-1 K_n*)^T
        return prior - reduced @ reduced.mT


class ParametricPredictive(LLAPredictive):
    """J* P^-1 J*^T with a library posterior precision, for n >= P.

    Args:
        net: the network at the MAP.
        precision: ``bdl_core`` posterior precision over all parameters of ``net`` in
            ``named_parameters`` order (e.g. ``Laplace(..., structure="kron").posterior_precision``).
        train_inputs: (n, d_in) training inputs, targets: (n,) standardised targets,
            variances: (G,) prior variances per parameter tensor, sigma: () noise sd,
            prior_mean: per-tensor prior means (None: zero). Give targets (and the rest)
            to add the mean correction of the module docstring; None: the mean is the network.
    """

    def __init__(self, net: TangentMLP, precision: PosteriorPrecision, train_inputs: Tensor | None = None,
                 targets: Tensor | None = None, variances: Tensor | None = None, sigma: Tensor | None = None,
                 prior_mean: list[Tensor] | None = None) -> None:
        super().__init__(net)
        self.precision = precision
        self.delta: Tensor | None = None
        if targets is not None:  # mean correction: delta = P^-1 (J^T r / sigma^2 - P0 u)
            with torch.no_grad():
                features = net.tangent_features(train_inputs)
                J = features.jacobian()  # (n, P)
                u = torch.cat([t.reshape(-1) for t in parameter_offset(net, prior_mean)])
                sizes = [p.numel() for p in net.parameters()]
                p0 = torch.cat([v.reciprocal().expand(k) for v, k in zip(variances, sizes)])
                residual = targets.reshape(-1) - features.f
                self.delta = precision.solve(J.mT @ residual / sigma.pow(2) - p0 * u)

    def _mean_shift(self, features: TangentFeatures) -> Tensor | None:
        if self.delta is None:
            return None
        return features.jacobian() @ self.delta

    def _covariance(self, features: TangentFeatures) -> Tensor:
        J = features.jacobian()  # (*batch, q, P)
        flat = J.reshape(-1, J.shape[-1])
        solved = self.precision.solve(flat.mT).mT.reshape(J.shape)
        return J @ solved.mT
