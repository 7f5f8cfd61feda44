"""Dataset response bodies (uploads are multipart forms, see the datasets router)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from service.datasets.views import Dataset


class DatasetOut(BaseModel):
    """A dataset; ``n_features`` counts the columns besides the default (last) target column."""

    id: str
    name: str
    builtin: bool
    format: str
    n_rows: int
    n_features: int
    columns: list[str]
    categorical: list[str]
    size_bytes: int | None
    created_at: datetime | None

    @classmethod
    def of(cls, dataset: Dataset) -> DatasetOut:
        return cls(id=dataset.id, name=dataset.name, builtin=dataset.builtin, format=dataset.format,
                   n_rows=dataset.n_rows, n_features=dataset.n_features, columns=dataset.columns,
                   categorical=dataset.categorical, size_bytes=dataset.size_bytes, created_at=dataset.created_at)
