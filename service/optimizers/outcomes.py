"""Several modelled outcomes: objectives to trade off and metrics under constraints.

A single-objective study without outcome constraints models one outcome (``SuggestRequest.y``).
Otherwise every outcome is modelled (one surrogate each) and :class:`Outcomes` says how to
read the columns: the first ``n_objectives`` are the objectives, oriented for maximisation,
the rest are constrained metrics on their own scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class OutcomeBound:
    """A constraint on one outcome column: ``Y[:, column] <= bound`` (``op == "<="``) or ``>=``."""

    column: int
    op: str
    bound: float

    def slack(self, Y: Tensor) -> Tensor:
        """``(..., m) -> (...)``: <= 0 where the constraint holds (BoTorch's constraint convention)."""
        value = Y[..., self.column]
        return value - self.bound if self.op == "<=" else self.bound - value


@dataclass(frozen=True)
class Outcomes:
    """Every modelled outcome of a study.

    Attributes:
        Y: ``(n, m)`` observed outcomes: objectives (maximisation-oriented) first, then metrics.
        names: the ``m`` outcome names.
        n_objectives: the number of objectives (1..4).
        constraints: the outcome constraints, on columns of ``Y``.
        ref_point: ``(n_objectives,)`` hypervolume reference point (maximisation-oriented), or
            None to infer it from the data.
    """

    Y: Tensor
    names: tuple[str, ...]
    n_objectives: int
    constraints: tuple[OutcomeBound, ...] = ()
    ref_point: Tensor | None = None

    def __post_init__(self) -> None:
        if self.Y.dim() != 2 or self.Y.shape[1] != len(self.names):
            raise ValueError(f"Y must have shape (n, {len(self.names)}), got {tuple(self.Y.shape)}")
        if not (1 <= self.n_objectives <= len(self.names)):
            raise ValueError("n_objectives must be between 1 and the number of outcomes")

    def feasible(self, Y: Tensor | None = None) -> Tensor:
        """``(n,)`` bool: rows of ``Y`` (default: the observations) meeting every outcome constraint."""
        Y = self.Y if Y is None else Y
        ok = torch.ones(Y.shape[:-1], dtype=torch.bool, device=Y.device)
        for c in self.constraints:
            ok &= c.slack(Y) <= 0
        return ok
