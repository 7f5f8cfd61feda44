"""Create, read, list and delete datasets; load a dataset's table for a job."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection
from pathlib import Path

from sqlalchemy import func, select

from service.datasets import builtin, storage
from service.datasets.parsing import parse_upload
from service.datasets.table import Table
from service.datasets.views import Dataset, DatasetPage
from service.db import Database
from service.db.job_models import DatasetRecord, JobRecord
from service.db.types import utcnow
from service.errors import ConflictError, NotFoundError

_ACTIVE_JOB_STATES = ("queued", "running")


def create_dataset(db: Database, directory: Path, *, filename: str | None, data: bytes,
                   categorical: Collection[str] = (), owner: str = "local") -> Dataset:
    """Validate and store an uploaded file (CSV or ``.npz``); the size cap is the caller's (HTTP) concern.

    Raises:
        InvalidInputError: the file breaks a rule of :mod:`service.datasets.parsing`.
    """
    fmt, table = parse_upload(filename, data, categorical)
    dataset_id = uuid.uuid4().hex
    path = storage.save_table(directory, dataset_id, table)
    record = DatasetRecord(
        id=dataset_id, name=(filename or f"upload.{fmt}")[:256], owner=owner, format=fmt, n_rows=table.n_rows,
        columns=list(table.columns), categories=dict(table.categories), size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(), path=path.name, created_at=utcnow(),
    )
    try:
        with db.write() as session:
            session.add(record)
            session.flush()
            return Dataset.from_record(record)
    except BaseException:
        storage.delete_table(path)
        raise


def get_dataset(db: Database, dataset_id: str, *, owner: str | None = None) -> Dataset:
    """An uploaded dataset by id (of ``owner`` unless None), or a built-in one by name (NotFoundError otherwise)."""
    if builtin.is_builtin(dataset_id):
        table = builtin.load_builtin(dataset_id)
        return Dataset(id=dataset_id, name=dataset_id, builtin=True, format="builtin", n_rows=table.n_rows,
                       columns=list(table.columns), categorical=sorted(table.categories), size_bytes=None,
                       created_at=None)
    with db.read() as session:
        return Dataset.from_record(_load_record(session, dataset_id, owner=owner))


def list_datasets(db: Database, *, owner: str | None = None, limit: int = 50, offset: int = 0) -> DatasetPage:
    """Uploaded datasets (of ``owner`` unless None), newest first (built-ins are addressed by name and not listed)."""
    scope = select(DatasetRecord)
    if owner is not None:
        scope = scope.where(DatasetRecord.owner == owner)
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(scope.subquery())) or 0
        records = session.scalars(
            scope.order_by(DatasetRecord.created_at.desc(), DatasetRecord.id).limit(limit).offset(offset)
        )
        return DatasetPage(items=[Dataset.from_record(r) for r in records], total=int(total), limit=limit,
                           offset=offset)


def delete_dataset(db: Database, directory: Path, dataset_id: str, *, owner: str | None = None) -> None:
    """Delete an uploaded dataset and its file.

    Raises:
        ConflictError: it is built in, or a queued or running job uses it.
        NotFoundError: no such dataset.
    """
    if builtin.is_builtin(dataset_id):
        raise ConflictError(f"'{dataset_id}' is a built-in dataset and cannot be deleted")
    with db.write() as session:
        record = _load_record(session, dataset_id, owner=owner, lock=True)
        active = session.scalar(
            select(func.count()).select_from(JobRecord)
            .where(JobRecord.dataset == dataset_id, JobRecord.state.in_(_ACTIVE_JOB_STATES))
        )
        if active:
            raise ConflictError(f"dataset '{dataset_id}' is used by {active} queued or running job(s)")
        path = directory / record.path
        session.delete(record)
    storage.delete_table(path)


def load_table(db: Database, directory: Path, dataset_id: str) -> Table:
    """The table of a dataset (built-in or uploaded), for a job to train on."""
    if builtin.is_builtin(dataset_id):
        return builtin.load_builtin(dataset_id)
    with db.read() as session:
        path = directory / _load_record(session, dataset_id).path
    if not path.exists():
        raise NotFoundError(f"the file of dataset '{dataset_id}' is missing from {directory}")
    return storage.load_table(path)


def _load_record(session, dataset_id: str, *, owner: str | None = None, lock: bool = False) -> DatasetRecord:
    query = select(DatasetRecord).where(DatasetRecord.id == dataset_id)
    if owner is not None:
        query = query.where(DatasetRecord.owner == owner)
    if lock:
        query = query.with_for_update()
    record = session.scalars(query).one_or_none()
    if record is None:
        raise NotFoundError(f"dataset '{dataset_id}' not found")
    return record
