"""The optimizer-policy interface: a request in, a batch of encoded points out.

In the spirit of OSS Vizier's policies and BoTorch's small interfaces: a policy turns the
encoded history of a study (and the state its last fit left, see ``surrogate_state``) into
``count`` new encoded points. The study service owns persistence, encoding and orientation;
policies only see tensors and hold no per-study state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from service.optimizers.outcomes import Outcomes
from service.optimizers.surrogate_state import SurrogateState
from service.space.linear_constraints import LinearConstraints
from service.space.search_space import SearchSpace

MAX_COUNT = 64


class PredictionUnavailable(RuntimeError):
    """A policy cannot predict for this request (no model, too little data, fit failed)."""


@dataclass(frozen=True)
class SuggestRequest:
    """Everything a policy needs to propose points.

    Attributes:
        space: the search space (defines the encoding and bounds).
        X: ``(n, D)`` float64 encoded completed observations.
        y: ``(n,)`` objective values oriented for MAXIMISATION (the caller negates for
            "minimize").
        y_var: ``(n,)`` known observation-noise variances in the units of ``y`` or None
            (noise is then inferred). NaN entries mean "unknown" and make the whole
            vector be ignored (noise inferred).
        pending: ``(m, D)`` encoded pending trials (suggested, not yet observed, lease alive).
        count: number of points wanted (1..64), chosen jointly.
        seed: study seed.
        n_suggested: number of trials ever created in the study (Sobol sequence index).
        n_initial: initial-design size.
        cache_key: study id (used in log messages).
        surrogate_options: the study's ``surrogate_options`` (surrogate-specific, already
            validated by the caller through the surrogate registry).
        linear_constraints: the study's linear parameter constraints (None: none); every
            suggested point must satisfy them.
        outcomes: every modelled outcome when the study has several objectives or outcome
            constraints (None: ``y`` is the only outcome).
        fixed: ``{column: encoding}`` held in every point of this call
            (``SearchSpace.encode_fixed``); the acquisition is optimised over the rest.
    """

    space: SearchSpace
    X: Tensor
    y: Tensor
    y_var: Tensor | None
    pending: Tensor
    count: int
    seed: int
    n_suggested: int
    n_initial: int
    cache_key: str | None = None
    surrogate_options: Mapping[str, Any] | None = None
    linear_constraints: LinearConstraints | None = None
    outcomes: Outcomes | None = None
    fixed: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = self.space.dim
        n = self.X.shape[0] if self.X.dim() == 2 else -1
        if self.X.dim() != 2 or self.X.shape[1] != d:
            raise ValueError(f"X must have shape (n, {d}), got {tuple(self.X.shape)}")
        if self.y.shape != (n,):
            raise ValueError(f"y must have shape ({n},), got {tuple(self.y.shape)}")
        if self.y_var is not None and self.y_var.shape != (n,):
            raise ValueError(f"y_var must have shape ({n},), got {tuple(self.y_var.shape)}")
        if self.pending.dim() != 2 or self.pending.shape[1] != d:
            raise ValueError(f"pending must have shape (m, {d}), got {tuple(self.pending.shape)}")
        if not (1 <= self.count <= MAX_COUNT):
            raise ValueError(f"count must be in 1..{MAX_COUNT}, got {self.count}")
        if self.n_suggested < 0 or self.n_initial < 0:
            raise ValueError("n_suggested and n_initial must be non-negative")
        if self.outcomes is not None and self.outcomes.Y.shape[0] != n:
            raise ValueError(f"outcomes.Y must have {n} rows, got {tuple(self.outcomes.Y.shape)}")

    @property
    def feasible(self) -> Callable[[Tensor], Tensor] | None:
        """``(n, D) -> (n,)`` bool mask of points satisfying the linear constraints (None: no constraints)."""
        return self.linear_constraints.feasible if self.linear_constraints else None

    @property
    def n_observed(self) -> int:
        """Number of completed observations ``n``."""
        return int(self.X.shape[0])


@dataclass(frozen=True)
class Suggestion:
    """A policy's answer.

    Attributes:
        X: ``(count, D)`` encoded, canonicalized points inside ``space.bounds()``.
        policy: which policy produced them, e.g. ``"sobol"``, ``"gp"``, ``"gp->sobol-fallback"``.
        info: diagnostics, e.g. ``{"fit_seconds": .., "acq_seconds": .., "phase": ..}``.
        fallback_reason: set when the model failed and the points are the Sobol fallback.
        state: the surrogate state to keep for the next call (None: nothing to keep).
    """

    X: Tensor
    policy: str
    info: dict[str, Any] = field(default_factory=dict)
    fallback_reason: str | None = None
    state: SurrogateState | None = None

    @property
    def fell_back(self) -> bool:
        """True when the model failed and the points come from the Sobol fallback."""
        return self.fallback_reason is not None


@dataclass(frozen=True)
class Prediction:
    """Posterior of the latent objective at some points.

    Attributes:
        mean: ``(k,)`` posterior mean (units of ``SuggestRequest.y``, maximisation-oriented), or
            ``(k, m)`` with one column per outcome of ``SuggestRequest.outcomes``.
        sd: posterior standard deviation, the shape of ``mean``.
        state: the surrogate state after the fit (None: nothing to keep).
    """

    mean: Tensor
    sd: Tensor
    state: SurrogateState | None = None


class Policy(ABC):
    """An optimizer policy: encoded history (and the last fitted state) in, points out.

    Policies keep no per-study state of their own: whatever a fit should start from comes
    in as ``warm`` and goes out as ``Suggestion.state``; the caller persists it.
    """

    name: str = "policy"

    def reads_history(self, space: SearchSpace, fixed: Mapping[int, float],
                      linear_constraints: LinearConstraints | None) -> bool:
        """Whether ``suggest`` needs the observed and pending trials in its request.

        When False, the caller may pass empty ``X``, ``y`` and ``pending`` (the random policy on an
        unconstrained space whose draws never repeat reads only ``n_suggested``); this keeps a
        suggest O(1) in the study's size.
        """
        return True

    @abstractmethod
    def suggest(self, request: SuggestRequest, warm: SurrogateState | None = None) -> Suggestion:
        """Propose ``request.count`` new points; ``Suggestion.X`` has shape ``(count, D)``.

        Never raises for data problems: a failed model ends in a Sobol fallback.
        """

    @abstractmethod
    def predict(self, request: SuggestRequest, X: Tensor, warm: SurrogateState | None = None) -> Prediction:
        """Posterior of the latent objective at ``X`` ``(k, D)`` encoded points.

        Raises:
            PredictionUnavailable: the policy has no model or cannot fit one.
        """
