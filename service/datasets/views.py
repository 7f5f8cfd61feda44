"""Read-only view of a dataset as the domain hands it out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.db.job_models import DatasetRecord


@dataclass(frozen=True)
class Dataset:
    """An uploaded or built-in dataset; the last column is the default target."""

    id: str
    name: str
    builtin: bool
    format: str
    n_rows: int
    columns: list[str]
    categorical: list[str]
    size_bytes: int | None
    created_at: datetime | None

    @property
    def n_features(self) -> int:
        """Columns besides the default (last) target column."""
        return len(self.columns) - 1

    @classmethod
    def from_record(cls, record: DatasetRecord) -> Dataset:
        return cls(id=record.id, name=record.name, builtin=False, format=record.format, n_rows=record.n_rows,
                   columns=list(record.columns), categorical=sorted(record.categories or {}),
                   size_bytes=record.size_bytes, created_at=record.created_at)


@dataclass(frozen=True)
class DatasetPage:
    """One page of uploaded datasets."""

    items: list[Dataset]
    total: int
    limit: int
    offset: int
