"""Parsing and validation of uploaded datasets: CSV with a header row, or ``.npz`` with ``X`` and ``y``.

Hand-written on the standard ``csv`` module and numpy rather than pandas: pandas is not a
dependency of the service, and the rules are few (numeric columns unless declared categorical,
no missing or non-finite values, at least two columns) but each failure must name the column,
the row and the value so that the client sees a precise 422.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Collection

import numpy as np

from service.datasets.table import Table
from service.errors import InvalidInputError

#: Most columns an uploaded table may have.
MAX_COLUMNS = 10_000


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError(message, field="file")


def detect_format(filename: str | None, data: bytes) -> str:
    """``"npz"`` for a zip archive (numpy's ``.npz``), else ``"csv"``."""
    if data[:4] == b"PK\x03\x04" or (filename or "").lower().endswith(".npz"):
        return "npz"
    return "csv"


def parse_upload(filename: str | None, data: bytes, categorical: Collection[str] = ()) -> tuple[str, Table]:
    """Parse an uploaded file into a :class:`Table`; returns ``(format, table)``.

    Raises:
        InvalidInputError: the file is empty, malformed, or breaks a validation rule (``field="file"``,
            or ``"categorical"`` for an unknown declared column).
    """
    if not data:
        raise _invalid("the uploaded file is empty")
    fmt = detect_format(filename, data)
    table = parse_npz(data) if fmt == "npz" else parse_csv(data, categorical)
    if fmt == "npz" and categorical:
        raise InvalidInputError("'categorical' applies to CSV uploads only", field="categorical")
    return fmt, table


def parse_csv(data: bytes, categorical: Collection[str] = ()) -> Table:
    """A CSV file with a header row; numeric cells except in the ``categorical`` columns.

    Categorical columns are coded by their sorted distinct values. Every cell must be present
    and every numeric cell finite.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _invalid(f"the CSV file is not UTF-8 text (byte {error.start})") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise _invalid(f"the CSV file is malformed: {error}") from None
    if not rows:
        raise _invalid("the CSV file has no header row")
    header = [name.strip() for name in rows[0]]
    _check_header(header, categorical)
    body = rows[1:]
    if not body:
        raise _invalid("the CSV file has a header but no data rows")
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise _invalid(f"line {number} has {len(row)} fields, the header has {len(header)}")
    cells = np.array(body, dtype=object).reshape(len(body), len(header))
    values = np.empty(cells.shape, dtype=np.float64)
    categories: dict[str, list[str]] = {}
    for j, name in enumerate(header):
        column = [str(cell).strip() for cell in cells[:, j]]
        missing = next((i for i, cell in enumerate(column) if cell == ""), None)
        if missing is not None:
            raise _invalid(f"column '{name}' has a missing value on line {missing + 2}")
        if name in categorical:
            levels = sorted(set(column))
            code = {level: k for k, level in enumerate(levels)}
            values[:, j] = [code[cell] for cell in column]
            categories[name] = levels
        else:
            values[:, j] = _numeric_column(name, column)
    return Table(columns=header, values=values, categories=categories)


def _check_header(header: list[str], categorical: Collection[str]) -> None:
    if len(header) < 2:
        raise _invalid("a dataset needs at least two columns (features and a target)")
    if len(header) > MAX_COLUMNS:
        raise _invalid(f"the file has {len(header)} columns; at most {MAX_COLUMNS} are accepted")
    for position, name in enumerate(header):
        if not name:
            raise _invalid(f"header column {position + 1} has no name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise _invalid(f"duplicate column names in the header: {', '.join(duplicates)}")
    unknown = sorted(set(categorical) - set(header))
    if unknown:
        raise InvalidInputError(f"categorical columns not in the header: {', '.join(unknown)}", field="categorical")


def _numeric_column(name: str, column: list[str]) -> np.ndarray:
    try:
        parsed = np.array(column, dtype=np.float64)
    except ValueError:
        for line, cell in enumerate(column, start=2):
            try:
                float(cell)
            except ValueError:
                raise _invalid(
                    f"column '{name}' has the non-numeric value '{cell[:40]}' on line {line}; "
                    "declare it in 'categorical' if it is a category"
                ) from None
        raise
    bad = np.flatnonzero(~np.isfinite(parsed))
    if bad.size:
        raise _invalid(f"column '{name}' has the non-finite value '{column[bad[0]]}' on line {bad[0] + 2}")
    return parsed


def parse_npz(data: bytes) -> Table:
    """A numpy ``.npz`` archive with ``X`` (N, D) (or (N, *shape), flattened) and ``y`` (N,) or (N, 1).

    A string-typed ``y`` becomes a categorical target; ``X`` must be numeric. Columns are named
    ``x0 .. x{D-1}`` and ``y``.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            names = set(archive.files)
            if not {"X", "y"} <= names:
                raise _invalid(f"the .npz file needs arrays 'X' and 'y'; it has {sorted(names) or 'none'}")
            X, y = archive["X"], archive["y"]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise _invalid(f"the .npz file cannot be read: {error}") from None
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim < 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise _invalid(f"'X' must have shape (N, D) with N, D >= 1; got {X.shape}")
    X = X.reshape(X.shape[0], -1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise _invalid(f"'y' must have shape (N,) with N = {X.shape[0]} rows of 'X'; got {y.shape}")
    if X.shape[1] + 1 > MAX_COLUMNS:
        raise _invalid(f"'X' has {X.shape[1]} features; at most {MAX_COLUMNS - 1} are accepted")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise _invalid(f"'X' must be numeric; got dtype {X.dtype}")
    features = X.astype(np.float64)
    bad = np.argwhere(~np.isfinite(features))
    if bad.size:
        raise _invalid(f"'X' has a non-finite value at row {bad[0][0]}, column {bad[0][1]}")
    columns = [f"x{j}" for j in range(X.shape[1])] + ["y"]
    categories: dict[str, list[str]] = {}
    if y.dtype.kind in ("U", "S"):
        labels = y.astype(str)
        levels = sorted(set(labels.tolist()))
        code = {level: k for k, level in enumerate(levels)}
        target = np.array([code[label] for label in labels], dtype=np.float64)
        categories["y"] = levels
    elif np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_:
        target = y.astype(np.float64)
        bad_rows = np.flatnonzero(~np.isfinite(target))
        if bad_rows.size:
            raise _invalid(f"'y' has a non-finite value at row {bad_rows[0]}")
    else:
        raise _invalid(f"'y' must be numeric or strings; got dtype {y.dtype}")
    return Table(columns=columns, values=np.column_stack([features, target]), categories=categories)
