"""Files of uploaded datasets: one ``.npz`` per dataset under the datasets directory.

Files are written to a temporary name and renamed into place, so a reader (a worker on another
process or node sharing the directory) never sees half a file.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from service.datasets.table import Table


def dataset_path(directory: Path, dataset_id: str) -> Path:
    """The file of dataset ``dataset_id``."""
    return directory / f"{dataset_id}.npz"


def save_table(directory: Path, dataset_id: str, table: Table) -> Path:
    """Write ``table`` atomically; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = dataset_path(directory, dataset_id)
    buffer = io.BytesIO()
    np.savez(buffer, values=table.values, columns=np.array(table.columns, dtype=str),
             categories=np.array(json.dumps(table.categories)))
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(buffer.getvalue())
    os.replace(temporary, path)
    return path


def load_table(path: Path) -> Table:
    """Read a table written by :func:`save_table`."""
    with np.load(path, allow_pickle=False) as archive:
        return Table(
            columns=[str(name) for name in archive["columns"].tolist()],
            values=archive["values"],
            categories=json.loads(str(archive["categories"])),
        )


def delete_table(path: Path) -> None:
    """Remove a dataset file (no error when it is already gone)."""
    path.unlink(missing_ok=True)
