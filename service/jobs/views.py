"""Read-only views of jobs and their artifacts as the domain hands them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db.job_models import ArtifactRecord, JobRecord


@dataclass(frozen=True)
class Artifact:
    """A stored file of a finished job."""

    name: str
    media_type: str
    size_bytes: int
    attempt: int
    path: str

    @classmethod
    def from_record(cls, record: ArtifactRecord) -> Artifact:
        return cls(name=record.name, media_type=record.media_type, size_bytes=record.size_bytes,
                   attempt=record.attempt, path=record.path)


@dataclass(frozen=True)
class Job:
    """A job's request, state, progress and timestamps (the result is fetched separately)."""

    id: str
    kind: str
    state: str
    dataset: str
    target: str | None
    task: str
    model: dict[str, Any] | None
    config: dict[str, Any]
    device: str
    queue: str
    attempt: int
    max_attempts: int
    cancel_requested: bool
    progress: float
    message: str | None
    epoch: int | None
    log_marglik: float | None
    error: str | None
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_record(cls, record: JobRecord) -> Job:
        return cls(
            id=record.id, kind=record.kind, state=record.state, dataset=record.dataset, target=record.target,
            task=record.task, model=record.model, config=dict(record.config), device=record.device,
            queue=record.queue, attempt=record.attempt, max_attempts=record.max_attempts,
            cancel_requested=record.cancel_requested, progress=record.progress, message=record.message,
            epoch=record.epoch, log_marglik=record.log_marglik, error=record.error, worker=record.worker,
            created_at=record.created_at, started_at=record.started_at, heartbeat_at=record.heartbeat_at,
            finished_at=record.finished_at,
        )


@dataclass(frozen=True)
class JobResult:
    """The result of a succeeded job and its artifacts."""

    job_id: str
    kind: str
    attempt: int
    result: dict[str, Any]
    artifacts: list[Artifact]


@dataclass(frozen=True)
class JobPage:
    """One page of jobs."""

    items: list[Job]
    total: int
    limit: int
    offset: int
