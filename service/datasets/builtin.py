"""Built-in example datasets addressed by name (``sklearn:digits`` ...), bundled with scikit-learn.

They are read from scikit-learn's package data, so nothing is downloaded. Each becomes a
:class:`Table` whose last column, ``target``, is the default target.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from service.datasets.table import Table


@dataclass(frozen=True)
class BuiltinDataset:
    """Description of one built-in dataset: its name, natural task and the scikit-learn loader."""

    name: str
    task: str
    loader: str
    summary: str


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    item.name: item
    for item in (
        BuiltinDataset("sklearn:digits", "classification", "load_digits", "8x8 images of handwritten digits, 10 classes"),
        BuiltinDataset("sklearn:breast_cancer", "classification", "load_breast_cancer",
                       "Wisconsin breast cancer, 30 features, 2 classes"),
        BuiltinDataset("sklearn:diabetes", "regression", "load_diabetes", "diabetes progression, 10 features"),
        BuiltinDataset("sklearn:wine", "classification", "load_wine", "wine cultivars, 13 features, 3 classes"),
    )
}


def is_builtin(name: str) -> bool:
    """Whether ``name`` addresses a built-in dataset."""
    return name in BUILTIN_DATASETS


@lru_cache(maxsize=len(BUILTIN_DATASETS))
def load_builtin(name: str) -> Table:
    """The built-in dataset ``name`` as a table (features then ``target``); arrays are read-only."""
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, BUILTIN_DATASETS[name].loader)()
    features = np.asarray(bunch.data, dtype=np.float64)
    names = [str(feature) for feature in getattr(bunch, "feature_names", [])]
    if len(names) != features.shape[1]:
        names = [f"x{j}" for j in range(features.shape[1])]
    values = np.column_stack([features, np.asarray(bunch.target, dtype=np.float64)])
    values.setflags(write=False)
    return Table(columns=names + ["target"], values=values)
