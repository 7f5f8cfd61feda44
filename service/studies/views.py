"""Read-only views of studies and trials returned by the domain functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from service.db.models import StudyRecord, TrialRecord

# early_stopped: stopped by the study's early-stopping policy; its last reported value is kept.
# queued: enqueued by a client, handed out by the next suggest.
TRIAL_STATES = ("pending", "completed", "failed", "abandoned", "expired", "early_stopped", "queued")


@dataclass(frozen=True)
class Study:
    """A study as the domain hands it out."""

    id: str
    name: str
    parameters: list[dict[str, Any]]
    objectives: list[dict[str, Any]]
    surrogate: str
    surrogate_options: dict[str, Any]
    initial_design_size: int
    seed: int
    lease_seconds: int
    created_at: datetime
    trial_counts: dict[str, int] = field(default_factory=dict)
    outcome_constraints: list[dict[str, Any]] = field(default_factory=list)
    parameter_constraints: list[dict[str, Any]] = field(default_factory=list)
    hypervolume: float | None = None
    early_stopping: dict[str, Any] | None = None

    @property
    def objective(self) -> dict[str, Any]:
        """The first objective."""
        return self.objectives[0]

    @classmethod
    def from_record(cls, record: StudyRecord, counts: dict[str, int] | None = None) -> Study:
        full = {state: 0 for state in TRIAL_STATES}
        full.update(counts or {})
        return cls(
            id=record.id,
            name=record.name,
            parameters=list(record.parameters),
            objectives=list(record.objectives),
            surrogate=record.surrogate,
            surrogate_options=dict(record.surrogate_options or {}),
            initial_design_size=record.initial_design_size,
            seed=record.seed,
            lease_seconds=record.lease_seconds,
            created_at=record.created_at,
            trial_counts=full,
            outcome_constraints=list(record.outcome_constraints or []),
            parameter_constraints=list(record.parameter_constraints or []),
            early_stopping=dict(record.early_stopping) if record.early_stopping else None,
        )


@dataclass(frozen=True)
class Trial:
    """A trial as the domain hands it out."""

    id: str
    study_id: str
    number: int
    params: dict[str, Any]
    state: str
    values: dict[str, float] | None
    noise_sd: dict[str, float] | None
    client_id: str | None
    source: str
    policy: str | None
    fail_reason: str | None
    created_at: datetime
    completed_at: datetime | None
    lease_expires_at: datetime | None
    feasible: bool | None = None
    intermediate_values: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_record(cls, record: TrialRecord) -> Trial:
        return cls.of(record, [(r.step, r.values) for r in record.reports])

    @classmethod
    def of(cls, row: Any, reports: Iterable[tuple[int, Mapping[str, float]]] = ()) -> Trial:
        """The view of a trial ``row`` (a ``TrialRecord`` or a Core row of the trials table: anything with
        its column names as attributes) with its ``(step, values)`` reports in step order."""
        return cls(
            id=row.id,
            study_id=row.study_id,
            number=row.number,
            params=dict(row.params),
            state=row.state,
            values=dict(row.values) if row.values is not None else None,
            noise_sd=dict(row.noise_sd) if row.noise_sd is not None else None,
            client_id=row.client_id,
            source=row.source,
            policy=row.policy,
            fail_reason=row.fail_reason,
            created_at=row.created_at,
            completed_at=row.completed_at,
            lease_expires_at=row.lease_expires_at,
            intermediate_values=[{"step": step, "values": dict(values)} for step, values in reports],
        )


@dataclass(frozen=True)
class Page:
    """One page of a listing."""

    items: list[Any]
    total: int
    limit: int
    offset: int
