"""Pruning convenience of :class:`bdlopt_client.Client` (mixed in): run ``prune`` jobs, get one report.

Example::

    report = client.prune("sklearn:digits", model={"kind": "mlp", "hidden": [256, 256]},
                          training=["map", "marglik"], sparsities=[0.5, 0.9, 0.95])
    print(report.to_markdown())              # accuracy per criterion x sparsity x training
    sparsity, accuracy = report.curve("opd", training="marglik")

One ``prune`` job runs per training (``config.baseline``); their tables are merged. Uses only the
job methods of :class:`~bdlopt_client.jobs.JobsMixin`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import BdloptError

if TYPE_CHECKING:
    from .job_models import Dataset, Job, JobResult


class PruningReport(BaseModel):
    """Merged results of ``prune`` jobs, one per training.

    Attributes:
        metric: ``"accuracy"`` (classification) or ``"rmse"`` (regression).
        jobs: job id per training (``"map"`` / ``"marglik"``).
        rows: one row per training x criterion x sparsity: ``training``, ``criterion``, ``sparsity``,
            ``parameter_sparsity``, ``n_params``, ``n_nonzero``, ``flops_dense``, ``flops_sparse`` and
            the held-out metrics.
        log_marginal_likelihood: of each trained (unpruned) network, per training.
        dense: held-out metrics and counts of each unpruned network, per training.
        artifacts: artifact names per training (``curves.png``, ``pruned-<criterion>...``).
    """

    model_config = ConfigDict(extra="allow")

    metric: str
    jobs: dict[str, str] = Field(default_factory=dict)
    rows: list[dict[str, Any]] = Field(default_factory=list)
    log_marginal_likelihood: dict[str, float | None] = Field(default_factory=dict)
    dense: dict[str, dict[str, Any]] = Field(default_factory=dict)
    artifacts: dict[str, list[str]] = Field(default_factory=dict)

    def curve(self, criterion: str, training: str | None = None) -> tuple[list[float], list[float]]:
        """(sparsities, metric values) of one criterion (and training; default: the only one)."""
        if training is None:
            if len(self.jobs) != 1:
                raise ValueError(f"several trainings {sorted(self.jobs)}: pass training=")
            training = next(iter(self.jobs))
        points = sorted((r["sparsity"], r[self.metric]) for r in self.rows
                        if r["criterion"] == criterion and r["training"] == training)
        return [p[0] for p in points], [p[1] for p in points]

    def to_markdown(self) -> str:
        """The metric as a markdown table: one line per training + criterion, one column per sparsity."""
        sparsities = sorted({r["sparsity"] for r in self.rows})
        lines = ["| training + criterion | " + " | ".join(f"{s:.0%}" for s in sparsities) + " |",
                 "|---|" + "---|" * len(sparsities)]
        keys = list(dict.fromkeys((r["training"], r["criterion"]) for r in self.rows))
        for training, criterion in keys:
            values = {r["sparsity"]: r[self.metric] for r in self.rows
                      if (r["training"], r["criterion"]) == (training, criterion)}
            cells = [f"{values[s]:.4g}" if s in values else "" for s in sparsities]
            lines.append(f"| {training} + {criterion} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


class PruningMixin:
    """``prune``: SpaM accuracy-versus-sparsity curves through ``prune`` jobs."""

    if TYPE_CHECKING:  # provided by JobsMixin
        def submit_job(self, kind: str, dataset: str | Dataset, **kwargs: Any) -> Job: ...
        def wait(self, job: str | Job, progress: bool = True, **kwargs: Any) -> Job: ...
        def result(self, job: str | Job) -> JobResult: ...

    def prune(self, dataset: str | Dataset, *, task: str = "classification",
              model: Mapping[str, Any] | None = None, training: str | Sequence[str] = "marglik",
              prior: str | None = None, structure: str | None = None, criteria: Sequence[str] | None = None,
              sparsities: Sequence[float] | None = None, structured: bool | None = None,
              finetune_epochs: int | None = None, config: Mapping[str, Any] | None = None,
              target: str | None = None, device: str = "auto", progress: bool = True,
              poll_interval: float = 1.0, timeout: float | None = None) -> PruningReport:
        """Submit one ``prune`` job per training, wait for all, and merge their results.

        Args:
            dataset: an uploaded dataset (or its id) or a built-in name such as ``"sklearn:digits"``.
            task: ``"classification"`` or ``"regression"``.
            model: the declared network (default: the server's MLP).
            training: ``"marglik"`` (online marginal likelihood with ``prior``, SpaM), ``"map"``
                (weight decay), or a list of both to compare them.
            prior, structure, criteria, sparsities, structured, finetune_epochs: the job's config
                fields (None: the server's default).
            config: further config fields (``epochs``, ``lr``, ``export_sparsity``, ...).
            target, device: as for :meth:`submit_job`.
            progress, poll_interval, timeout: as for :meth:`wait` (per job).

        Raises:
            ValidationError: an invalid config (422 naming the field), before any job runs.
            BdloptError: a job failed or was cancelled (its error message is kept).
        """
        trainings = [training] if isinstance(training, str) else list(dict.fromkeys(training))
        if not trainings:
            raise ValueError("training must name at least one of 'map', 'marglik'")
        fields = {"prior": prior, "structure": structure, "criteria": list(criteria) if criteria else None,
                  "sparsities": list(sparsities) if sparsities else None, "structured": structured,
                  "finetune_epochs": finetune_epochs}
        base = {**dict(config or {}), **{key: value for key, value in fields.items() if value is not None}}
        jobs = [self.submit_job("prune", dataset, task=task, model=model, config={**base, "baseline": name},
                                target=target, device=device) for name in trainings]
        report: PruningReport | None = None
        for name, job in zip(trainings, jobs):
            done = self.wait(job, progress=progress, poll_interval=poll_interval, timeout=timeout)
            if done.state != "succeeded":
                raise BdloptError(f"prune job {done.id} ({name}) {done.state}: {done.error or done.message}",
                                  code=f"job_{done.state}")
            outcome = self.result(done)
            result = outcome.result
            if report is None:
                report = PruningReport(metric=result.get("metric", "accuracy"))
            report.jobs[name] = done.id
            report.rows += [{**row, "training": name} for row in result.get("table", [])]
            report.log_marginal_likelihood[name] = result.get("log_marginal_likelihood")
            report.dense[name] = result.get("dense", {})
            report.artifacts[name] = [artifact.name for artifact in outcome.artifacts]
        return report  # type: ignore[return-value]
