"""Prior precisions of an additive model: one per layer of every term's subnetwork.

theta ~ N(0, diag(delta)^-1) with delta shared by the weight AND bias of one layer of one
term (hidden layer l of the MLP of term t gets delta_{t,l}; a table term one delta_t for all its
cells). Sharing within a layer keeps each K-FAC block's prior a multiple of the identity, so the
posterior stays exactly factorisable (see :mod:`bdl_core.nam.posterior`). Learning these
precisions by marginal likelihood is the automatic relevance determination of LA-NAM: an
irrelevant feature's subnetwork gets large precisions and is shrunk towards a constant.

The intercept has a fixed, weak prior precision (it is not a feature).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .additive_model import AdditiveModel


class AdditivePrior(nn.Module):
    """Learnable log prior precisions of an :class:`AdditiveModel`.

    Args:
        model: The additive model (defines G MLP terms with L layers and T_tab table terms).
        init: Initial precision of every subnetwork layer and table.
        intercept_precision: Fixed precision of the intercept.

    Attributes:
        log_mlp: (G, L) ``nn.Parameter``: log delta of layer l of MLP term g.
        log_table: (T_tab,) ``nn.Parameter``: log delta of each table term.
        table_sizes: (T_tab,) long buffer: cells per table term.
        intercept_precision: The fixed intercept precision (float).
    """

    def __init__(self, model: AdditiveModel, init: float = 1.0, intercept_precision: float = 1e-2) -> None:
        super().__init__()
        if init <= 0 or intercept_precision <= 0:
            raise ValueError("Prior precisions must be positive.")
        ref = model.intercept
        G = len(model.layout.mlp_terms)
        L = model.mlp.n_layers if model.mlp is not None else 0
        kw = dict(dtype=ref.dtype, device=ref.device)
        self.log_mlp = nn.Parameter(torch.full((G, L), math.log(init), **kw))
        self.log_table = nn.Parameter(torch.full((len(model.layout.table_terms),), math.log(init), **kw))
        self.intercept_precision = float(intercept_precision)
        self._mlp_terms = list(model.layout.mlp_terms)
        self._table_terms = list(model.layout.table_terms)
        self.n_terms = model.n_terms
        self.register_buffer("table_sizes", model.layout.table_sizes.to(ref.device))

    def penalty(self, model: AdditiveModel, fixed_precisions: bool = False) -> Tensor:
        """0.5 theta^T diag(delta) theta (the negative log prior up to constants).

        Args:
            model: The model whose parameters are penalised (same layout as at construction).
            fixed_precisions: Treat the precisions as constants (MAP steps).

        Returns:
            () tensor, differentiable w.r.t. the parameters (and the log precisions unless fixed).
        """
        log_mlp, log_table = self.log_mlp, self.log_table
        if fixed_precisions:
            log_mlp, log_table = log_mlp.detach(), log_table.detach()
        total = 0.5 * self.intercept_precision * model.intercept.pow(2).sum()
        if model.mlp is not None:
            delta = log_mlp.exp()
            for l, weight in enumerate(model.mlp.weights):
                sq = weight.pow(2).sum((1, 2))
                if model.mlp.layer_has_bias(l):
                    sq = sq + model.mlp.biases[l].pow(2).sum(1)
                total = total + 0.5 * (delta[:, l] * sq).sum()
        if model.table is not None:
            cell_delta = log_table.exp().repeat_interleave(self.table_sizes)
            total = total + 0.5 * (cell_delta * model.table.pow(2)).sum()
        return total

    def per_term(self) -> list[Tensor]:
        """Precisions term by term, in the model's term order.

        Returns:
            T detached tensors: (L,) per layer for an MLP term, (1,) for a table term.
        """
        out: list[Tensor] = [torch.empty(0)] * self.n_terms
        for g, t in enumerate(self._mlp_terms):
            out[t] = self.log_mlp[g].detach().exp()
        for k, t in enumerate(self._table_terms):
            out[t] = self.log_table[k : k + 1].detach().exp()
        return out

    def term_precision(self) -> Tensor:
        """(T,) one precision per term: the geometric mean of its layers' precisions.

        The prior variance of a subnetwork's output scales like the product of its layers'
        prior variances (exactly so for deep linear networks), and the evidence may shrink an
        irrelevant term through any of its layers (a large output-layer precision, or a large
        first-layer one that flattens the hidden units); the geometric mean sees both.
        """
        return torch.stack([values.log().mean().exp() for values in self.per_term()])

    @torch.no_grad()
    def copy_terms_from(self, other: AdditivePrior, mapping: dict[int, int]) -> None:
        """Copy precisions of terms of ``other`` into this prior.

        Args:
            other: A prior with the same MLP depth.
            mapping: ``{term index in other: term index in self}``.
        """
        g_other = {t: g for g, t in enumerate(other._mlp_terms)}
        g_self = {t: g for g, t in enumerate(self._mlp_terms)}
        k_other = {t: k for k, t in enumerate(other._table_terms)}
        k_self = {t: k for k, t in enumerate(self._table_terms)}
        for source, target in mapping.items():
            if source in g_other and target in g_self:
                self.log_mlp[g_self[target]] = other.log_mlp[g_other[source]]
            elif source in k_other and target in k_self:
                self.log_table[k_self[target]] = other.log_table[k_other[source]]
            else:
                raise ValueError(f"Terms {source} -> {target} are evaluated by different modules.")
