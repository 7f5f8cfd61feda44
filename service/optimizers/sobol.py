"""Quasi-random policy: a scrambled Sobol sequence per study.

The sequence is seeded with the study seed and continued at index ``n_suggested``
(``fast_forward``), so consecutive calls return fresh points and a study is
reproducible. Points equal to a pending or observed point (possible after snapping
ints/categoricals) are skipped in favour of later points of the sequence.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import lru_cache

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from service.optimizers.base import Policy, Prediction, PredictionUnavailable, SuggestRequest, Suggestion
from service.optimizers.surrogate_state import SurrogateState
from service.optimizers.distinct_points import is_duplicate, select_distinct
from service.space.linear_constraints import LinearConstraints
from service.space.search_space import SearchSpace

EXTRA_DRAWS_MAX = 256
FEASIBLE_ROUNDS = 64  # extra rounds of EXTRA_DRAWS_MAX points when constraints reject points
ENGINE_CACHE_SIZE = 256


def _engine_seed(seed: int) -> int:
    """Map any Python int to a valid torch generator seed."""
    return int(seed) % (2**63)


@lru_cache(maxsize=ENGINE_CACHE_SIZE)
def _scrambled_engine(dimension: int, seed: int) -> tuple[SobolEngine, threading.Lock]:
    """The study's scrambled engine and the lock its users hold: building one (the random scramble
    matrices) cost more than the rest of a random suggest, and ``reset`` brings a cached one back to
    the first point of the same sequence."""
    return SobolEngine(dimension=dimension, scramble=True, seed=seed), threading.Lock()


def draw_sobol(
    space: SearchSpace,
    seed: int,
    start: int,
    count: int,
    avoid: Tensor | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | None = None,
    feasible: Callable[[Tensor], Tensor] | None = None,
    fixed: dict[int, float] | None = None,
) -> Tensor:
    """Points ``start, start+1, ...`` of the study's scrambled Sobol sequence, encoded.

    Args:
        space: the search space (columns are mapped with ``space.unit_to_encoded``).
        seed: scrambling seed (study seed).
        start: index of the first point in the sequence.
        count: number of points wanted.
        avoid: ``(m, D)`` encoded points not to repeat (observed and pending); when the
            next ``count`` points contain repeats, later points of the sequence replace
            them, and only when the space is (nearly) exhausted are repeats returned.
        dtype, device: of the result.
        feasible: ``(n, D) -> (n,)`` bool mask of admissible points (linear parameter
            constraints); inadmissible points of the sequence are skipped.
        fixed: ``{column: encoding}`` set in every point (``SearchSpace.apply_fixed``).

    Returns:
        ``(count, D)`` encoded, canonical points.
    """
    engine, lock = _scrambled_engine(space.dim, _engine_seed(seed))
    with lock:
        engine.reset()
        if start > 0:
            engine.fast_forward(start)
        candidates = _candidates(engine, space, count, avoid, dtype, device, feasible, fixed)
    if avoid is None:
        avoid = candidates[:0]
    chosen = select_distinct(candidates, avoid, count)
    if chosen.shape[0] < count:  # space nearly exhausted: allow repeats, fresh ones first
        rest = candidates[~is_duplicate(candidates, chosen)] if chosen.shape[0] else candidates
        chosen = torch.cat([chosen, rest[: count - chosen.shape[0]]])
        if chosen.shape[0] < count:
            chosen = torch.cat([chosen, candidates[: count - chosen.shape[0]]])
    return chosen


def _candidates(engine: SobolEngine, space: SearchSpace, count: int, avoid: Tensor | None, dtype: torch.dtype,
                device: torch.device | None, feasible: Callable[[Tensor], Tensor] | None,
                fixed: dict[int, float] | None) -> Tensor:
    """The next points of ``engine``, encoded, with ``fixed`` applied: ``count`` plus some spares to skip
    repeats, and only admissible ones (reading further along the sequence) when ``feasible`` is given."""
    extra = min(4 * count + 16, EXTRA_DRAWS_MAX)
    unit = engine.draw(count + extra, dtype=torch.float64)
    candidates = space.apply_fixed(space.unit_to_encoded(unit), fixed or {}).to(dtype=dtype, device=device)
    if feasible is not None:  # constraints may cut most of the box away: read further along the sequence
        candidates = candidates[feasible(candidates)]
        for _ in range(FEASIBLE_ROUNDS):
            fresh = candidates if avoid is None else candidates[~is_duplicate(candidates, avoid.to(candidates))]
            if fresh.shape[0] >= count:
                break
            more = space.apply_fixed(space.unit_to_encoded(engine.draw(EXTRA_DRAWS_MAX, dtype=torch.float64)),
                                     fixed or {}).to(dtype=dtype, device=device)
            candidates = torch.cat([candidates, more[feasible(more)]])
        if candidates.shape[0] == 0:
            raise ValueError("no point of the Sobol sequence satisfies the parameter constraints")
    return candidates


class SobolPolicy(Policy):
    """Scrambled Sobol points (the "random" surrogate and the initial design of model policies)."""

    name = "sobol"

    def reads_history(self, space: SearchSpace, fixed: Mapping[int, float],
                      linear_constraints: LinearConstraints | None) -> bool:
        """Only to skip points equal to earlier trials. That cannot happen when draws never repeat and
        no constraint filters the sequence (a filtered sequence continued one index later can start
        at the same admissible point)."""
        return linear_constraints is not None or not space.draws_never_repeat(fixed)

    def suggest(self, request: SuggestRequest, warm: SurrogateState | None = None) -> Suggestion:
        """``request.count`` Sobol points continuing the sequence at ``request.n_suggested``."""
        avoid = torch.cat([request.X, request.pending.to(request.X)])
        X = draw_sobol(
            request.space,
            seed=request.seed,
            start=request.n_suggested,
            count=request.count,
            avoid=avoid,
            dtype=request.X.dtype,
            device=request.X.device,
            feasible=request.feasible,
            fixed=dict(request.fixed),
        )
        return Suggestion(X=X, policy=self.name, info={"sobol_start": request.n_suggested})

    def predict(self, request: SuggestRequest, X: Tensor, warm: SurrogateState | None = None) -> Prediction:
        """Random search has no model (``predict`` of a random study uses the registry's GP)."""
        raise PredictionUnavailable("the random policy has no predictive model")
