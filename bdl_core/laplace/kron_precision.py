"""Block-diagonal K-FAC posterior precision (the "kron" Laplace structure).

P = blockdiag_l(s A_l (x) G_l + diag(D_l)). The eigendecompositions of every A_l and
G_l are computed ONCE at fit (:class:`KronFactorisation`); :class:`KronPrecision`
then builds one block operator per layer for the current prior and sigma:

* prior "scalar": exact, reuses the cached eigenpairs: log det = sum log(s a g + delta)
  from the cached products g_i a_j (one elementwise pass per block: tuning steps build
  no block operator at all); a change of prior or sigma costs O(P), no factorisation.
* prior "layerwise" (weight and bias of a layer have separate precisions but share a
  K-FAC block): exact, the cached eigenpairs with delta_w plus a signed correction
  delta_b - delta_w on the bias column (a (d_out, d_out) Cholesky, no eigendecomposition).
* prior "unitwise" (SpaM, delta_ij = a_i b_j on weights, c_i on biases): exact; the
  weight prior is a Kronecker product, so the factors are whitened by it and
  re-eigendecomposed (one eigh per factor per setting, same cost as a fit) plus the
  bias-column correction c_i - a_i. Its log-determinant gets its gradient from the
  identity d log det P / d D = diag(P^-1) (and d/ds = (P_l - D . diag(P^-1)) / s)
  instead of back-propagating through eigenvectors, which is unstable (NaN) when
  factors have repeated eigenvalues (e.g. dead ReLU units).
* prior "parameter": exact dense Cholesky for blocks with at most ``dense_limit``
  parameters, otherwise the documented eigenbasis projection of
  :class:`~bdl_core.laplace.kron_general_blocks.ProjectedBlockPrecision`
  (log det over-estimated -> evidence lower bound).

See :mod:`.kron_factored_block` for the algebra.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.linalg import stable_eigh

from bdl_core.curvature import KronBlock
from bdl_core.curvature.linear_jacobian_factors import LinearLayerFactors

from .kron_factored_block import KronFactoredBlockPrecision
from .kron_general_blocks import DenseBlockPrecision, ProjectedBlockPrecision
from .precision import PosteriorPrecision, is_constant_view

KRON_PRIOR_STRUCTURES = ("scalar", "layerwise", "unitwise", "parameter")


class KronFactorisation:
    """K-FAC blocks and the eigenpairs of their factors, computed once after fitting.

    Args:
        blocks: ``KronCurvature.blocks()``; together they must tile the (P,) vector
            contiguously in order.

    Attributes:
        blocks: The blocks.
        eig_A: Per block (values (d_in',), vectors (d_in', d_in')) of A (values clamped >= 0).
        eig_G: Per block (values (d_out,), vectors (d_out, d_out)) of G.
        eigenvalue_products: Per block (d_out, d_in') products g_i a_j, the eigenvalues of
            A (x) G (used by the scalar-prior log-determinant).
        n_params: P.
    """

    def __init__(self, blocks: list[KronBlock]) -> None:
        offset = 0
        for b in blocks:
            if b.offset != offset:
                raise ValueError("K-FAC blocks must tile the parameter vector in order.")
            offset += b.n_params
        self.blocks = blocks
        self.n_params = offset
        self.eig_A = [self._eig(b.A) for b in blocks]
        self.eig_G = [self._eig(b.G) for b in blocks]
        self.eigenvalue_products = [g.unsqueeze(-1) * a.unsqueeze(0)
                                    for (a, _), (g, _) in zip(self.eig_A, self.eig_G)]

    @staticmethod
    def _eig(factor: Tensor) -> tuple[Tensor, Tensor]:
        return stable_eigh(factor)


class _ImplicitLogdet(torch.autograd.Function):
    """log det of a block with gradients diag(P^-1) (prior) and tr(P^-1 H) (scale)."""

    @staticmethod
    def forward(ctx, block, prior_slice: Tensor, scale: Tensor) -> Tensor:  # type: ignore[override]
        cov_diag = block.covariance_diagonal().detach()
        ctx.save_for_backward(cov_diag, prior_slice.detach(), scale.detach())
        return block.logdet().detach()

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        cov_diag, prior_slice, scale = ctx.saved_tensors
        grad_prior = grad * cov_diag
        grad_scale = grad * (cov_diag.numel() - (prior_slice * cov_diag).sum()) / scale
        return None, grad_prior, grad_scale


class KronPrecision(PosteriorPrecision):
    """Block-diagonal K-FAC posterior precision for a structured diagonal prior.

    Args:
        factorisation: Blocks and cached eigenpairs from fit.
        prior_diagonal: (P,) prior precisions.
        curvature_scale: () tensor or float s (1 / sigma^2 or 1).
        prior_structure: Which structure ``prior_diagonal`` has (see module docstring);
            it selects the exact algorithm. A diagonal inconsistent with the claimed
            structure raises ``ValueError``; ``"parameter"`` assumes nothing.
        dense_limit: Largest block (in parameters) factorised densely for the
            ``"parameter"`` prior; larger blocks use the eigenbasis projection.
    """

    def __init__(
        self,
        factorisation: KronFactorisation,
        prior_diagonal: Tensor,
        curvature_scale: Tensor | float = 1.0,
        prior_structure: str = "parameter",
        dense_limit: int = 2048,
    ) -> None:
        super().__init__(prior_diagonal)
        if prior_structure not in KRON_PRIOR_STRUCTURES:
            raise ValueError(f"prior_structure must be one of {KRON_PRIOR_STRUCTURES}.")
        if factorisation.n_params != prior_diagonal.shape[0]:
            raise ValueError("Prior and K-FAC blocks have different sizes.")
        self.factorisation = factorisation
        self.curvature_scale = curvature_scale
        self.prior_structure = prior_structure
        self.dense_limit = dense_limit
        self.slices = [slice(b.offset, b.offset + b.n_params) for b in factorisation.blocks]
        self._blocks: list | None = None
        if prior_structure == "scalar":  # the block operators are built on demand
            self._check_constant(prior_diagonal)
        else:
            _ = self.block_precisions

    @staticmethod
    def _check_constant(prior_diagonal: Tensor) -> None:
        if is_constant_view(prior_diagonal):
            return  # one value broadcast: constant by construction
        with torch.no_grad():
            tol = 1e-4 if prior_diagonal.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-9
            if not torch.allclose(prior_diagonal, prior_diagonal[:1].expand_as(prior_diagonal), rtol=tol, atol=0.0):
                raise ValueError("Prior diagonal does not have the 'scalar' structure.")

    @property
    def block_precisions(self) -> list:
        """One block operator per layer (built on first use)."""
        if self._blocks is None:
            self._blocks = [self._block_precision(i, self.prior_diagonal[sl]) for i, sl in enumerate(self.slices)]
        return self._blocks

    def _block_precision(self, i: int, prior_slice: Tensor):
        f = self.factorisation
        block, eig_A, eig_G = f.blocks[i], f.eig_A[i], f.eig_G[i]
        s, structure = self.curvature_scale, self.prior_structure
        n_w = block.d_out * block.d_in
        if structure == "parameter":
            if block.n_params <= self.dense_limit:
                return DenseBlockPrecision(block, s, prior_slice)
            return ProjectedBlockPrecision(block, eig_A, eig_G, s, prior_slice)
        correction = None
        if structure in ("scalar", "layerwise"):
            d_G, d_A = None, prior_slice[0]
            if structure == "layerwise" and block.has_bias:
                correction = prior_slice[n_w:] - d_A
        else:  # unitwise: weight prior a_i b_j, bias prior c_i
            log_w = prior_slice[:n_w].log().reshape(block.d_out, block.d_in)
            d_G = log_w[:, 0].exp()
            d_A = (log_w[0] - log_w[0, 0]).exp()
            if block.has_bias:
                d_A = torch.cat([d_A, d_A.new_ones(1)])
                correction = prior_slice[n_w:] - d_G
        self._check_structure(block, prior_slice, d_G, d_A, correction)
        return KronFactoredBlockPrecision(block, eig_A, eig_G, s, d_G, d_A, correction, prior_slice)

    def _check_structure(self, block, prior_slice, d_G, d_A, correction) -> None:
        with torch.no_grad():
            dg = 1.0 if d_G is None else d_G.unsqueeze(-1)
            D = (dg * d_A.expand(block.A.shape[0]).unsqueeze(0)).expand(block.d_out, -1).clone()
            if correction is not None:
                D[:, -1] += correction
            rebuilt = torch.cat([D[:, : block.d_in].reshape(-1), D[:, block.d_in :].reshape(-1)])
            tol = 1e-4 if prior_slice.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-9
            if not torch.allclose(rebuilt, prior_slice, rtol=tol, atol=0.0):
                raise ValueError(
                    f"Prior diagonal of block {block.module_name!r} does not have the "
                    f"{self.prior_structure!r} structure."
                )

    # ------------------------------------------------------------ interface
    def logdet(self) -> Tensor:
        """() log det P, sum over blocks."""
        if self.prior_structure == "scalar":
            delta, s = self.prior_diagonal[0], self.curvature_scale
            return sum((s * ga + delta).log().sum() for ga in self.factorisation.eigenvalue_products)
        out = self.prior_diagonal.new_zeros(())
        scale = torch.as_tensor(self.curvature_scale, dtype=self.dtype, device=self.device)
        for sl, bp in zip(self.slices, self.block_precisions):
            implicit = isinstance(bp, KronFactoredBlockPrecision) and self.prior_structure == "unitwise"
            if implicit:
                out = out + _ImplicitLogdet.apply(bp, self.prior_diagonal[sl], scale)
            else:
                out = out + bp.logdet()
        return out

    def solve(self, v: Tensor) -> Tensor:
        """P^-1 v for v (P,) or (P, K)."""
        rhs = v.unsqueeze(-1) if v.ndim == 1 else v
        out = torch.cat([bp.solve(rhs[sl].mT).mT for sl, bp in zip(self.slices, self.block_precisions)])
        return out.squeeze(-1) if v.ndim == 1 else out

    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """(S, P) draws of N(0, P^-1)."""
        return torch.cat([bp.sample(n_samples, generator) for bp in self.block_precisions], dim=-1)

    def diagonal(self) -> Tensor:
        """(P,) diagonal of P."""
        return torch.cat([bp.diagonal() for bp in self.block_precisions])

    def to_dense(self) -> Tensor:
        """(P, P) dense block-diagonal P (small P only)."""
        return torch.block_diag(*[bp.to_dense() for bp in self.block_precisions])

    def covariance_diagonal(self) -> Tensor:
        """(P,) diagonal of P^-1, block by block."""
        return torch.cat([bp.covariance_diagonal() for bp in self.block_precisions])

    def functional_variance(self, J: Tensor) -> Tensor:
        """(N, C, C) covariances J_n P^-1 J_n^T for J (N, C, P), block by block."""
        n, c, _ = J.shape
        out = J.new_zeros(n, c, c)
        for sl, bp in zip(self.slices, self.block_precisions):
            out = out + bp.functional_variance(J[..., sl])
        return out

    def supports_rank_one_factors(self) -> bool:
        """Whether every block is a Kronecker-structured operator (all priors but "parameter")."""
        return all(isinstance(bp, KronFactoredBlockPrecision) for bp in self.block_precisions)

    def functional_variance_from_factors(self, factors: list[LinearLayerFactors]) -> Tensor:
        """(N, C, C) covariances J_n P^-1 J_n^T from rank-one per-layer Jacobian factors.

        Args:
            factors: One per block, in vector order (see
                :func:`bdl_core.curvature.linear_jacobian_factors.linear_jacobian_factors`).
        """
        if not self.supports_rank_one_factors():
            raise ValueError("rank-one factors need Kronecker-structured blocks (not the 'parameter' prior)")
        if [f.offset for f in factors] != [b.offset for b in self.factorisation.blocks]:
            raise ValueError("the factors do not match the K-FAC blocks")
        out = None
        for factor, bp in zip(factors, self.block_precisions):
            term = bp.functional_variance_from_factors(factor.g, factor.a)
            out = term if out is None else out + term
        return out

    def functional_covariance(self, J: Tensor) -> Tensor:
        """(N*C, N*C) joint covariance J P^-1 J^T for J (N, C, P)."""
        Jf = J.reshape(-1, J.shape[-1])
        out = Jf.new_zeros(Jf.shape[0], Jf.shape[0])
        for sl, bp in zip(self.slices, self.block_precisions):
            out = out + Jf[:, sl] @ bp.solve(Jf[:, sl]).mT
        return out
