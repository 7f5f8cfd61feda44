"""What a job kind's ``run`` function gets: data splits, device, hooks and an artifact writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch

from service.jobs.artifacts import ArtifactWriter
from service.jobs.control import AttemptControl
from service.jobs.data import DataSplits
from service.jobs.model_specs import ModelSpec
from service.jobs.registry import JobConfig


@dataclass
class JobContext:
    """The running attempt as a job kind sees it.

    Attributes:
        job_id, attempt: the job and the attempt number.
        task: ``"regression"`` or ``"classification"``.
        model: the declared network (the default MLP when the request named none).
        model_given: whether the request named a model.
        config: the kind's validated config.
        device, dtype: where and in which precision to compute.
        artifacts: writes the attempt's files.
        control: heartbeat, progress and cancellation (use :meth:`progress` / :meth:`check`).
        info: the job's request fields (dataset, target) for result metadata.
    """

    job_id: str
    attempt: int
    task: str
    model: ModelSpec
    model_given: bool
    config: JobConfig
    device: torch.device
    dtype: torch.dtype
    artifacts: ArtifactWriter
    control: AttemptControl
    load_data: Callable[[], DataSplits]
    info: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def data(self) -> DataSplits:
        """The train/test splits on :attr:`device` (loaded on first use)."""
        return self.load_data()

    def progress(self, fraction: float, message: str | None = None, *, epoch: int | None = None,
                 log_marglik: float | None = None, force: bool = False) -> None:
        """Report progress and stop if cancelled (JobCancelled) or taken over (JobLost)."""
        self.control.progress(fraction, message, epoch=epoch, log_marglik=log_marglik, force=force)

    def check(self) -> None:
        """A cancellation point: raises JobCancelled / JobLost when the attempt must stop."""
        self.control.check()

    def should_stop(self) -> bool:
        """Whether the attempt must stop (for libraries that take a ``should_stop`` callback)."""
        return self.control.should_stop()
