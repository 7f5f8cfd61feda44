"""Abstract posterior precision operator of a Laplace approximation.

The Laplace posterior over the selected parameters theta is N(theta*, P^-1) with

    P = H / sigma^2 + P0     (regression, H the unit-noise GGN)
    P = H + P0               (classification)

and P0 = diag(prior_diagonal) the prior precision. Every structure ("full",
"diag", "kron", "function") stores its curvature once (at ``Laplace.fit``) and
builds a :class:`PosteriorPrecision` for given hyperparameters, so changing the
prior precision or sigma never recomputes curvature. Each subclass answers the
same questions (log-determinant, solves, samples, diagonals, the linearised
predictive's functional variance J P^-1 J^T) in the way its structure makes
cheap; the Laplace front end, the marginal likelihood and the predictive only
talk to this interface.

Everything is differentiable w.r.t. the prior diagonal and sigma (the marginal
likelihood needs it) and w.r.t. the Jacobians passed to the functional methods
(acquisition gradients need d var / d x).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor


def is_constant_view(prior_diagonal: Tensor) -> bool:
    """Whether a (P,) prior diagonal is a broadcast of one value (a stride-0 view, P > 1)."""
    return prior_diagonal.ndim == 1 and prior_diagonal.shape[0] > 1 and prior_diagonal.stride(0) == 0


class PosteriorPrecision(ABC):
    """Posterior precision P = H / sigma^2 + diag(prior_diagonal) as an operator.

    Vectors live in ``parameters_to_vector`` order of the selected parameters
    (see ``bdl_core.curvature.ParameterLayout``).

    Args:
        prior_diagonal: (P,) positive prior precisions (diagonal of P0).
    """

    def __init__(self, prior_diagonal: Tensor) -> None:
        if prior_diagonal.ndim != 1:
            raise ValueError("prior_diagonal must be a (P,) tensor.")
        self.prior_diagonal = prior_diagonal

    @property
    def n_params(self) -> int:
        """P, the number of parameters."""
        return self.prior_diagonal.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        """dtype of the operator."""
        return self.prior_diagonal.dtype

    @property
    def device(self) -> torch.device:
        """Device of the operator."""
        return self.prior_diagonal.device

    # ------------------------------------------------------------------ core
    @abstractmethod
    def logdet(self) -> Tensor:
        """log det P.

        Returns:
            () tensor, differentiable w.r.t. the prior diagonal and sigma.
        """

    def logdet_ratio(self) -> Tensor:
        """log det P - log det P0, the Occam term of the Laplace evidence.

        Returns:
            () tensor. Function-space precisions compute it directly in the
            (N*C, N*C) data space, so it stays accurate when log det P is huge.
        """
        if is_constant_view(self.prior_diagonal):
            return self.logdet() - self.n_params * self.prior_diagonal[0].log()
        return self.logdet() - self.prior_diagonal.log().sum()

    @abstractmethod
    def solve(self, v: Tensor) -> Tensor:
        """P^-1 v.

        Args:
            v: (P,) or (P, K) right-hand sides.

        Returns:
            Tensor of the same shape as ``v``.
        """

    @abstractmethod
    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """Draws from N(0, P^-1) (add theta* for posterior samples).

        Args:
            n_samples: S, number of draws.
            generator: Optional random generator for reproducibility.

        Returns:
            (S, P) samples.
        """

    @abstractmethod
    def diagonal(self) -> Tensor:
        """Diagonal of P.

        Returns:
            (P,) tensor.
        """

    @abstractmethod
    def to_dense(self) -> Tensor:
        """P as a dense matrix (only sensible for small P).

        Returns:
            (P, P) tensor.
        """

    @abstractmethod
    def functional_variance(self, J: Tensor) -> Tensor:
        """Per-input output covariances J_n P^-1 J_n^T of the linearised model.

        Args:
            J: (N, C, P) Jacobians of the C outputs at N inputs.

        Returns:
            (N, C, C) covariances; never forms a (P, P) matrix for kron/diag.
        """

    # ------------------------------------------------------------- defaults
    def supports_rank_one_factors(self) -> bool:
        """Whether :meth:`functional_variance_from_factors` is available (kron / diag)."""
        return False

    def functional_variance_from_factors(self, factors: list) -> Tensor:
        """:meth:`functional_variance` from rank-one linear-layer Jacobian factors.

        Args:
            factors: ``LinearLayerFactors`` per selected layer, in vector order
                (``bdl_core.curvature.linear_jacobian_factors``), covering all P parameters.

        Returns:
            (N, C, C) covariances, without forming the (N, C, P) Jacobians.
        """
        raise NotImplementedError(f"{type(self).__name__} has no rank-one functional variance")

    def functional_covariance(self, J: Tensor) -> Tensor:
        """Joint output covariance J P^-1 J^T over all inputs and outputs.

        Args:
            J: (N, C, P) Jacobians.

        Returns:
            (N*C, N*C) covariance, row index n*C + c.
        """
        Jf = J.reshape(-1, J.shape[-1])
        return Jf @ self.solve(Jf.transpose(0, 1))

    def covariance_diagonal(self) -> Tensor:
        """Diagonal of the posterior covariance P^-1 (marginal parameter variances).

        Returns:
            (P,) tensor. The default solves against identity columns in blocks;
            subclasses override it where their structure gives it directly.
        """
        n = self.n_params
        eye = torch.eye(n, dtype=self.dtype, device=self.device)
        out = []
        for start in range(0, n, 1024):
            cols = eye[:, start : start + 1024]
            out.append((cols * self.solve(cols)).sum(0))
        return torch.cat(out)

    def covariance(self) -> Tensor:
        """Dense posterior covariance P^-1 (only for small P).

        Returns:
            (P, P) tensor.
        """
        eye = torch.eye(self.n_params, dtype=self.dtype, device=self.device)
        return self.solve(eye)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_params={self.n_params}, dtype={self.dtype})"
