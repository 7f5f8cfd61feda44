"""Acquisition on conditional spaces and with columns held fixed for one suggest.

Two pieces the shared acquisition code (``acquisition``) hooks in:

* :class:`ConstrainedInputs` wraps an acquisition function so that it is evaluated at the
  point the optimiser's candidate stands for: the held (``fixed``) columns set and the inactive
  columns imputed (``SearchSpace.impute``). The optimiser may move an inactive or held
  coordinate; nothing changes (its gradient is zero), and the final candidates go through the
  same map. Without conditions and held columns the acquisition is returned unwrapped.
* :func:`parent_assignments` lists the distinct activity patterns of a conditional space: every
  combination of the values of the parent columns (categorical, bool, int parameters with
  children), with the ones that only differ in inactive parents merged. While they are few
  (``MAX_ENUMERATED_PARENTS``), the optimiser runs once per pattern with the parents as fixed
  features (active children optimised jointly within each) and keeps the best; otherwise the
  parents are searched by the alternating optimiser like any categorical column.

Hand-written: BoTorch's optimisers know categorical columns but not that a column can be
inactive; Optuna and Ax have no such optimiser either.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

import torch
from botorch.acquisition import AcquisitionFunction
from torch import Tensor

from service.space.search_space import SearchSpace

MAX_ENUMERATED_PARENTS = 4
MAX_PARENT_PRODUCT = 512


class ConstrainedInputs(AcquisitionFunction):
    """``inner`` evaluated at ``space.impute(X with the held columns set)``.

    Args:
        inner: the acquisition function.
        space: the search space.
        fixed: ``{column: encoding}`` held for this call (may be empty).
    """

    def __init__(self, inner: AcquisitionFunction, space: SearchSpace, fixed: Mapping[int, float]) -> None:
        super().__init__(model=inner.model)
        self.inner = inner
        self.space = space
        self.fixed = dict(fixed)

    def constrain(self, X: Tensor) -> Tensor:
        """The points ``X`` ``(..., D)`` stand for (held columns set, inactive columns imputed)."""
        if self.fixed:
            columns = torch.tensor(list(self.fixed), device=X.device)
            mask = torch.zeros(X.shape[-1], dtype=torch.bool, device=X.device)
            mask[columns] = True
            values = torch.zeros(X.shape[-1], dtype=X.dtype, device=X.device)
            values[columns] = torch.tensor(list(self.fixed.values()), dtype=X.dtype, device=X.device)
            X = torch.where(mask, values, X)
        return self.space.impute(X)

    def forward(self, X: Tensor) -> Tensor:
        return self.inner(self.constrain(X))

    @property
    def X_pending(self) -> Tensor | None:  # noqa: N802 - BoTorch's name
        """The wrapped acquisition's pending points."""
        return self.inner.X_pending

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        """Pending points go to the wrapped acquisition (sequential greedy batches use this)."""
        self.inner.set_X_pending(X_pending)


def constrain_inputs(acqf: AcquisitionFunction, space: SearchSpace,
                     fixed: Mapping[int, float] | None) -> AcquisitionFunction:
    """``acqf`` wrapped in :class:`ConstrainedInputs` when the space is conditional or columns are held."""
    if not fixed and not space.is_conditional:
        return acqf
    return ConstrainedInputs(acqf, space, fixed or {})


def parent_columns(space: SearchSpace) -> list[int]:
    """Columns other parameters are conditioned on."""
    parents = {space.names.index(p.when.parent) for p in space.all_parameters if p.when is not None}
    return sorted(parents)


def parent_assignments(space: SearchSpace, fixed: Mapping[int, float] | None,
                       limit: int = MAX_ENUMERATED_PARENTS) -> list[dict[int, float]] | None:
    """Distinct activity patterns as ``{parent column: encoding}`` (held columns excluded), or None.

    None when the space has no conditions, or more than ``limit`` patterns (the optimiser then
    alternates over the parents).
    """
    fixed = dict(fixed or {})
    columns = [i for i in parent_columns(space) if i not in fixed]
    if not columns:
        return None
    values: list[list[float]] = []
    product = 1
    for i in columns:
        p = space.parameters[i]
        codes = ([float(k) for k in range(space.n_choices[i])] if i in space.n_choices
                 else p.grid_encodings().tolist())
        product *= len(codes)
        if product > MAX_PARENT_PRODUCT:
            return None
        values.append(codes)
    base = torch.zeros(space.dim, dtype=torch.float64)
    for i, code in fixed.items():
        base[i] = code
    seen: set[tuple[float, ...]] = set()
    patterns: list[dict[int, float]] = []
    for combo in itertools.product(*values):
        point = base.clone()
        point[columns] = torch.tensor(combo, dtype=torch.float64)
        point = space.canonicalize(point.unsqueeze(0))[0]
        active = space.active_mask(point.unsqueeze(0))[0]
        key = tuple(float(point[i]) if bool(active[i]) else -1.0 for i in columns)
        if key in seen:
            continue
        seen.add(key)
        patterns.append({i: float(point[i]) for i in columns})
        if len(patterns) > limit:
            return None
    return patterns


def best_over_parents(
    optimise: Callable[[dict[int, float], int], tuple[Tensor, Tensor]],
    space: SearchSpace,
    fixed: Mapping[int, float] | None,
    count: int,
) -> Tensor | None:
    """Run ``optimise(fixed_features, n_patterns)`` once per activity pattern and keep the best.

    Args:
        optimise: runs the optimiser with the given fixed features (the second argument is
            the number of patterns, to share the budget) and returns ``(candidates, value)``.
        space, fixed: as in :func:`parent_assignments`.
        count: batch size; patterns are enumerated for single points only (a batch may mix
            patterns, which the alternating optimiser searches).

    Returns:
        The best pattern's candidates, or None when patterns are not enumerated.
    """
    if count != 1:
        return None
    patterns = parent_assignments(space, fixed)
    if patterns is None:
        return None
    best, best_value = None, -float("inf")
    for pattern in patterns:
        candidates, value = optimise({**dict(fixed or {}), **pattern}, len(patterns))
        score = float(value.reshape(-1).sum())
        if best is None or score > best_value:
            best, best_value = candidates, score
    return best
