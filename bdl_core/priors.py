"""Diagonal Gaussian prior precisions with learnable (log) hyperparameters.

The prior is theta ~ N(0, diag(delta)^-1) over the layout's (P,) parameter vector.
``delta`` is built from a small set of positive hyperparameters, stored as LOG
values in one ``nn.Parameter`` so the marginal likelihood can be optimised with
any torch optimiser:

* ``"scalar"``: one precision shared by all parameters.
* ``"layerwise"``: one per parameter tensor (weight and bias separately).
* ``"unitwise"`` (SpaM, Dhahri et al. 2024): a tensor of shape (d_0, ..., d_k) gets
  ``delta[i_0, ..., i_k] = v0[i_0] * ... * vk[i_k]`` with one positive vector per
  dimension: a Linear weight (out, in) gets a_i * b_j, a conv kernel
  (out, in, kh, kw) the product of four vectors, a bias one value per unit.
* ``"parameter"``: one precision per parameter.

Every structure is an index map: ``log delta[q] = sum_m log_precision[index[m, q]]``
(unused slots point to a constant zero), so ``diagonal()`` is one gather + sum + exp.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .curvature.params import ParameterLayout

STRUCTURES = ("scalar", "layerwise", "unitwise", "parameter")


def _unitwise_index(shape: torch.Size, start: int) -> tuple[list[Tensor], int]:
    """Per-dimension hyperparameter indices of one tensor (row-major flattening).

    Returns a list with one (numel,) long tensor per dimension (one for a 0-dim tensor)
    and the number of hyperparameters used (sum of the dimension sizes).
    """
    if len(shape) == 0:
        return [torch.tensor([start])], 1
    index, offset = [], start
    for dim, size in enumerate(shape):
        view = [1] * len(shape)
        view[dim] = size
        positions = torch.arange(offset, offset + size).reshape(view).expand(shape)
        index.append(positions.reshape(-1))
        offset += size
    return index, offset - start


class PriorPrecision(nn.Module):
    """Structured diagonal prior precision over a :class:`ParameterLayout`.

    Args:
        layout: The parameters the prior is over (defines P, groups, dtype, device).
        structure: ``"scalar"``, ``"layerwise"``, ``"unitwise"`` or ``"parameter"``.
        init: Initial value: a positive float (or 0-dim tensor) sets EVERY per-parameter
            precision to it; a (n_hyper,) tensor sets the hyperparameter values
            (see :meth:`set_`).

    Attributes:
        log_precision: (n_hyper,) ``nn.Parameter`` of log hyperparameters.
        n_hyper: Number of free hyperparameters.
        structure: The structure name.
        n_groups: Number of parameter tensors in the layout.
    """

    def __init__(
        self,
        layout: ParameterLayout,
        structure: str = "scalar",
        init: float | Tensor = 1.0,
    ) -> None:
        super().__init__()
        if structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}.")
        self.structure = structure
        self.n_groups = len(layout.groups)
        self.n_params = layout.n_params

        rows: list[list[Tensor]] = []  # per group: list of (numel,) index tensors
        n_hyper = 0
        for g in layout.groups:
            if structure == "scalar":
                rows.append([torch.zeros(g.numel, dtype=torch.long)])
            elif structure == "layerwise":
                rows.append([torch.full((g.numel,), n_hyper, dtype=torch.long)])
                n_hyper += 1
            elif structure == "parameter":
                rows.append([torch.arange(n_hyper, n_hyper + g.numel)])
                n_hyper += g.numel
            else:
                idx, used = _unitwise_index(g.shape, n_hyper)
                rows.append(idx)
                n_hyper += used
        if structure == "scalar":
            n_hyper = 1
        self.n_hyper: int = n_hyper

        depth = max(len(r) for r in rows)
        pad = n_hyper  # slot of the appended constant zero
        columns = []
        for r in rows:
            numel = r[0].numel()
            r = r + [torch.full((numel,), pad, dtype=torch.long)] * (depth - len(r))
            columns.append(torch.stack(r))
        index = torch.cat(columns, dim=1)  # (depth, P)
        # How many factors each hyperparameter's value is multiplied with per parameter,
        # so that a scalar set_(v) gives v for every parameter.
        n_factors = torch.ones(n_hyper, dtype=torch.long)
        for r in rows:
            for t in r:
                n_factors[t.unique()] = len(r)

        self.register_buffer("index", index.to(layout.device))
        self.register_buffer("n_factors", n_factors.to(layout.device))
        self.log_precision = nn.Parameter(
            torch.zeros(n_hyper, dtype=layout.dtype, device=layout.device)
        )
        self.set_(init)

    def log_diagonal(self) -> Tensor:
        """(P,) log per-parameter precision, differentiable w.r.t. ``log_precision``.

        For the scalar prior this is a read-only broadcast view (stride 0), which
        ``bdl_core.laplace`` recognises to evaluate evidence terms in O(1) instead of O(P).
        """
        if self.structure == "scalar":
            return self.log_precision.expand(self.n_params)
        padded = torch.cat([self.log_precision, self.log_precision.new_zeros(1)])
        return padded[self.index].sum(dim=0)

    def diagonal(self) -> Tensor:
        """(P,) per-parameter precision in the layout's vector order (differentiable)."""
        if self.structure == "scalar":
            return self.log_precision.exp().expand(self.n_params)
        return self.log_diagonal().exp()

    def hyperparameters(self) -> Tensor:
        """(n_hyper,) current hyperparameter values ``exp(log_precision)`` (differentiable)."""
        return self.log_precision.exp()

    def per_group(self) -> Tensor | None:
        """(n_groups,) precision per parameter tensor ("scalar"/"layerwise"), else None."""
        if self.structure == "scalar":
            return self.log_precision.exp().expand(self.n_groups)
        if self.structure == "layerwise":
            return self.log_precision.exp()
        return None

    @torch.no_grad()
    def set_(self, value: float | Tensor) -> None:
        """Set the precisions in place.

        Args:
            value: A positive float or 0-dim tensor: every per-parameter precision
                becomes ``value`` (unitwise: each of the k factor vectors of a tensor
                becomes ``value ** (1/k)``). Or a (n_hyper,) positive tensor: the
                hyperparameter values themselves (scalar: (1,), layerwise: one per
                group, unitwise: the factor vectors concatenated group by group and
                dimension by dimension, parameter: (P,)).
        """
        ref = self.log_precision
        value = torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
        if (value <= 0).any():
            raise ValueError("Prior precisions must be positive.")
        if value.dim() == 0:
            log_v = math.log(value.item())
            self.log_precision.copy_(log_v / self.n_factors.to(value.dtype))
        elif value.shape == (self.n_hyper,):
            self.log_precision.copy_(value.log())
        else:
            raise ValueError(
                f"Expected a scalar or a ({self.n_hyper},) tensor for structure "
                f"{self.structure!r}, got shape {tuple(value.shape)}."
            )

    def extra_repr(self) -> str:
        return f"structure={self.structure!r}, n_hyper={self.n_hyper}, n_params={self.n_params}"
