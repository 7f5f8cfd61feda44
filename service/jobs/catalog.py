"""Client-facing job operations: submit, read, list, cancel, result and artifacts."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import func, select

from service.datasets.catalog import get_dataset, load_table
from service.db import Database
from service.db.job_models import ArtifactRecord, JobRecord
from service.db.types import utcnow
from service.jobs.model_specs import parse_model_spec
from service.jobs.registry import get_kind, validate_config
from service.jobs.spec import FINISHED_STATES, JobSpec, queue_for
from service.jobs.target_facts import TargetFacts
from service.jobs.views import Artifact, Job, JobPage, JobResult
from service.errors import ConflictError, InvalidInputError, NotFoundError


def submit_job(db: Database, spec: JobSpec, *, max_attempts: int = 3, owner: str = "local",
               dataset_owner: str | None = None, datasets_dir: Path | None = None) -> Job:
    """Validate a job request and store it as ``queued`` (the caller then dispatches its id).

    The stored config has every default filled in and the target is resolved, so the record
    says exactly what runs. ``dataset_owner`` restricts the dataset to that principal's uploads
    (None: any, for admins); built-in datasets are everyone's. A kind's ``check`` (given the dataset
    directory ``datasets_dir``) rejects impossible combinations such as a binary-only kind on a
    multiclass target.

    Raises:
        InvalidInputError: unknown kind, config or model field, dataset or target column (names the field).
    """
    kind = get_kind(spec.kind)
    config = validate_config(kind, spec.config)
    model = parse_model_spec(spec.model).model_dump(mode="json") if spec.model is not None else None
    try:
        dataset = get_dataset(db, spec.dataset, owner=dataset_owner)
    except NotFoundError as error:
        raise InvalidInputError(f"dataset: {error.message}", field="dataset") from None
    target = spec.target if spec.target is not None else dataset.columns[-1]
    if target not in dataset.columns:
        raise InvalidInputError(
            f"target: column '{target}' is not in dataset '{dataset.id}' (columns: {', '.join(dataset.columns[:20])}"
            f"{', ...' if len(dataset.columns) > 20 else ''})", field="target",
        )
    if kind.check is not None:
        facts = TargetFacts(task=spec.task, target=target, dataset=dataset, model=spec.model,
                            load_table=lambda: load_table(db, datasets_dir or Path("."), dataset.id))
        kind.check(config, facts)
    record = JobRecord(
        id=uuid.uuid4().hex, owner=owner, kind=kind.name, state="queued", dataset=dataset.id, target=target, task=spec.task,
        model=model, config=config.model_dump(mode="json"), device=spec.device, queue=queue_for(spec.device),
        attempt=0, max_attempts=max_attempts, cancel_requested=False, progress=0.0, message="queued",
        created_at=utcnow(),
    )
    with db.write() as session:
        session.add(record)
        session.flush()
        return Job.from_record(record)


def get_job(db: Database, job_id: str, *, owner: str | None = None) -> Job:
    """One job (NotFoundError when absent or not ``owner``'s)."""
    with db.read() as session:
        return Job.from_record(_load(session, job_id, owner=owner))


def list_jobs(db: Database, *, owner: str | None = None, state: str | None = None, kind: str | None = None,
              limit: int = 50, offset: int = 0) -> JobPage:
    """Jobs (of ``owner`` unless None), newest first, optionally of one state and/or kind."""
    query = select(JobRecord)
    count = select(func.count()).select_from(JobRecord)
    if owner is not None:
        query, count = query.where(JobRecord.owner == owner), count.where(JobRecord.owner == owner)
    if state is not None:
        query, count = query.where(JobRecord.state == state), count.where(JobRecord.state == state)
    if kind is not None:
        query, count = query.where(JobRecord.kind == kind), count.where(JobRecord.kind == kind)
    with db.read() as session:
        total = session.scalar(count) or 0
        records = session.scalars(query.order_by(JobRecord.created_at.desc(), JobRecord.id).limit(limit).offset(offset))
        return JobPage(items=[Job.from_record(r) for r in records], total=int(total), limit=limit, offset=offset)


def cancel_job(db: Database, job_id: str, *, owner: str | None = None) -> Job:
    """Cancel a job: a queued one at once; a running one cooperatively (its worker stops at the
    next check, at least once per epoch, and releases itself).

    Raises:
        ConflictError: the job already finished.
    """
    with db.write() as session:
        record = _load(session, job_id, owner=owner, lock=True)
        if record.state in FINISHED_STATES:
            raise ConflictError(f"job '{job_id}' is {record.state}; only queued or running jobs can be cancelled")
        record.cancel_requested = True
        if record.state == "queued":
            record.state = "cancelled"
            record.finished_at = utcnow()
            record.message = "cancelled before it started"
        else:
            record.message = "cancellation requested"
        session.flush()
        return Job.from_record(record)


def job_result(db: Database, job_id: str, *, owner: str | None = None) -> JobResult:
    """The result of a succeeded job (ConflictError while it is not succeeded)."""
    with db.read() as session:
        record = _load(session, job_id, owner=owner)
        if record.state != "succeeded":
            detail = f": {record.error}" if record.error else ""
            raise ConflictError(f"job '{job_id}' is {record.state}; a result exists only for succeeded jobs{detail}")
        return JobResult(job_id=record.id, kind=record.kind, attempt=record.attempt, result=dict(record.result or {}),
                         artifacts=[Artifact.from_record(a) for a in record.artifacts])


def artifact_file(db: Database, artifacts_dir: Path, job_id: str, name: str, *,
                  owner: str | None = None) -> tuple[Artifact, Path]:
    """The stored artifact ``name`` of a job and the path of its file (NotFoundError when absent)."""
    with db.read() as session:
        _load(session, job_id, owner=owner)
        record = session.scalars(
            select(ArtifactRecord).where(ArtifactRecord.job_id == job_id, ArtifactRecord.name == name)
        ).one_or_none()
        if record is None:
            raise NotFoundError(f"job '{job_id}' has no artifact '{name}'")
        artifact = Artifact.from_record(record)
    path = artifacts_dir / artifact.path
    if not path.is_file():
        raise NotFoundError(f"the file of artifact '{name}' of job '{job_id}' is missing")
    return artifact, path


def mark_undelivered(db: Database, job_id: str, reason: str) -> None:
    """Fail a queued job whose id could not be handed to the back end (e.g. the broker is down)."""
    with db.write() as session:
        record = _load(session, job_id, lock=True)
        if record.state == "queued":
            record.state = "failed"
            record.error = reason
            record.finished_at = utcnow()


def queued_job_ids(db: Database) -> list[tuple[str, str]]:
    """``(id, queue)`` of every queued job, oldest first (the local back end re-enqueues them on start)."""
    with db.read() as session:
        rows = session.execute(
            select(JobRecord.id, JobRecord.queue).where(JobRecord.state == "queued").order_by(JobRecord.created_at)
        ).all()
        return [(row[0], row[1]) for row in rows]


def _load(session, job_id: str, *, owner: str | None = None, lock: bool = False) -> JobRecord:
    query = select(JobRecord).where(JobRecord.id == job_id)
    if owner is not None:
        query = query.where(JobRecord.owner == owner)
    if lock:
        query = query.with_for_update()
    record = session.scalars(query).one_or_none()
    if record is None:
        raise NotFoundError(f"job '{job_id}' not found")
    return record
