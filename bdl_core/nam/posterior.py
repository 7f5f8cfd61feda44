"""Laplace posterior of an additive model: batched K-FAC blocks, evidence and term variances.

The posterior precision is block-diagonal: one block per layer of every MLP term,

    P_{g,l} = s A_{g,l} (x) G_{g,l} + delta_{g,l} I,     s = 1 / sigma^2 (regression) or 1,

plus exact diagonals for the table cells and the intercept. With the eigendecompositions
A = U_A diag(a) U_A^T and G = U_G diag(gamma) U_G^T, computed once per curvature for all G
subnetworks at once (batched ``eigh``), every quantity is closed form and cheap for ANY prior
precisions and noise, hence differentiable in them:

* log det P_{g,l} = sum_{p,q} log(s gamma_p a_q + delta_{g,l});
* the Jacobian of term g w.r.t. layer l at one input is rank one, J = gbar a^T (gbar the
  back-propagated output direction, a the layer input), so its contribution to the output
  variance J P^-1 J^T is sum_{p,q} (U_G^T gbar)_p^2 (U_A^T a)_q^2 / (s gamma_p a_q + delta).

Summed over the term's layers this is Var f_t(x) = J_t Sigma J_t^T, the credible band of the
term's shape function. Blocks follow ``bdl_core.curvature.KronBlock``'s convention (kron
index j * out + i is entry (i, j) of the layer matrix [W | b]).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bdl_core.likelihood import Likelihood, gaussian_log_likelihood
from bdl_core.linalg import stable_eigh

from .additive_model import AdditiveModel
from .curvature import AdditiveCurvature
from .likelihoods import curvature_scale
from .prior import AdditivePrior


class KronEigens:
    """Eigendecompositions of every K-FAC factor, computed once per curvature.

    Args:
        curvature: The model's :class:`AdditiveCurvature`.

    Attributes:
        curvature: The curvature.
        a, U_A: Per layer, (G, in') eigenvalues (clamped >= 0) and (G, in', in') eigenvectors of A.
        g, U_G: Per layer, (G, out) eigenvalues and (G, out, out) eigenvectors of G.
    """

    def __init__(self, curvature: AdditiveCurvature) -> None:
        self.curvature = curvature
        self.a, self.U_A, self.g, self.U_G = [], [], [], []
        for A, G in zip(curvature.A, curvature.G):
            values, vectors = stable_eigh(A)
            self.a.append(values)
            self.U_A.append(vectors)
            values, vectors = stable_eigh(G)
            self.g.append(values)
            self.U_G.append(vectors)


class AdditivePosterior:
    """Posterior precision of an additive model for given prior precisions and noise.

    Args:
        eigens: Factor eigendecompositions (:class:`KronEigens`).
        prior: The :class:`AdditivePrior` (its log precisions enter differentiably).
        likelihood: ``"regression"`` or ``"classification"``.
        log_sigma: () log noise std (regression; differentiable), ignored for classification.
    """

    def __init__(self, eigens: KronEigens, prior: AdditivePrior, likelihood: str, log_sigma: Tensor) -> None:
        self.eigens, self.prior, self.likelihood = eigens, prior, Likelihood.of(likelihood)
        self.sigma = log_sigma.exp()
        self.scale = curvature_scale(likelihood, self.sigma)
        curv = eigens.curvature
        self.mlp_delta = prior.log_mlp.exp()  # (G, L)
        # (G, out, in') eigenvalues of every MLP block.
        self.block_eigenvalues = [
            self.scale * g.unsqueeze(-1) * a.unsqueeze(-2) + self.mlp_delta[:, l].reshape(-1, 1, 1)
            for l, (a, g) in enumerate(zip(eigens.a, eigens.g))
        ]
        self.table_delta = prior.log_table.exp()
        self.cell_delta = self.table_delta.repeat_interleave(prior.table_sizes)
        self.table_precision = self.scale * curv.table + self.cell_delta
        self.intercept_precision = self.scale * curv.intercept + prior.intercept_precision

    # ------------------------------------------------------------ evidence
    def logdet(self) -> Tensor:
        """() log det P."""
        out = self.intercept_precision.log()
        for lam in self.block_eigenvalues:
            out = out + lam.log().sum()
        return out + self.table_precision.log().sum()

    def prior_logdet(self) -> Tensor:
        """() log det P0 (over the same parameters, padded MLP inputs included)."""
        out = self.intercept_precision.new_tensor(math.log(self.prior.intercept_precision))
        for l, lam in enumerate(self.block_eigenvalues):
            out = out + lam.shape[-1] * lam.shape[-2] * self.prior.log_mlp[:, l].sum()
        return out + self.cell_delta.log().sum()

    def log_likelihood(self) -> Tensor:
        """() log p(D | theta*) at the current noise (full normalisation)."""
        curv = self.eigens.curvature
        if not self.likelihood.is_regression:
            return -curv.data_fit
        return gaussian_log_likelihood(curv.data_fit, self.sigma.pow(2), curv.n_data)

    def log_marginal_likelihood(self, model: AdditiveModel) -> Tensor:
        """Laplace evidence log p(D | delta, sigma) ~= log p(D | theta*) - 0.5 [log det P - log det P0 + theta*^T P0 theta*].

        Args:
            model: The model at theta* (the curvature's parameters); its parameters are
                detached here, only the hyperparameters carry gradients.

        Returns:
            () tensor.
        """
        scatter = 2.0 * self._detached_penalty(model)
        return self.log_likelihood() - 0.5 * (self.logdet() - self.prior_logdet() + scatter)

    def _detached_penalty(self, model: AdditiveModel) -> Tensor:
        total = 0.5 * self.prior.intercept_precision * model.intercept.detach().pow(2).sum()
        if model.mlp is not None:
            for l, weight in enumerate(model.mlp.weights):
                sq = weight.detach().pow(2).sum((1, 2))
                if model.mlp.layer_has_bias(l):
                    sq = sq + model.mlp.biases[l].detach().pow(2).sum(1)
                total = total + 0.5 * (self.mlp_delta[:, l] * sq).sum()
        if model.table is not None:
            total = total + 0.5 * (self.cell_delta * model.table.detach().pow(2)).sum()
        return total

    # ------------------------------------------------------------ variances
    def mlp_term_variances(self, inputs: list[Tensor], gbars: list[Tensor]) -> Tensor:
        """Var f_g(x) = J_g Sigma J_g^T of every MLP term at M inputs.

        Args:
            inputs: Per layer, (G, M, in_l) layer inputs (without the bias' 1).
            gbars: Per layer, (G, M, out_l) d f_g / d s_l (output back-propagated to the
                pre-activations of term g's own layer l).

        Returns:
            (M, G) variances.
        """
        out = None
        for l, (a, gbar) in enumerate(zip(inputs, gbars)):
            lam = self.block_eigenvalues[l]
            if lam.shape[-1] == a.shape[-1] + 1:
                a = torch.cat([a, torch.ones_like(a[..., :1])], dim=-1)
            ga = torch.bmm(gbar, self.eigens.U_G[l]).pow(2)  # (G, M, out)
            aa = torch.bmm(a, self.eigens.U_A[l]).pow(2)  # (G, M, in')
            part = (torch.bmm(ga, lam.reciprocal()) * aa).sum(-1)  # (G, M)
            out = part if out is None else out + part
        return out.T

    def cell_variances(self, cells: Tensor) -> Tensor:
        """Posterior variances of table cells (N, T_tab) long -> (N, T_tab)."""
        return self.table_precision.reciprocal()[cells]

    # --------------------------------------------------------------- dense
    def dense_precision(self, model: AdditiveModel) -> Tensor:
        """P as a dense (P, P) matrix in ``parameters_to_vector(model.parameters())`` order (small models only)."""
        offsets, position = {}, 0
        for name, p in model.named_parameters():
            offsets[name] = position
            position += p.numel()
        P = self.intercept_precision.new_zeros(position, position)
        P[offsets["intercept"], offsets["intercept"]] = self.intercept_precision
        curv = self.eigens.curvature
        if model.mlp is not None:
            for l, (A, G) in enumerate(zip(curv.A, curv.G)):
                weight = model.mlp.weights[l]
                n_g, d_out, d_in = weight.shape
                for g in range(n_g):
                    rows = torch.arange(d_out, device=P.device).unsqueeze(1)
                    cols = torch.arange(d_in, device=P.device).unsqueeze(0)
                    w_pos = offsets[f"mlp.weights.{l}"] + g * d_out * d_in + rows * d_in + cols  # (out, in)
                    pos = w_pos
                    if model.mlp.layer_has_bias(l):
                        b_pos = offsets[f"mlp.biases.{l}"] + g * d_out + rows
                        pos = torch.cat([w_pos, b_pos], dim=1)  # (out, in + 1)
                    index = pos.T.reshape(-1)  # kron order: column-major
                    block = self.scale * torch.kron(A[g], G[g])
                    block = block + self.mlp_delta[g, l] * torch.eye(block.shape[0], dtype=P.dtype, device=P.device)
                    P[index.unsqueeze(1), index.unsqueeze(0)] = block
        if model.table is not None:
            index = offsets["table"] + torch.arange(model.table.numel(), device=P.device)
            P[index, index] = self.table_precision
        return P
