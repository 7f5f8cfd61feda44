"""Train/test splits of a dataset for a job, as tensors on the job's device.

Categorical features are one-hot encoded and numeric ones standardised with the training
statistics. Classification targets become class indices 0..K-1; regression targets are
standardised (``y_mean``, ``y_std`` undo it, so metrics are reported in the data's units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from service.datasets.table import Table

#: Most classes a classification target may have.
MAX_CLASSES = 1000


@dataclass(frozen=True)
class DataSplits:
    """Held-out split of one dataset.

    Attributes:
        x_train: (N, D) standardised features; x_test: (M, D).
        y_train: (N,) class indices (long) or (N, 1) standardised regression targets; y_test likewise.
        feature_names: the D input names (one-hot columns named ``column=level``).
        classes: the class labels in index order (classification), else None.
        x_mean, x_std: (D,) the standardisation of the inputs (for saved metadata).
        y_mean, y_std: the standardisation of a regression target (0 and 1 for classification).
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    feature_names: list[str]
    classes: list[str] | None
    x_mean: list[float]
    x_std: list[float]
    y_mean: float = 0.0
    y_std: float = 1.0

    @property
    def n_features(self) -> int:
        """D, the input width."""
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """C: the number of classes, or 1 for regression."""
        return len(self.classes) if self.classes is not None else 1


def make_splits(table: Table, target: str, task: str, *, test_fraction: float, seed: int, dtype: torch.dtype,
                device: torch.device | str) -> DataSplits:
    """Split ``table`` into shuffled train and test parts (at least one row each).

    Raises:
        ValueError: unknown target, too few rows, or a classification target that is neither
            categorical nor integer-valued.
    """
    if target not in table.columns:
        raise ValueError(f"target column '{target}' is not in the dataset")
    if table.n_rows < 2:
        raise ValueError("the dataset needs at least two rows to hold out a test split")
    generator = np.random.default_rng(seed)
    order = generator.permutation(table.n_rows)
    n_test = min(max(1, int(round(test_fraction * table.n_rows))), table.n_rows - 1)
    test_rows, train_rows = order[:n_test], order[n_test:]
    features, names = _encode_features(table, target)
    x_mean = features[train_rows].mean(axis=0)
    x_std = features[train_rows].std(axis=0)
    x_std = np.where(x_std > 0, x_std, 1.0)
    scaled = (features - x_mean) / x_std
    y = table.column(target)
    as_tensor = lambda array: torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)  # noqa: E731
    common = dict(x_train=as_tensor(scaled[train_rows]), x_test=as_tensor(scaled[test_rows]), feature_names=names,
                  x_mean=x_mean.tolist(), x_std=x_std.tolist())
    if task == "classification":
        labels, classes = _class_indices(table, target, y)
        to_long = lambda array: torch.as_tensor(array, dtype=torch.long, device=device)  # noqa: E731
        return DataSplits(y_train=to_long(labels[train_rows]), y_test=to_long(labels[test_rows]), classes=classes,
                          **common)
    y_mean = float(y[train_rows].mean())
    y_std = float(y[train_rows].std()) or 1.0
    standard = ((y - y_mean) / y_std).reshape(-1, 1)
    return DataSplits(y_train=as_tensor(standard[train_rows]), y_test=as_tensor(standard[test_rows]), classes=None,
                      y_mean=y_mean, y_std=y_std, **common)


def _encode_features(table: Table, target: str) -> tuple[np.ndarray, list[str]]:
    blocks, names = [], []
    for j, name in enumerate(table.columns):
        if name == target:
            continue
        column = table.values[:, j]
        if name in table.categories:
            levels = table.categories[name]
            blocks.append(np.eye(len(levels))[column.astype(int)])
            names += [f"{name}={level}" for level in levels]
        else:
            blocks.append(column.reshape(-1, 1))
            names.append(name)
    if not blocks:
        raise ValueError("the dataset has no feature columns besides the target")
    return np.concatenate(blocks, axis=1), names


def _class_indices(table: Table, target: str, y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    if target not in table.categories and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(f"classification needs a categorical or integer-valued target; '{target}' has fractions")
    values, indices = np.unique(y, return_inverse=True)
    if values.size > MAX_CLASSES:
        raise ValueError(f"target '{target}' has {values.size} classes; at most {MAX_CLASSES} are supported")
    if values.size < 2:
        raise ValueError(f"target '{target}' has a single class")
    if target in table.categories:
        levels = table.categories[target]
        return indices, [levels[int(value)] for value in values]
    return indices, [str(int(value)) for value in values]
