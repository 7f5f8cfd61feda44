"""The neural additive model f(x) = b + sum_t f_t(x_t) over single features and feature pairs.

Terms with a numerical feature are MLPs evaluated by one :class:`BatchedMLP`; terms of
categorical features only are lookup tables (a one-dimensional embedding per category or per
pair of categories), all held in one flat parameter. The forward pass is therefore a fixed
number of batched operations, independent of the number of features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .batched_mlp import BatchedMLP
from .terms import Feature, Term, TermLayout


class AdditiveModel(nn.Module):
    """Neural additive model over numerical and categorical features.

    Args:
        features: The D input columns.
        terms: The T additive terms (default: one per feature).
        hidden: Hidden widths of every MLP term (default one hidden layer of 64 units).
        activation: Activation of the MLP terms.
        dtype, device: Of the parameters.
        seed: Seeds the initialisation (None: the global generator).

    Attributes:
        layout: The :class:`TermLayout` (which module evaluates which term).
        intercept: (1,) the global offset b.
        mlp: :class:`BatchedMLP` of the G MLP terms, or None.
        table: (sum of table sizes,) values of the table terms (zero-initialised), or None.
        table_offsets: (T_tab,) long buffer: first cell of each table term in ``table``.
        output_order: (T,) long buffer: column of term t in [MLP outputs | table outputs].
    """

    def __init__(
        self,
        features: list[Feature],
        terms: list[Term] | None = None,
        hidden: list[int] | None = None,
        activation: str = "gelu",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        terms = terms if terms is not None else [Term((d,)) for d in range(len(features))]
        self.layout = TermLayout(features, terms)
        self.hidden = list(hidden) if hidden is not None else [64]
        self.activation = activation
        dtype = dtype or torch.get_default_dtype()
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        self.intercept = nn.Parameter(torch.zeros(1, dtype=dtype, device=device))
        self.mlp: BatchedMLP | None = None
        if self.layout.mlp_terms:
            init = BatchedMLP(self.layout.input_mask, self.hidden, activation, dtype=dtype, generator=generator)
            self.mlp = init.to(device)
        self.table: nn.Parameter | None = None
        sizes = self.layout.table_sizes
        if self.layout.table_terms:
            self.table = nn.Parameter(torch.zeros(int(sizes.sum()), dtype=dtype, device=device))
        offsets = torch.cumsum(sizes, 0) - sizes if sizes.numel() else torch.zeros(0, dtype=torch.long)
        self.register_buffer("table_offsets", offsets.to(device))
        index = torch.empty(len(terms), dtype=torch.long)
        index[self.layout.mlp_terms] = torch.arange(len(self.layout.mlp_terms))
        index[self.layout.table_terms] = torch.arange(len(self.layout.table_terms)) + len(self.layout.mlp_terms)
        self.register_buffer("output_order", index.to(device))

    @property
    def features(self) -> list[Feature]:
        """The D input columns."""
        return self.layout.features

    @property
    def terms(self) -> list[Term]:
        """The T additive terms in output order."""
        return self.layout.terms

    @property
    def n_terms(self) -> int:
        """T."""
        return len(self.layout.terms)

    def table_indices(self, X: Tensor) -> Tensor:
        """(N, T_tab) long positions in ``table`` read by each table term for inputs X (N, D)."""
        return self.layout.table_cells(X) + self.table_offsets

    def term_outputs(self, X: Tensor) -> Tensor:
        """Values of every term (without the intercept).

        Args:
            X: (N, D) inputs.

        Returns:
            (N, T) with column t = f_t(x_t), in the order of ``terms``.
        """
        parts = []
        if self.mlp is not None:
            parts.append(self.mlp(self.layout.mlp_inputs(X)))
        if self.table is not None:
            parts.append(self.table[self.table_indices(X)])
        return torch.cat(parts, dim=1)[:, self.output_order]

    def forward(self, X: Tensor) -> Tensor:
        """Predictions (regression mean, or classification logit).

        Args:
            X: (N, D) inputs.

        Returns:
            (N,) f(x) = b + sum_t f_t(x_t).
        """
        return self.intercept + self.term_outputs(X).sum(-1)
