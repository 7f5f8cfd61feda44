"""Duplicate detection between encoded candidate points and already-used points.

After rounding ints/categoricals two candidates (or a candidate and an observed or
pending point) can coincide; evaluating the same configuration twice wastes a trial,
so policies drop such candidates and fill the gap with quasi-random points.
"""

from __future__ import annotations

import torch
from torch import Tensor

DUPLICATE_TOL = 1e-9


def select_distinct(candidates: Tensor, avoid: Tensor, count: int, tol: float = DUPLICATE_TOL) -> Tensor:
    """Greedily keep candidates that differ from ``avoid`` and from each other.

    Args:
        candidates: ``(c, D)`` encoded candidate points in order of preference.
        avoid: ``(m, D)`` points that must not be repeated (observed + pending).
        count: maximum number of points to keep.
        tol: two points are equal when every coordinate differs by at most ``tol``.

    Returns:
        ``(k, D)`` with ``k <= count``: the first distinct candidates, in order.
    """
    kept: list[Tensor] = []
    reference = avoid.to(candidates)
    for row in candidates:
        if len(kept) >= count:
            break
        pool = torch.cat([reference, torch.stack(kept)]) if kept else reference
        if pool.shape[0] > 0 and bool(((pool - row).abs() <= tol).all(dim=-1).any()):
            continue
        kept.append(row)
    if not kept:
        return candidates[:0]
    return torch.stack(kept)


def is_duplicate(points: Tensor, avoid: Tensor, tol: float = DUPLICATE_TOL) -> Tensor:
    """Boolean mask ``(k,)``: which of ``points`` ``(k, D)`` coincide with a row of ``avoid`` ``(m, D)``."""
    if avoid.shape[0] == 0 or points.shape[0] == 0:
        return torch.zeros(points.shape[0], dtype=torch.bool, device=points.device)
    diff = (points.unsqueeze(1) - avoid.to(points).unsqueeze(0)).abs()
    return (diff <= tol).all(dim=-1).any(dim=-1)
