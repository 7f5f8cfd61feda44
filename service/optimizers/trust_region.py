"""A trust region for the acquisition: maximise it in a box around the best observation.

Option ``trust_region_side`` (``trust_region_options``; 0 = off): the acquisition is maximised inside the
box of that side, in units of the unit-scaled search space, centred on the best observed point and
clipped to the space, instead of over the whole space. This is the fixed-size version of TuRBO's
trust region (Eriksson et al. 2019), applied to every model-based suggest of one objective.

Why: a surrogate whose uncertainty is large at the edges of the box (the LLA's tangent kernel grows
with the network's Jacobian) keeps proposing corners, each a wasted evaluation on a noisy tuning task;
inside the region it refines around what is known to be good, including integer columns such as a
hidden-layer size, whose neighbouring values differ as much as random draws do. Measured in
``docs/benchmarks.md`` ("A trust region for the LLA").

Column kinds:

* continuous columns: ``[c - side / 2, c + side / 2]`` clipped to ``[0, 1]``;
* integer (grid) columns: the same interval in the encoding, ending on the encodings of the values it
  contains and holding at least the centre's value and its neighbours, so that BoTorch's discrete
  search keeps valid values and a short column (two or three values) is not frozen;
* categorical columns keep every choice.

Conditional spaces keep the whole box (an inactive column of the best point has no position).
Written here because BoTorch's TuRBO is a tutorial, not a library component.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from service.space.search_space import SearchSpace


def best_point(X: Tensor, y: Tensor) -> Tensor | None:
    """The observed point with the highest finite outcome, ``(D,)``, or None if none is finite.

    Args:
        X: ``(n, D)`` encoded points; y: ``(n,)`` maximisation-oriented outcomes.
    """
    finite = torch.isfinite(y)
    if not bool(finite.any()):
        return None
    masked = torch.where(finite, y, torch.full_like(y, -torch.inf))
    return X[int(torch.argmax(masked))]


def trust_region_bounds(space: SearchSpace, bounds: Tensor, center: Tensor, side: float,
                        held: Iterable[int] = ()) -> Tensor:
    """The trust region inside ``bounds`` (module docstring), shape ``(2, D)``.

    Args:
        space: the search space (its column kinds).
        bounds: ``(2, D)`` the optimiser's box (integer columns between their end encodings).
        center: ``(D,)`` encoded centre (a canonical point).
        side: side length in unit-scaled units, ``0 < side <= 1``.
        held: columns held for the call (``SuggestRequest.fixed``): they keep their whole range, since
            their value may lie outside the box.

    Returns:
        ``(2, D)`` box inside ``bounds``; every integer column's ends are encodings of its values.
    """
    region = bounds.clone()
    if space.is_conditional:
        return region
    half = 0.5 * side
    for i in space.continuous_dims:
        region[0, i] = torch.clamp(center[i] - half, min=bounds[0, i])
        region[1, i] = torch.clamp(center[i] + half, max=bounds[1, i])
    for i in space.integer_dims:
        values = space.integer_encodings(i, bounds.dtype, bounds.device)
        at = int(torch.argmin((values - center[i]).abs()))
        inside = (values >= center[i] - half - 1e-9) & (values <= center[i] + half + 1e-9)
        inside[max(at - 1, 0):at + 2] = True  # the centre's value and its neighbours, however narrow the side
        region[0, i], region[1, i] = values[inside].min(), values[inside].max()
    whole = list(held)
    region[:, whole] = bounds[:, whole]
    return region


def inside_region(X: Tensor, region: Tensor) -> Tensor:
    """Which rows of ``X`` ``(N, D)`` lie in ``region`` ``(2, D)`` (bool ``(N,)``, tolerance 1e-9)."""
    return ((X >= region[0] - 1e-9) & (X <= region[1] + 1e-9)).all(dim=-1)
