"""Thompson sampling over a candidate set: the cheap tail of large batches.

Greedy qLogNEI costs one acquisition optimisation per point (~0.2 s CPU each at
n = 100, d = 6), so a batch of 64 would take over ten seconds. Beyond the first few
points a batch is completed by batch Thompson sampling (Kandasamy et al., 2018; used
by TuRBO): draw joint posterior samples of the objective over a quasi-random candidate
set and take each sample's maximiser, without replacement. One joint posterior over
the candidates serves all points, and the sample noise spreads them out.
"""

from __future__ import annotations

import torch
from botorch.generation.sampling import MaxPosteriorSampling
from botorch.models.model import Model
from torch import Tensor
from torch.quasirandom import SobolEngine

from service.optimizers.distinct_points import is_duplicate
from service.space.search_space import SearchSpace

DEFAULT_CANDIDATES = 1024


def thompson_batch(
    model: Model,
    space: SearchSpace,
    count: int,
    seed: int,
    avoid: Tensor,
    grid: Tensor | None = None,
    n_candidates: int = DEFAULT_CANDIDATES,
) -> Tensor:
    """Up to ``count`` distinct maximisers of joint posterior samples.

    Args:
        model: fitted model on encoded inputs (maximisation-oriented outcomes).
        space: the search space.
        count: number of points wanted.
        seed: seeds the candidate set and the posterior samples.
        avoid: ``(m, D)`` points excluded from the candidates (observed, pending, already chosen).
        grid: ``(N, D)`` all points of a small discrete space (used instead of Sobol candidates).
        n_candidates: size of the candidate set.

    Returns:
        ``(k, D)`` canonical points, ``k <= count`` (fewer only when fewer candidates remain).
    """
    dtype, device = avoid.dtype, avoid.device
    generator = torch.Generator().manual_seed(seed)
    if grid is None:
        unit = SobolEngine(space.dim, scramble=True, seed=seed).draw(n_candidates, dtype=torch.float64)
        candidates = space.unit_to_encoded(unit).to(dtype=dtype, device=device)
    else:
        candidates = grid
        if grid.shape[0] > n_candidates:
            keep = torch.randperm(grid.shape[0], generator=generator)[:n_candidates]
            candidates = grid[keep.to(grid.device)]
    candidates = candidates[~is_duplicate(candidates, avoid)]
    candidates = torch.unique(candidates, dim=0)  # snapped ints/categoricals can coincide
    if candidates.shape[0] == 0:
        return candidates
    k = min(count, candidates.shape[0])
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        chosen = MaxPosteriorSampling(model=model, replacement=False)(candidates, num_samples=k)
    return chosen.reshape(-1, space.dim)
