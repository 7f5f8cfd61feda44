"""The optimizer-policy interface: a request in, a batch of encoded points out.

In the spirit of OSS Vizier's policies and BoTorch's small interfaces: a policy is a
stateless-looking object (it may keep a bounded warm-start cache keyed by study) that
turns the encoded history of a study into ``count`` new encoded points. The study
service owns persistence, encoding and orientation; policies only see tensors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

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
        cache_key: study id; lets a policy keep warm-start state between calls.
        surrogate_options: the study's ``surrogate_options`` (policy-specific, already
            validated by the caller; the Sobol and GP policies ignore them).
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

    @property
    def n_observed(self) -> int:
        """Number of completed observations ``n``."""
        return int(self.X.shape[0])


@dataclass(frozen=True)
class Suggestion:
    """A policy's answer.

    Attributes:
        X: ``(count, D)`` encoded, canonicalized points inside ``space.bounds()``.
        policy: which policy actually produced them, e.g. ``"sobol"``, ``"gp"``,
            ``"gp->sobol-fallback"``.
        info: diagnostics, e.g. ``{"fit_seconds": .., "acq_seconds": .., "fallback_reason": ..}``.
    """

    X: Tensor
    policy: str
    info: dict[str, Any] = field(default_factory=dict)


class Policy(ABC):
    """An optimizer policy (see module docstring)."""

    name: str = "policy"

    @abstractmethod
    def suggest(self, request: SuggestRequest) -> Suggestion:
        """Propose ``request.count`` new points; ``Suggestion.X`` has shape ``(count, D)``."""

    def predict(self, request: SuggestRequest, X: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior of the latent objective at encoded points.

        Args:
            request: the study's data (``count`` etc. are ignored).
            X: ``(k, D)`` encoded points.

        Returns:
            ``(mean, sd)``, each ``(k,)``, in the units of ``request.y`` (maximisation-oriented;
            the caller flips the sign of the mean for "minimize").

        Raises:
            PredictionUnavailable: the policy has no model (default) or cannot fit one.
        """
        raise PredictionUnavailable(f"policy '{self.name}' has no predictive model")


_REGISTRY: dict[str, Callable[[], Policy]] = {}
_INSTANCES: dict[str, Policy] = {}


def register_policy(surrogate: str, factory: Callable[[], Policy]) -> None:
    """Register a policy factory under a surrogate name (replaces an existing one)."""
    _REGISTRY[surrogate] = factory
    _INSTANCES.pop(surrogate, None)


def get_policy(surrogate: str) -> Policy:
    """The (process-wide, shared) policy instance for a surrogate name.

    Raises:
        ValueError: unknown surrogate name.
    """
    if surrogate not in _REGISTRY:
        raise ValueError(f"unknown surrogate '{surrogate}' (known: {sorted(_REGISTRY)})")
    if surrogate not in _INSTANCES:
        _INSTANCES[surrogate] = _REGISTRY[surrogate]()
    return _INSTANCES[surrogate]


def available_policies() -> list[str]:
    """Registered surrogate names."""
    return sorted(_REGISTRY)
