"""The registry of job kinds: each kind is a config model plus a ``run(context)`` function.

A kind lives in its own module (``service.jobs.kinds.<name>``) and registers itself on import, so
pruning or additive-model jobs plug in without touching the framework. Extra kinds (for example a
test-only one) are imported from the modules named in the ``job_plugins`` setting.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.jobs.validation import validate_section
from service.errors import InvalidInputError

if TYPE_CHECKING:
    from service.datasets.views import Dataset
    from service.jobs.context import JobContext
    from service.jobs.target_facts import TargetFacts


class JobConfig(BaseModel):
    """Fields every kind's config has (each defaulted, so ``config: {}`` is valid)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(default=0, description="Seeds the train/test split and the initialisation.")
    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0, description="Share of rows held out for testing.")
    dtype: Literal["float32", "float64"] = Field(default="float32", description="Floating-point precision.")


@dataclass(frozen=True)
class JobKind:
    """One kind of job.

    Attributes:
        name: the ``kind`` clients submit.
        config: the pydantic model of the kind's ``config`` (a :class:`JobConfig` subclass).
        run: called on a worker with the :class:`~service.jobs.context.JobContext`; returns the
            JSON-serialisable result.
        summary: one line for the docs.
        check: optional submission check ``check(config, facts)`` of combinations no config field
            alone rules out (e.g. a binary-only kind on a multiclass target); it raises
            ``InvalidInputError`` naming the field, so the request is a 422 before anything is stored.
    """

    name: str
    config: type[JobConfig]
    run: Callable[[JobContext], dict[str, Any]]
    summary: str = ""
    check: Callable[[JobConfig, TargetFacts], None] | None = None


_KINDS: dict[str, JobKind] = {}
_LOCK = threading.Lock()
_BUILTINS_LOADED = False


def register(kind: JobKind, *, replace: bool = False) -> JobKind:
    """Add ``kind`` to the registry (a second kind of the same name is an error unless ``replace``)."""
    with _LOCK:
        if kind.name in _KINDS and not replace and _KINDS[kind.name] is not kind:
            raise ValueError(f"job kind '{kind.name}' is already registered")
        _KINDS[kind.name] = kind
    return kind


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        importlib.import_module("service.jobs.kinds")
        _BUILTINS_LOADED = True


def load_plugins(modules: Iterable[str]) -> None:
    """Import modules that register extra job kinds (the ``job_plugins`` setting)."""
    _load_builtins()
    for module in modules:
        importlib.import_module(module)


def kinds() -> dict[str, JobKind]:
    """All registered kinds by name."""
    _load_builtins()
    return dict(_KINDS)


def get_kind(name: str) -> JobKind:
    """The kind ``name`` (InvalidInputError naming ``kind`` when unknown)."""
    known = kinds()
    if name not in known:
        raise InvalidInputError(f"kind: unknown job kind '{name}'; known: {', '.join(sorted(known))}", field="kind")
    return known[name]


def validate_config(kind: JobKind, config: dict[str, Any] | None) -> JobConfig:
    """The kind's config with every default filled in (InvalidInputError naming ``config.<field>``)."""
    return validate_section(kind.config, config or {}, "config")
