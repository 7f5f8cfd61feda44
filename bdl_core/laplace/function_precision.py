"""Function-space (GP / NTK) form of the Laplace posterior precision.

With the GGN, P = sum_n J_n^T Lambda_n J_n * s + P0 = B^T B + D, where
B = (s^1/2 L^T J) is (N*C, P) (L_n L_n^T = Lambda_n, s = 1/sigma^2 for regression,
1 for classification) and D = P0 is diagonal. Everything is done in the (N*C)-dim
data space with M = I + B D^-1 B^T (the prior NTK kernel K = J D^-1 J^T whitened by
the likelihood precision):

* log det P - log det P0 = log det M                  (matrix determinant lemma)
* P^-1 = D^-1 - D^-1 B^T M^-1 B D^-1                   (Woodbury)
* J* P^-1 J*^T = K** - U^T M^-1 U, U = B D^-1 J*^T     (GP posterior with the NTK kernel)

so the linearised Laplace posterior is exactly a GP whose mean is the MAP network.
Cost O((N C)^2 P + (N C)^3) per hyperparameter setting, independent of P^3, which is
what makes it the structure of choice for small-data / many-parameter BO surrogates.
With a scalar prior delta and the eigenvalues mu of B0 B0^T computed once,
log det M = sum log(1 + s mu_i / delta): O(N C) per setting, no factorisation per step.

Over plain linear layers (``training_factors`` given) the cross-kernel U needs no
Jacobians: row (n, k) of B restricted to layer l is s^1/2 u_nk (x) a~_n and a test
Jacobian row is g*_mc (x) a~*_m, so with V_l = D_l^-1 viewed as (d_out, d~)

    U[(n, k), (m, c)] = s^1/2 sum_l sum_i u_nki g*_mci T_l[n, m, i],
    T_l[n, m, i] = sum_t a~_nt V_l[i, t] a~*_mt,

O(N N* (P + C K d_out)) instead of O(N C N* C P), for any diagonal prior.
"""

from __future__ import annotations

from functools import cached_property

import torch
from torch import Tensor

from bdl_core.curvature.jacobians import example_chunks
from bdl_core.curvature.linear_jacobian_factors import LinearLayerFactors, vector_to_matrix_view

from .precision import PosteriorPrecision

#: Most entries of the (N, rows, C, max(d_out, d~)) intermediate of the rank-one cross-kernel.
FACTOR_WORKSPACE = 2**24


