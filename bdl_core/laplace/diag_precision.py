"""Diagonal posterior precision P = s diag(h) + diag(p0).

The "diag" Laplace structure: every operation is elementwise, O(P).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.curvature.linear_jacobian_factors import vector_to_matrix_view

from .precision import PosteriorPrecision


class DiagPrecision(PosteriorPrecision):
    """P = curvature_scale * diag(h) + diag(prior_diagonal).

    Args:
        hessian_diagonal: (P,) non-negative curvature diagonal h (unit noise, summed over data).
        prior_diagonal: (P,) prior precisions.
        curvature_scale: () or float, 1 / sigma^2 for regression, 1 for classification.
    """

    def __init__(self, hessian_diagonal: Tensor, prior_diagonal: Tensor, curvature_scale: Tensor | float = 1.0) -> None:
        super().__init__(prior_diagonal)
        self.hessian_diagonal = hessian_diagonal
        self.curvature_scale = curvature_scale

    def diagonal(self) -> Tensor:
        """(P,) diagonal of P."""
        return self.curvature_scale * self.hessian_diagonal + self.prior_diagonal

    def to_dense(self) -> Tensor:
        """(P, P) dense P."""
        return torch.diag(self.diagonal())

    def logdet(self) -> Tensor:
        """() log det P = sum log diag(P)."""
        return self.diagonal().log().sum()

    def solve(self, v: Tensor) -> Tensor:
        """P^-1 v for v (P,) or (P, K)."""
        d = self.diagonal()
        return v / (d if v.ndim == 1 else d.unsqueeze(-1))

    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """(S, P) draws of N(0, P^-1)."""
        eps = torch.randn(n_samples, self.n_params, dtype=self.dtype, device=self.device, generator=generator)
        return eps * self.diagonal().rsqrt()

    def covariance_diagonal(self) -> Tensor:
        """(P,) diagonal of P^-1."""
        return self.diagonal().reciprocal()

    def functional_variance(self, J: Tensor) -> Tensor:
        """(N, C, C) covariances J_n P^-1 J_n^T for J (N, C, P)."""
        return (J * self.diagonal().reciprocal()) @ J.mT

    def supports_rank_one_factors(self) -> bool:
        """Always: a diagonal P^-1 contracts rank-one Jacobians layer by layer."""
        return True

    def functional_variance_from_factors(self, factors: list) -> Tensor:
        """(N, C, C) sum_l sum_i g_ci g_c'i kappa_i with kappa = a~^2 V_l^T, V_l = 1/diag(P) of layer l."""
        if sum(f.n_params for f in factors) != self.n_params:
            raise ValueError("the factors do not cover every parameter")
        inv = self.diagonal().reciprocal()
        out = None
        for f in factors:
            V = vector_to_matrix_view(inv[f.offset : f.offset + f.n_params], f.g.shape[-1], f.has_bias)
            kappa = f.a.pow(2) @ V.mT  # (N, d_out)
            term = (f.g * kappa.unsqueeze(1)) @ f.g.mT
            out = term if out is None else out + term
        return out

    def functional_covariance(self, J: Tensor) -> Tensor:
        """(N*C, N*C) joint covariance for J (N, C, P)."""
        Jf = J.reshape(-1, J.shape[-1])
        return (Jf * self.diagonal().reciprocal()) @ Jf.mT
