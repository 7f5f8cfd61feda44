"""Names studies can use for ``surrogate``, and the policy behind each.

``random`` is the Sobol policy (no model); every registered :class:`Surrogate` is served by
the one :class:`ModelBasedPolicy`. Registration stores a factory, so BoTorch is imported only
when a model policy is first used; options models are plain pydantic classes, so study
creation validates ``surrogate_options`` without loading any model code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from service.optimizers.base import Policy
from service.optimizers.sobol import SobolPolicy
from service.optimizers.surrogate import Surrogate

RANDOM = "random"
# The surrogate a "random" study's predict answers with (random search has no model); the
# response names it, and the README says so.
RANDOM_PREDICTION_SURROGATE = "gp"


@dataclass(frozen=True)
class SurrogateEntry:
    """One registered surrogate: how to build it and what options it takes."""

    factory: Callable[[], Surrogate]
    options_model: type[BaseModel] | None
    description: str


_SURROGATES: dict[str, SurrogateEntry] = {}
_POLICIES: dict[str, Policy] = {}
_LOCK = threading.Lock()


def register_surrogate(
    name: str,
    factory: Callable[[], Surrogate],
    *,
    options_model: type[BaseModel] | None = None,
    description: str = "",
) -> None:
    """Make ``surrogate: name`` available (replaces an existing registration)."""
    if name == RANDOM:
        raise ValueError(f"'{RANDOM}' is reserved for the Sobol policy")
    with _LOCK:
        _SURROGATES[name] = SurrogateEntry(factory, options_model, description)
        _POLICIES.pop(name, None)


def surrogate_entry(name: str) -> SurrogateEntry:
    """The registration of a surrogate (KeyError when unknown)."""
    with _LOCK:
        return _SURROGATES[name]


def unregister_surrogate(name: str) -> None:
    """Remove a registration (tests register temporary surrogates)."""
    with _LOCK:
        _SURROGATES.pop(name, None)
        _POLICIES.pop(name, None)


def surrogate_names() -> list[str]:
    """Every name a study may give as ``surrogate`` (``random`` first)."""
    return [RANDOM, *sorted(_SURROGATES)]


def describe_surrogates() -> dict[str, str]:
    """name -> one-line description (for the OpenAPI document)."""
    return {RANDOM: "scrambled Sobol points (no model)", **{k: v.description for k, v in sorted(_SURROGATES.items())}}


def validate_surrogate_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``surrogate_options`` against the surrogate's options model.

    Raises:
        ValueError: unknown surrogate, or options given to a surrogate that takes none.
        pydantic.ValidationError: an invalid option (located at the field).
    """
    if name != RANDOM and name not in _SURROGATES:
        raise ValueError(f"unknown surrogate '{name}' (known: {surrogate_names()})")
    model = None if name == RANDOM else _SURROGATES[name].options_model
    if model is None:
        if options:
            raise ValueError(f"surrogate_options are not accepted for surrogate '{name}' (got keys {sorted(options)})")
        return {}
    model.model_validate(dict(options))
    return dict(options)


def get_policy(name: str) -> Policy:
    """The process-wide policy for a surrogate name (stateless, so shared).

    Raises:
        ValueError: unknown name.
    """
    with _LOCK:
        if name in _POLICIES:
            return _POLICIES[name]
        if name == RANDOM:
            policy: Policy = SobolPolicy()
        elif name in _SURROGATES:
            from service.optimizers.model_policy import ModelBasedPolicy

            policy = ModelBasedPolicy(_SURROGATES[name].factory())
        else:
            raise ValueError(f"unknown surrogate '{name}' (known: {surrogate_names()})")
        _POLICIES[name] = policy
        return policy


def prediction_policy(name: str) -> tuple[str, Policy]:
    """The surrogate name and policy that answer ``predict`` for a study of surrogate ``name``."""
    model_name = RANDOM_PREDICTION_SURROGATE if name == RANDOM else name
    return model_name, get_policy(model_name)