class FunctionPrecision(PosteriorPrecision):
    """P = s * B0^T B0 + diag(prior_diagonal), handled through the (N*C, N*C) kernel.

    Args:
        whitened_jacobians: (N, C, P) unit-noise ``B0_n = L_n^T J_n`` with
            L_n L_n^T = Lambda_n the output Hessian (regression: J_n itself).
        prior_diagonal: (P,) prior precisions.
        curvature_scale: () or float, 1 / sigma^2 for regression, 1 for classification.
        gram_eigenvalues: Optional (N*C,) eigenvalues of B0 B0^T (B0 the unit-noise
            whitened Jacobians), given only with a scalar prior; :meth:`logdet_ratio` then
            uses them.
        training_factors: Optional rank-one factors of B0 per linear layer, in vector
            order: (factor with a~ (N, d~), u (N, C, d_out)) as from
            ``bdl_core.curvature.linear_jacobian_factors.ggn_factors``; enables
            :meth:`functional_variance_from_factors`.
    """

    def __init__(self, whitened_jacobians: Tensor, prior_diagonal: Tensor, curvature_scale: Tensor | float = 1.0,
                 gram_eigenvalues: Tensor | None = None,
                 training_factors: list[tuple[LinearLayerFactors, Tensor]] | None = None) -> None:
        super().__init__(prior_diagonal)
        n, c, p = whitened_jacobians.shape
        if p != prior_diagonal.shape[0]:
            raise ValueError("Jacobian and prior sizes differ.")
        self.whitened_jacobians = whitened_jacobians
        self.curvature_scale = curvature_scale
        self.gram_eigenvalues = gram_eigenvalues
        self.training_factors = training_factors

    @cached_property
    def _B(self) -> Tensor:
        """(N*C, P) s^1/2 L^T J."""
        B0 = self.whitened_jacobians.reshape(-1, self.n_params)
        scale = self.curvature_scale
        root = scale.sqrt() if isinstance(scale, Tensor) else scale**0.5
        return root * B0

    @cached_property
    def kernel_cholesky(self) -> Tensor:
        """Lower Cholesky factor of M = I + B D^-1 B^T.

        Returns:
            (N*C, N*C) lower-triangular tensor.
        """
        B = self._B
        M = (B / self.prior_diagonal) @ B.mT
        M = M + torch.eye(M.shape[0], dtype=M.dtype, device=M.device)
        return torch.linalg.cholesky(M)

    def logdet_ratio(self) -> Tensor:
        """() log det P - log det P0 = log det(I + B D^-1 B^T)."""
        if self.gram_eigenvalues is not None:
            return torch.log1p(self.curvature_scale * self.gram_eigenvalues / self.prior_diagonal[0]).sum()
        return 2.0 * self.kernel_cholesky.diagonal().log().sum()

    def logdet(self) -> Tensor:
        """() log det P = log det M + sum log D."""
        return self.logdet_ratio() + self.prior_diagonal.log().sum()

    def solve(self, v: Tensor) -> Tensor:
        """P^-1 v by Woodbury, v (P,) or (P, K)."""
        rhs = v.unsqueeze(-1) if v.ndim == 1 else v
        inv_d = self.prior_diagonal.reciprocal().unsqueeze(-1)
        dv = inv_d * rhs
        inner = torch.cholesky_solve(self._B @ dv, self.kernel_cholesky)
        out = dv - inv_d * (self._B.mT @ inner)
        return out.squeeze(-1) if v.ndim == 1 else out

    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """(S, P) draws of N(0, P^-1): x = B^T e1 + D^1/2 e2 ~ N(0, P), then P^-1 x."""
        kw = dict(dtype=self.dtype, device=self.device, generator=generator)
        e1 = torch.randn(self._B.shape[0], n_samples, **kw)
        e2 = torch.randn(self.n_params, n_samples, **kw)
        x = self._B.mT @ e1 + self.prior_diagonal.sqrt().unsqueeze(-1) * e2
        return self.solve(x).mT

    def diagonal(self) -> Tensor:
        """(P,) diagonal of P."""
        return self._B.pow(2).sum(0) + self.prior_diagonal

    def to_dense(self) -> Tensor:
        """(P, P) dense P = B^T B + D (small P only)."""
        return self._B.mT @ self._B + torch.diag(self.prior_diagonal)

    def covariance_diagonal(self) -> Tensor:
        """(P,) diagonal of P^-1 = D^-1 - diag(D^-1 B^T M^-1 B D^-1)."""
        inv_d = self.prior_diagonal.reciprocal()
        Z = torch.linalg.solve_triangular(self.kernel_cholesky, self._B * inv_d, upper=False)
        return inv_d - Z.pow(2).sum(0)

    def _reduced(self, J: Tensor) -> Tensor:
        """(N*C, N', C') L_M^-1 B D^-1 J*^T for J (N', C', P)."""
        n, c, p = J.shape
        U = (self._B / self.prior_diagonal) @ J.reshape(n * c, p).mT
        Z = torch.linalg.solve_triangular(self.kernel_cholesky, U, upper=False)
        return Z.reshape(-1, n, c)

    def functional_variance(self, J: Tensor) -> Tensor:
        """(N, C, C) GP posterior covariances K**_n - U_n^T M^-1 U_n for J (N, C, P)."""
        prior = (J / self.prior_diagonal) @ J.mT
        Z = self._reduced(J)
        return prior - torch.einsum("kna,knb->nab", Z, Z)

    def functional_covariance(self, J: Tensor) -> Tensor:
        """(N*C, N*C) joint GP posterior covariance for J (N, C, P)."""
        Jf = J.reshape(-1, J.shape[-1])
        Z = self._reduced(J).reshape(self._B.shape[0], -1)
        return (Jf / self.prior_diagonal) @ Jf.mT - Z.mT @ Z

    def supports_rank_one_factors(self) -> bool:
        """Whether the training data's rank-one factors were kept (plain linear layers)."""
        return self.training_factors is not None

    def functional_variance_from_factors(self, factors: list[LinearLayerFactors]) -> Tensor:
        """(N*, C, C) GP posterior covariances from the test inputs' rank-one factors."""
        if self.training_factors is None:
            raise ValueError("no training factors were kept for this posterior")
        if sum(f.n_params for f in factors) != self.n_params or len(factors) != len(self.training_factors):
            raise ValueError("the factors do not cover every parameter")
        inv = self.prior_diagonal.reciprocal()
        n_test, c = factors[0].g.shape[:2]
        n_train, k = self.training_factors[0][1].shape[:2]
        prior = None
        U = None
        for (train, u), test in zip(self.training_factors, factors):
            d_out = test.g.shape[-1]
            V = vector_to_matrix_view(inv[test.offset : test.offset + test.n_params], d_out, test.has_bias)
            kappa = test.a.pow(2) @ V.mT  # (N*, d_out)
            term = (test.g * kappa.unsqueeze(1)) @ test.g.mT
            prior = term if prior is None else prior + term
            width = max(d_out, test.a.shape[-1])
            parts = []
            for chunk in example_chunks(n_test, max(1, FACTOR_WORKSPACE // (n_train * c * width))):
                T = (train.a.unsqueeze(1) * test.a[chunk].unsqueeze(0)) @ V.mT  # (N, m, d_out)
                G = (T.unsqueeze(2) * test.g[chunk].unsqueeze(0)).flatten(1, 2)  # (N, m*C, d_out)
                parts.append((u @ G.mT).unflatten(-1, (-1, c)))  # (N, K, m, C)
            layer = torch.cat(parts, dim=2)
            U = layer if U is None else U + layer
        scale = self.curvature_scale
        root = scale.sqrt() if isinstance(scale, Tensor) else scale**0.5
        Z = torch.linalg.solve_triangular(self.kernel_cholesky, root * U.reshape(n_train * k, n_test * c),
                                          upper=False).reshape(-1, n_test, c)
        return prior - torch.einsum("kna,knb->nab", Z, Z)
