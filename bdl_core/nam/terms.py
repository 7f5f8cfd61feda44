"""Input features and additive terms of a neural additive model (NAM).

A NAM sees a (N, D) input tensor whose column d is either a numerical feature (a real value,
ideally standardised) or a categorical one (an integer code 0..K_d-1 stored as a float). Its
output is a sum of *terms*: a term is one feature (a first-order shape function f_d) or a pair
of features (a second-order interaction f_ij). :class:`TermLayout` decides which module
evaluates each term and how its inputs are encoded:

* terms with at least one numerical feature are small MLPs, all evaluated together by one
  batched module; a numerical feature enters as its value, a categorical one (only inside a
  mixed pair) as a one-hot block. Inputs of different widths are zero-padded to the widest
  term and masked, so padded weights never see data;
* terms made only of categorical features are lookup tables (one value per category, or per
  category pair), i.e. one-dimensional embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F


@dataclass(frozen=True)
class Feature:
    """One input column.

    Attributes:
        name: Column name (for reports and plots).
        n_categories: 0 for a numerical feature, else K >= 1, the number of category codes.
    """

    name: str
    n_categories: int = 0

    @property
    def categorical(self) -> bool:
        """Whether the column holds category codes."""
        return self.n_categories > 0


@dataclass(frozen=True)
class Term:
    """One additive term: the indices of the (one or two) features it reads."""

    features: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.features) not in (1, 2) or len(set(self.features)) != len(self.features):
            raise ValueError(f"A term reads one feature or a pair of distinct features, got {self.features}.")

    @property
    def order(self) -> int:
        """1 for a shape function, 2 for a pairwise interaction."""
        return len(self.features)

    def label(self, features: list[Feature]) -> str:
        """Human-readable name, e.g. ``"age"`` or ``"age x bmi"``."""
        return " x ".join(features[d].name for d in self.features)


class TermLayout:
    """Which module evaluates each term, and the index maps that encode its inputs.

    Args:
        features: The D input columns.
        terms: The T terms, in output order.

    Attributes:
        mlp_terms: Indices (into ``terms``) of the G terms evaluated by the batched MLP.
        table_terms: Indices of the terms evaluated by lookup tables.
        in_width: Input width of the batched MLP (widest encoded term; 0 when G = 0).
        input_index: (G, in_width) long: column of the encoded matrix (see :meth:`mlp_inputs`)
            feeding each input slot; padded slots point to a constant-zero column.
        input_mask: (G, in_width) bool: which slots are real inputs.
        table_columns: (T_tab, 2) long feature columns of each table term (second repeats the
            first for single-feature terms); table_strides: (T_tab, 2) long code strides
            (0 for the unused second column); table_sizes: (T_tab,) cells per table.
    """

    def __init__(self, features: list[Feature], terms: list[Term]) -> None:
        if not terms:
            raise ValueError("A NAM needs at least one term.")
        for term in terms:
            if max(term.features) >= len(features) or min(term.features) < 0:
                raise ValueError(f"Term {term.features} reads a feature outside 0..{len(features) - 1}.")
        if len(set(terms)) != len(terms):
            raise ValueError("Terms must be distinct.")
        self.features, self.terms = list(features), list(terms)
        self.mlp_terms = [t for t, term in enumerate(terms) if any(not features[d].categorical for d in term.features)]
        self.table_terms = [t for t, term in enumerate(terms) if t not in set(self.mlp_terms)]
        D = len(features)
        # Encoded matrix: [D raw columns | one-hot blocks of categorical features | zero column].
        self._onehot_offset: dict[int, int] = {}
        width = D
        for d, feature in enumerate(features):
            if feature.categorical:
                self._onehot_offset[d] = width
                width += feature.n_categories
        self._zero_column = width
        slots = [self._term_columns(terms[t]) for t in self.mlp_terms]
        self.in_width = max((len(s) for s in slots), default=0)
        index = torch.full((len(slots), self.in_width), self._zero_column, dtype=torch.long)
        for g, columns in enumerate(slots):
            index[g, : len(columns)] = torch.tensor(columns)
        self.input_index = index
        self.input_mask = index != self._zero_column
        columns, strides, sizes = [], [], []
        for t in self.table_terms:
            fs = terms[t].features
            k = [features[d].n_categories for d in fs]
            columns.append([fs[0], fs[-1]])
            strides.append([k[1], 1] if len(fs) == 2 else [1, 0])
            sizes.append(k[0] * (k[1] if len(fs) == 2 else 1))
        self.table_columns = torch.tensor(columns, dtype=torch.long).reshape(-1, 2)
        self.table_strides = torch.tensor(strides, dtype=torch.long).reshape(-1, 2)
        self.table_sizes = torch.tensor(sizes, dtype=torch.long)
        limits = [[features[c].n_categories - 1 for c in pair] for pair in columns]
        self._code_limits = torch.tensor(limits, dtype=torch.long).reshape(-1, 2)

    def _term_columns(self, term: Term) -> list[int]:
        columns: list[int] = []
        for d in term.features:
            feature = self.features[d]
            if feature.categorical:
                start = self._onehot_offset[d]
                columns += list(range(start, start + feature.n_categories))
            else:
                columns.append(d)
        return columns

    def mlp_inputs(self, X: Tensor) -> Tensor:
        """Encoded inputs of the MLP terms.

        Args:
            X: (N, D) inputs (categorical columns hold integer codes).

        Returns:
            (G, N, in_width) inputs (subnetwork-first), zero in padded slots.
        """
        blocks = [X]
        for d, feature in enumerate(self.features):
            if feature.categorical:
                codes = X[:, d].round().long().clamp(0, feature.n_categories - 1)
                blocks.append(F.one_hot(codes, feature.n_categories).to(X.dtype))
        blocks.append(X.new_zeros(X.shape[0], 1))
        encoded = torch.cat(blocks, dim=1)
        return encoded.T[self.input_index.to(X.device)].permute(0, 2, 1)

    def table_cells(self, X: Tensor) -> Tensor:
        """Cell index of every table term within its own table.

        Args:
            X: (N, D) inputs.

        Returns:
            (N, T_tab) long cell indices.
        """
        columns, strides = self.table_columns.to(X.device), self.table_strides.to(X.device)
        codes = X[:, columns.reshape(-1)].round().long().reshape(X.shape[0], -1, 2)
        codes = codes.clamp(min=0).minimum(self._code_limits.to(X.device))
        return (codes * strides).sum(-1)
