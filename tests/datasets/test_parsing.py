"""Parsing and validation of uploads, and the built-in datasets."""

from __future__ import annotations

import io

import numpy as np
import pytest

from service.datasets import storage
from service.datasets.builtin import BUILTIN_DATASETS, load_builtin
from service.datasets.parsing import parse_upload
from service.errors import InvalidInputError


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_csv_with_categorical_columns_is_coded_by_sorted_levels() -> None:
    data = "\ufeffsize, colour ,price\n1.5,red,10\n2,blue,12.5\n3e0,red,-1\n".encode()
    fmt, table = parse_upload("x.csv", data, categorical=["colour"])
    assert fmt == "csv" and table.columns == ["size", "colour", "price"]
    np.testing.assert_array_equal(table.values, [[1.5, 1, 10], [2, 0, 12.5], [3, 1, -1]])
    assert table.categories == {"colour": ["blue", "red"]}


@pytest.mark.parametrize(
    ("data", "categorical", "fragment"),
    [
        (b"", (), "empty"),
        (b"a,b\n", (), "no data rows"),
        (b"a\n1\n", (), "at least two columns"),
        (b"a,a\n1,2\n", (), "duplicate column names in the header: a"),
        (b"a,\n1,2\n", (), "header column 2 has no name"),
        (b"a,b\n1,2\n3\n", (), "line 3 has 1 fields"),
        (b"a,b\n1,2\n3,x\n", (), "column 'b' has the non-numeric value 'x' on line 3; declare it in 'categorical'"),
        (b"a,b\n1,\n", (), "column 'b' has a missing value on line 2"),
        (b"a,b\n1,nan\n", (), "column 'b' has the non-finite value 'nan' on line 2"),
        (b"a,b\n1,inf\n", (), "non-finite"),
        (b"a,b\n1,2\n", ("c",), "categorical columns not in the header: c"),
        (b"\xff\xfea,b\n", (), "not UTF-8"),
    ],
)
def test_invalid_csv_files_name_the_problem(data: bytes, categorical: tuple, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_upload("x.csv", data, categorical)
    assert fragment in error.value.message


def test_npz_with_numeric_and_string_targets() -> None:
    fmt, table = parse_upload("d.npz", _npz(X=np.arange(8).reshape(4, 2), y=np.array([0.5, 1, 2, 3])))
    assert fmt == "npz" and table.columns == ["x0", "x1", "y"] and table.values.shape == (4, 3)
    _, labelled = parse_upload(None, _npz(X=np.ones((3, 1, 2, 2)), y=np.array(["b", "a", "b"])))
    assert labelled.columns == ["x0", "x1", "x2", "x3", "y"] and labelled.categories == {"y": ["a", "b"]}
    np.testing.assert_array_equal(labelled.values[:, -1], [1, 0, 1])


@pytest.mark.parametrize(
    ("arrays", "fragment"),
    [
        ({"X": np.ones((3, 2))}, "needs arrays 'X' and 'y'"),
        ({"X": np.ones((3, 2)), "y": np.ones(4)}, "'y' must have shape (N,) with N = 3"),
        ({"X": np.array([[1.0, np.nan]]), "y": np.ones(1)}, "'X' has a non-finite value at row 0, column 1"),
        ({"X": np.ones((2, 2)), "y": np.array([1.0, np.nan])}, "'y' has a non-finite value at row 1"),
        ({"X": np.array([["a", "b"]]), "y": np.ones(1)}, "'X' must be numeric"),
    ],
)
def test_invalid_npz_files_name_the_problem(arrays: dict, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_upload("d.npz", _npz(**arrays))
    assert fragment in error.value.message


def test_a_broken_zip_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="cannot be read"):
        parse_upload("d.npz", b"PK\x03\x04 not really a zip")


def test_storage_round_trip(tmp_path) -> None:
    _, table = parse_upload("x.csv", b"a,c\n1,x\n2,y\n", categorical=["c"])
    path = storage.save_table(tmp_path, "abc", table)
    again = storage.load_table(path)
    assert again.columns == table.columns and again.categories == table.categories
    np.testing.assert_array_equal(again.values, table.values)


@pytest.mark.parametrize("name", sorted(BUILTIN_DATASETS))
def test_builtin_datasets_end_with_the_target(name: str) -> None:
    table = load_builtin(name)
    assert table.columns[-1] == "target" and table.n_rows > 100 and np.isfinite(table.values).all()
    expected_rows = {"sklearn:digits": 1797, "sklearn:breast_cancer": 569, "sklearn:diabetes": 442, "sklearn:wine": 178}
    assert table.n_rows == expected_rows[name]
