"""K-FAC curvature (GGN) of an additive model, batched over its subnetworks.

Hand-written because ``bdl_core.curvature.KronCurvature`` finds layers through forward hooks
on ``nn.Linear`` / ``nn.Conv2d`` modules, whereas the NAM stores G subnetworks' layers in
stacked (G, out, in) tensors (:class:`~bdl_core.nam.batched_mlp.BatchedMLP`). Each subnetwork
layer is still an ordinary dense layer s = W a + b, so its K-FAC block is the usual

    A_{g,l} = sum_n [a_n; 1][a_n; 1]^T,     G_{g,l} = sum_n lambda_n gbar_n gbar_n^T / N,

with gbar_n = d f(x_n) / d s_{g,l} and lambda_n the output Hessian; it is computed for all G
subnetworks by two ``einsum`` calls per layer (K-FAC blocks follow the ``KronBlock``
convention: kron(A, G) approximates the summed curvature). Because the model output is a
plain sum over terms, the curvature between different subnetworks is dropped and each
subnetwork is its own set of blocks.

The table terms and the intercept are linear in their parameters with one-hot Jacobians, so
their GGN is exactly diagonal: sum_n lambda_n over the examples that read a cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from bdl_core.likelihood import check_likelihood

from .additive_model import AdditiveModel
from .likelihoods import output_hessian, residual


@dataclass
class AdditiveCurvature:
    """Unit-noise GGN statistics of an additive model at its current parameters.

    Attributes:
        A: Per MLP layer l, (G, in_l [+1], in_l [+1]) input factors (bias column last).
        G: Per MLP layer l, (G, out_l, out_l) output factors, divided by ``n_data``.
        table: (n_cells,) exact diagonal GGN of the table cells (empty without tables).
        intercept: () GGN of the intercept, sum_n lambda_n.
        n_data: N.
        data_fit: () sum of squared residuals (regression) or summed Bernoulli NLL
            (classification) at the current parameters.
    """

    A: list[Tensor]
    G: list[Tensor]
    table: Tensor
    intercept: Tensor
    n_data: int
    data_fit: Tensor


def kfac_curvature(
    model: AdditiveModel, X: Tensor, y: Tensor, likelihood: str, batch_size: int = 2048
) -> AdditiveCurvature:
    """Accumulate the K-FAC GGN of ``model`` over the data.

    Args:
        model: The additive model (at its MAP).
        X: (N, D) inputs.
        y: (N,) targets (real values or {0, 1} labels).
        likelihood: ``"regression"`` or ``"classification"``.
        batch_size: Examples per pass.

    Returns:
        :class:`AdditiveCurvature`.
    """
    likelihood = check_likelihood(likelihood)
    mlp = model.mlp
    L = mlp.n_layers if mlp is not None else 0
    A: list[Tensor | None] = [None] * L
    Gs: list[Tensor | None] = [None] * L
    ref = model.intercept
    table = torch.zeros(model.table.numel() if model.table is not None else 0, dtype=ref.dtype, device=ref.device)
    intercept = ref.new_zeros(())
    data_fit = ref.new_zeros(())
    for start in range(0, X.shape[0], batch_size):
        Xb, yb = X[start : start + batch_size].detach(), y[start : start + batch_size].reshape(-1)
        with torch.enable_grad():
            f = model.intercept.expand(Xb.shape[0])
            inputs, preacts = [], []
            if mlp is not None:
                out, inputs, preacts = mlp.forward_with_cache(model.layout.mlp_inputs(Xb))
                f = f + out.sum(-1)
            if model.table is not None:
                cells = model.table_indices(Xb)
                f = f + model.table[cells].sum(-1)
            gbars = torch.autograd.grad(f.sum(), preacts) if preacts else []
        f = f.detach()
        lam = output_hessian(f, likelihood)
        r = residual(f, yb, likelihood)
        if likelihood.is_regression:
            data_fit = data_fit + r.pow(2).sum()
        else:
            data_fit = data_fit + torch.nn.functional.binary_cross_entropy_with_logits(
                f, yb.to(f.dtype), reduction="sum")
        intercept = intercept + lam.sum()
        for l in range(L):
            a = inputs[l].detach()
            if mlp.layer_has_bias(l):
                a = torch.cat([a, torch.ones_like(a[..., :1])], dim=-1)
            g = gbars[l].detach()
            a_stat = a.transpose(1, 2) @ a
            g_stat = g.transpose(1, 2) @ (lam.reshape(1, -1, 1) * g)
            A[l] = a_stat if A[l] is None else A[l] + a_stat
            Gs[l] = g_stat if Gs[l] is None else Gs[l] + g_stat
        if model.table is not None:
            table.index_add_(0, cells.reshape(-1), lam.unsqueeze(1).expand_as(cells).reshape(-1))
    n = X.shape[0]
    return AdditiveCurvature(A=list(A), G=[g / n for g in Gs], table=table, intercept=intercept,
                             n_data=n, data_fit=data_fit)
