"""Exact posterior precision of one K-FAC block with a Kronecker-structured prior.

For one layer with matrix M = [W | b] of shape (d_out, d_in'), the K-FAC curvature
is H_l = A (x) G (``KronBlock``) and the posterior precision is

    P_l = s * H_l + diag(D),   s = 1 / sigma^2 (regression) or 1.

Written in the matrix view, H_l acts as M -> G M A. If the prior is a Kronecker
product D[i, j] = d_G[i] * d_A[j], whitening by D^1/2 gives

    P_l = D^1/2 (s * A~ (x) G~ + I) D^1/2,  A~ = A / sqrt(d_A d_A^T),  G~ likewise,

so with the eigendecompositions A~ = U_A diag(a) U_A^T, G~ = U_G diag(g) U_G^T,
log det P_l = sum log D + sum_ij log(s g_i a_j + 1) and solves / samples are two
small matrix products per side. When a side's prior is constant (a 0-dim d), the
eigendecomposition of the raw factor computed once at fit is reused (a/d): for the
scalar prior a change of prior or sigma costs no factorisation at all.

Priors that are Kronecker on the weight but not on the bias column (layerwise:
delta_w vs delta_b; unitwise/SpaM: a_i b_j vs c_i) get an exact signed diagonal
correction E on the bias column, P_l = P_k + S^T diag(E) S (S selects the d_out bias
entries), handled by the matrix determinant lemma / Woodbury identity through the
(d_out, d_out) matrix F = I + R^T diag(E) R, where R R^T = S P_k^-1 S^T. Sampling
uses Matheron's rule (exact): draw z ~ N(0, P_k^-1), draw the bias marginal
b ~ N(0, (C^-1 + E)^-1) = N(0, R F^-1 R^T), and correct z by P_k^-1 S^T C^-1 (b - z_b).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.linalg import stable_eigh

from bdl_core.curvature import KronBlock


def block_matrix_view(u: Tensor, block: KronBlock) -> Tensor:
    """Reshape vector-order block entries to the layer matrix [W | b].

    Args:
        u: (K, P_l) entries in ``parameters_to_vector`` order (weight row-major, then bias).
        block: The layer's K-FAC block.

    Returns:
        (K, d_out, d_in') matrices.
    """
    k, d_out, d_in = u.shape[0], block.d_out, block.d_in
    W = u[:, : d_out * d_in].reshape(k, d_out, d_in)
    if not block.has_bias:
        return W
    return torch.cat([W, u[:, d_out * d_in :].unsqueeze(-1)], dim=-1)


def block_vector_view(M: Tensor, block: KronBlock) -> Tensor:
    """Inverse of :func:`block_matrix_view`: (K, d_out, d_in') -> (K, P_l)."""
    d_in = block.d_in
    W = M[..., :d_in].reshape(M.shape[0], -1)
    if not block.has_bias:
        return W
    return torch.cat([W, M[..., d_in]], dim=-1)


def _whitened_eig(
    factor: Tensor, eig: tuple[Tensor, Tensor], d: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Eigenpairs of factor / sqrt(d d^T): cached ones when d is None or 0-dim."""
    values, vectors = eig
    if d is None:
        return values, vectors
    if d.ndim == 0:
        return values / d, vectors
    rs = d.rsqrt()
    whitened = factor * rs.unsqueeze(0) * rs.unsqueeze(1)
    if whitened.requires_grad and torch.is_grad_enabled():  # differentiable path (stable_eigh detaches)
        values, vectors = torch.linalg.eigh(whitened)
        return values.clamp_min(0.0), vectors
    return stable_eigh(whitened)


class KronFactoredBlockPrecision:
    """P_l = s A (x) G + diag(d_G (x) d_A) [+ diag(E) on the bias column], exactly.

    Args:
        block: The layer's K-FAC block (A, G, bias flag, offsets).
        eig_A: Cached eigenpairs (values (d_in',), vectors (d_in', d_in')) of ``block.A``.
        eig_G: Cached eigenpairs (values (d_out,), vectors (d_out, d_out)) of ``block.G``.
        scale: () tensor or float s.
        d_G: None (ones) or (d_out,) positive output-side prior factor.
        d_A: 0-dim (constant) or (d_in',) positive input-side prior factor.
        bias_correction: None or (d_out,) signed E added on the bias column
            (requires ``block.has_bias``); the resulting prior must be positive.
        prior_slice: (P_l,) the block's prior diagonal in vector order (equal to
            d_G (x) d_A + E; used for :meth:`diagonal` / :meth:`to_dense`).
    """

    def __init__(
        self,
        block: KronBlock,
        eig_A: tuple[Tensor, Tensor],
        eig_G: tuple[Tensor, Tensor],
        scale: Tensor | float,
        d_G: Tensor | None,
        d_A: Tensor,
        bias_correction: Tensor | None,
        prior_slice: Tensor,
    ) -> None:
        if bias_correction is not None and not block.has_bias:
            raise ValueError("A bias correction needs a block with a bias.")
        self.block = block
        self.scale = scale
        self.prior_slice = prior_slice
        self.g, self.U_G = _whitened_eig(block.G, eig_G, d_G)
        self.a, self.U_A = _whitened_eig(block.A, eig_A, d_A)
        ones = block.G.new_ones(block.d_out)
        dg = ones if d_G is None else d_G
        self.log_D = dg.log().unsqueeze(-1) + d_A.log().expand(block.A.shape[0]).unsqueeze(0)
        self.sqrt_D = (0.5 * self.log_D).exp()  # (d_out, d_in')
        self.sqrt_d_G = dg.sqrt()  # (d_out,): sqrt_D = sqrt_d_G (x) sqrt_d_A
        self.sqrt_d_A = d_A.sqrt().expand(block.A.shape[0])  # (d_in',)
        self.lam = scale * self.g.unsqueeze(-1) * self.a.unsqueeze(0) + 1.0  # (d_out, d_in')
        self.E = bias_correction
        if bias_correction is not None:
            col = block.d_in
            w = self.lam.reciprocal() @ self.U_A[col].pow(2)  # (d_out,)
            self.R = self.U_G * w.sqrt() / self.sqrt_D[:, col : col + 1]
            F = self.R.mT @ (bias_correction.unsqueeze(-1) * self.R)
            F = F + torch.eye(F.shape[0], dtype=F.dtype, device=F.device)
            self.L_F = torch.linalg.cholesky(F)

    # -------------------------------------------------- Kronecker part P_k
    def _solve_k(self, M: Tensor) -> Tensor:
        """P_k^-1 in the matrix view: (K, d_out, d_in') -> same."""
        Z = self.U_G.mT @ (M / self.sqrt_D) @ self.U_A
        return (self.U_G @ (Z / self.lam) @ self.U_A.mT) / self.sqrt_D

    def _bias_column(self, v: Tensor) -> Tensor:
        """(K, d_out) bias values -> (K, d_out, d_in') matrices zero except the bias column."""
        zeros = v.new_zeros(v.shape[0], v.shape[1], self.block.d_in)
        return torch.cat([zeros, v.unsqueeze(-1)], dim=-1)

    def _inner(self, yb: Tensor) -> Tensor:
        """(E^-1 + C)^-1 yb written without E^-1: E yb - E R F^-1 R^T E yb; yb (K, d_out)."""
        ey = yb * self.E
        t = torch.cholesky_solve((ey @ self.R).mT, self.L_F)  # (d_out, K)
        return ey - self.E * (self.R @ t).mT

    # ------------------------------------------------------------- public
    def logdet(self) -> Tensor:
        """() log det P_l."""
        out = self.log_D.sum() + self.lam.log().sum()
        if self.E is not None:
            out = out + 2.0 * self.L_F.diagonal().log().sum()
        return out

    def solve(self, U: Tensor) -> Tensor:
        """P_l^-1 U for U (K, P_l) in vector order."""
        X = self._solve_k(block_matrix_view(U, self.block))
        if self.E is not None:
            inner = self._inner(X[..., self.block.d_in])
            X = X - self._solve_k(self._bias_column(inner))
        return block_vector_view(X, self.block)

    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """(S, P_l) draws of N(0, P_l^-1) in vector order."""
        kw = dict(dtype=self.lam.dtype, device=self.lam.device, generator=generator)
        eps = torch.randn(n_samples, *self.lam.shape, **kw)
        z = (self.U_G @ (eps / self.lam.sqrt()) @ self.U_A.mT) / self.sqrt_D
        if self.E is not None:
            col = self.block.d_in
            eps_b = torch.randn(self.lam.shape[0], n_samples, **kw)
            b = self.R @ torch.linalg.solve_triangular(self.L_F.mT, eps_b, upper=True)
            C = self.R @ self.R.mT
            v = torch.linalg.solve(C, b - z[..., col].mT)  # (d_out, S)
            z = z + self._solve_k(self._bias_column(v.mT))
        return block_vector_view(z, self.block)

    def functional_variance(self, J: Tensor) -> Tensor:
        """J_n P_l^-1 J_n^T for J (N, C, P_l) -> (N, C, C), rotating J only once."""
        n, c, _ = J.shape
        Jt = self.U_G.mT @ (block_matrix_view(J.reshape(n * c, -1), self.block) / self.sqrt_D) @ self.U_A
        W = Jt / self.lam
        out = Jt.reshape(n, c, -1) @ W.reshape(n, c, -1).mT
        if self.E is not None:
            col = self.block.d_in
            yb = (W @ self.U_A[col]) @ self.U_G.mT / self.sqrt_D[:, col]  # (N*C, d_out)
            t = self._inner(yb)
            out = out - yb.reshape(n, c, -1) @ t.reshape(n, c, -1).mT
        return out

    def functional_variance_from_factors(self, g: Tensor, a: Tensor) -> Tensor:
        """J_n P_l^-1 J_n^T for rank-one Jacobian rows J_nc = g_nc a_n^T (matrix view).

        With J~ = U_G^T (J / sqrt_D) U_A = g^ a^^T (g^ = U_G^T (g / sqrt_d_G), a^ likewise),
        the Kronecker part is sum_i g^_ci g^_c'i kappa_i, kappa = (1 / lam) a^^2; the
        bias-column correction uses rho = (1 / lam)(a^ * U_A[bias row]).

        Args:
            g: (N, C, d_out) output gradients of the layer.
            a: (N, d_in') layer inputs (with the bias' column of ones).

        Returns:
            (N, C, C) covariances.
        """
        g_hat = (g / self.sqrt_d_G) @ self.U_G  # (N, C, d_out)
        a_hat = (a / self.sqrt_d_A) @ self.U_A  # (N, d_in')
        inv_lam = self.lam.reciprocal()
        kappa = a_hat.pow(2) @ inv_lam.mT  # (N, d_out)
        out = (g_hat * kappa.unsqueeze(1)) @ g_hat.mT
        if self.E is not None:
            col = self.block.d_in
            rho = (a_hat * self.U_A[col]) @ inv_lam.mT  # (N, d_out)
            yb = ((g_hat * rho.unsqueeze(1)) @ self.U_G.mT) / self.sqrt_D[:, col]  # (N, C, d_out)
            n, c, d = yb.shape
            t = self._inner(yb.reshape(n * c, d)).reshape(n, c, d)
            out = out - yb @ t.mT
        return out

    def diagonal(self) -> Tensor:
        """(P_l,) diagonal of P_l in vector order."""
        kron_diag = self.block.G.diagonal().unsqueeze(-1) * self.block.A.diagonal().unsqueeze(0)
        return self.scale * block_vector_view(kron_diag.unsqueeze(0), self.block)[0] + self.prior_slice

    def to_dense(self) -> Tensor:
        """(P_l, P_l) dense P_l in vector order."""
        return self.scale * self.block.to_dense() + torch.diag(self.prior_slice)

    def covariance_diagonal(self) -> Tensor:
        """(P_l,) diagonal of P_l^-1 in vector order, without forming P_l^-1."""
        inv = (self.U_G.pow(2) @ self.lam.reciprocal() @ self.U_A.pow(2).mT) / self.sqrt_D.pow(2)
        if self.E is not None:
            d_out = self.block.d_out
            eye = torch.eye(d_out, dtype=inv.dtype, device=inv.device)
            Y = self._solve_k(self._bias_column(eye))  # (d_out, d_out, d_in'): rows of S P_k^-1
            Q = self._inner(eye)  # (E^-1 + C)^-1, symmetric (d_out, d_out)
            Yf = Y.reshape(d_out, -1)
            inv = inv - (Yf * (Q @ Yf)).sum(0).reshape(inv.shape)
        return block_vector_view(inv.unsqueeze(0), self.block)[0]
