"""What a kind's submission check may ask about the request: its task, target, dataset and model.

Counting the classes of a target reads the dataset, so :class:`TargetFacts` loads the table on the
first call of :meth:`TargetFacts.n_classes` (only kinds with a ``check`` ever trigger it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.datasets.table import Table


@dataclass
class TargetFacts:
    """The task and target column of a submitted job.

    Attributes:
        task: ``"regression"`` or ``"classification"``.
        target: The target column.
        load_table: Returns the dataset's table.
        dataset: The dataset's description (columns, categorical columns), or None.
        model: The request's model specification, or None when the request gives none.
    """

    task: str
    target: str
    load_table: Callable[[], Table]
    dataset: Any = None
    model: Any = None
    _classes: int | None = field(default=None, repr=False)

    def n_classes(self) -> int:
        """Distinct values of the target column."""
        if self._classes is None:
            self._classes = int(np.unique(self.load_table().column(self.target)).size)
        return self._classes
