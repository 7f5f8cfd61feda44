"""K-FAC block precisions for priors that are not Kronecker-structured ("parameter").

A per-parameter prior diag(D) breaks the eigenbasis trick of a K-FAC block
P_l = s A (x) G + diag(D). Two treatments, chosen per block by size:

* :class:`DenseBlockPrecision` (exact): form the (P_l, P_l) block and factorise it by
  Cholesky, O(P_l^3) per hyperparameter setting. Used for blocks up to
  ``kron_dense_limit`` parameters.
* :class:`ProjectedBlockPrecision` (approximation, larger blocks): keep the eigenbasis
  V = U_A (x) U_G of the raw curvature and replace the prior by the diagonal of its
  projection onto that basis, e = diag(V^T diag(D) V) = (U_G^2)^T D (U_A^2) in the
  matrix view. The operator P~ = V diag(s a (x) g + e) V^T is positive definite,
  exact whenever D is constant on the block, is the best approximation of P_l that
  is diagonal in V (Frobenius norm), and by Hadamard's inequality
  log det P~ >= log det P_l, so the resulting marginal likelihood is a LOWER bound
  of the K-FAC Laplace evidence. All methods (solve, samples, diagonal, dense) refer
  to P~, so they are mutually consistent.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.curvature import KronBlock

from .kron_factored_block import block_matrix_view, block_vector_view


class DenseBlockPrecision:
    """Exact dense Cholesky treatment of one block: P_l = s H_l + diag(prior_slice).

    Args:
        block: The layer's K-FAC block.
        scale: () tensor or float s.
        prior_slice: (P_l,) prior diagonal of the block in vector order.
    """

    def __init__(self, block: KronBlock, scale: Tensor | float, prior_slice: Tensor) -> None:
        self.block, self.scale, self.prior_slice = block, scale, prior_slice
        self.dense = scale * block.to_dense() + torch.diag(prior_slice)
        self.cholesky = torch.linalg.cholesky(self.dense)

    def logdet(self) -> Tensor:
        """() log det P_l."""
        return 2.0 * self.cholesky.diagonal().log().sum()

    def solve(self, U: Tensor) -> Tensor:
        """P_l^-1 U for U (K, P_l)."""
        return torch.cholesky_solve(U.mT, self.cholesky).mT

    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """(S, P_l) draws of N(0, P_l^-1)."""
        eps = torch.randn(self.dense.shape[0], n_samples, dtype=self.dense.dtype,
                          device=self.dense.device, generator=generator)
        return torch.linalg.solve_triangular(self.cholesky.mT, eps, upper=True).mT

    def functional_variance(self, J: Tensor) -> Tensor:
        """J_n P_l^-1 J_n^T for J (N, C, P_l) -> (N, C, C)."""
        n, c, p = J.shape
        W = torch.linalg.solve_triangular(self.cholesky, J.reshape(n * c, p).mT, upper=False)
        W = W.mT.reshape(n, c, p)
        return W @ W.mT

    def diagonal(self) -> Tensor:
        """(P_l,) diagonal of P_l."""
        return self.dense.diagonal()

    def to_dense(self) -> Tensor:
        """(P_l, P_l) P_l."""
        return self.dense

    def covariance_diagonal(self) -> Tensor:
        """(P_l,) diagonal of P_l^-1 from the inverse Cholesky factor."""
        eye = torch.eye(self.dense.shape[0], dtype=self.dense.dtype, device=self.dense.device)
        return torch.linalg.solve_triangular(self.cholesky, eye, upper=False).pow(2).sum(0)


class ProjectedBlockPrecision:
    """Approximate block P~ = V diag(s a (x) g + e) V^T (see module docstring).

    Args:
        block: The layer's K-FAC block.
        eig_A: Cached eigenpairs of ``block.A``: values (d_in',), vectors (d_in', d_in').
        eig_G: Cached eigenpairs of ``block.G``: values (d_out,), vectors (d_out, d_out).
        scale: () tensor or float s.
        prior_slice: (P_l,) prior diagonal of the block in vector order.
    """

    def __init__(
        self,
        block: KronBlock,
        eig_A: tuple[Tensor, Tensor],
        eig_G: tuple[Tensor, Tensor],
        scale: Tensor | float,
        prior_slice: Tensor,
    ) -> None:
        self.block = block
        a, self.U_A = eig_A
        g, self.U_G = eig_G
        D = block_matrix_view(prior_slice.unsqueeze(0), block)[0]  # (d_out, d_in')
        e = self.U_G.pow(2).mT @ D @ self.U_A.pow(2)
        self.lam = scale * g.unsqueeze(-1) * a.unsqueeze(0) + e

    def logdet(self) -> Tensor:
        """() log det P~."""
        return self.lam.log().sum()

    def solve(self, U: Tensor) -> Tensor:
        """P~^-1 U for U (K, P_l)."""
        M = self.U_G.mT @ block_matrix_view(U, self.block) @ self.U_A
        return block_vector_view(self.U_G @ (M / self.lam) @ self.U_A.mT, self.block)

    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """(S, P_l) draws of N(0, P~^-1)."""
        eps = torch.randn(n_samples, *self.lam.shape, dtype=self.lam.dtype,
                          device=self.lam.device, generator=generator)
        return block_vector_view(self.U_G @ (eps * self.lam.rsqrt()) @ self.U_A.mT, self.block)

    def functional_variance(self, J: Tensor) -> Tensor:
        """J_n P~^-1 J_n^T for J (N, C, P_l) -> (N, C, C)."""
        n, c, _ = J.shape
        Jt = self.U_G.mT @ block_matrix_view(J.reshape(n * c, -1), self.block) @ self.U_A
        return Jt.reshape(n, c, -1) @ (Jt / self.lam).reshape(n, c, -1).mT

    def covariance_diagonal(self) -> Tensor:
        """(P_l,) diagonal of P~^-1."""
        D = self.U_G.pow(2) @ self.lam.reciprocal() @ self.U_A.pow(2).mT
        return block_vector_view(D.unsqueeze(0), self.block)[0]

    def diagonal(self) -> Tensor:
        """(P_l,) diagonal of P~ (not of the exact block)."""
        D = self.U_G.pow(2) @ self.lam @ self.U_A.pow(2).mT
        return block_vector_view(D.unsqueeze(0), self.block)[0]

    def to_dense(self) -> Tensor:
        """(P_l, P_l) dense P~ in vector order (small blocks only)."""
        V = torch.kron(self.U_A, self.U_G)  # kron order: index j * d_out + i
        lam_kron = self.lam.mT.reshape(-1)
        dense = (V * lam_kron) @ V.mT
        perm = self.block.permutation()
        return dense[perm][:, perm]

