"""The in-memory form of a dataset: named numeric columns, categorical ones stored as codes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Table:
    """A rectangular dataset.

    Attributes:
        columns: the C column names, in file order.
        values: (N, C) float64 array; a categorical column holds the integer code of its level.
        categories: for each categorical column, its levels in code order (code k is ``levels[k]``).
    """

    columns: list[str]
    values: np.ndarray
    categories: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.columns):
            raise ValueError(f"values of shape {self.values.shape} do not match {len(self.columns)} columns")

    @property
    def n_rows(self) -> int:
        """N, the number of rows."""
        return int(self.values.shape[0])

    def column(self, name: str) -> np.ndarray:
        """(N,) values of one column (codes for a categorical column)."""
        return self.values[:, self.columns.index(name)]
