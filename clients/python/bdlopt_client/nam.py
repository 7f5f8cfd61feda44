"""Additive-model convenience of :class:`bdlopt_client.Client` (mixed in): run a ``nam`` job, get a report.

Example::

    fit = client.fit_nam("sklearn:diabetes", task="regression", interactions=2)
    print(fit.to_markdown())                      # importances, metrics, interaction ranking
    shape = fit.shape("bmi")                      # grid, mean and 95% band in the data's units
    fit.download_plots(client, "plots/")          # one PNG per feature + importances.png

Uses only the job methods of :class:`~bdlopt_client.jobs.JobsMixin`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import BdloptError

if TYPE_CHECKING:
    from .job_models import Dataset, Job, JobResult


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class NamShape(_Tolerant):
    """One term on a grid: ``grids`` per feature in the data's units (category codes for categorical
    features, whose names are in ``levels``); ``mean`` centred, ``lower``/``upper`` the 95% band
    (nested lists of shape (M_i, M_j) for a pair term)."""

    term: int
    label: str
    features: list[int]
    kind: str
    grids: list[list[float]]
    levels: list[list[str] | None] = Field(default_factory=list)
    mean: list[Any]
    std: list[Any]
    lower: list[Any]
    upper: list[Any]


class NamImportance(_Tolerant):
    """Relevance of one term: learned prior precision (large = shrunk away) and share of the fitted variance."""

    term: int
    label: str
    features: list[int]
    prior_precision: float
    layer_precisions: list[float] = Field(default_factory=list)
    variance: float
    share: float


class NamFit(_Tolerant):
    """The result of a ``nam`` job.

    Attributes:
        job_id: The job.
        metrics: Held-out metrics of the Laplace (``"laplace"``) and point (``"map"``) predictives.
        importances, shapes: One entry per term (features, then added pairs).
        interaction_ranking: ``{"method": ..., "pairs": [{"features", "labels", "score"}, ...]}``.
        added_interactions: Feature pairs added in the second stage.
        artifacts: Artifact names (PNGs, ``nam.safetensors``, ``nam.json``).
    """

    job_id: str
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    log_marginal_likelihood: float | None = None
    sigma_noise: float | None = None
    importances: list[NamImportance] = Field(default_factory=list)
    shapes: list[NamShape] = Field(default_factory=list)
    interaction_ranking: dict[str, Any] = Field(default_factory=dict)
    added_interactions: list[list[int]] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list)

    def shape(self, label: str) -> NamShape:
        """The shape function of the term called ``label`` (a feature name, or ``"a x b"`` for a pair)."""
        for shape in self.shapes:
            if shape.label == label:
                return shape
        raise KeyError(f"no term {label!r}; terms: {[s.label for s in self.shapes]}")

    def to_markdown(self) -> str:
        """Importances (by share of the fitted variance), held-out metrics and the top-ranked pairs."""
        lines = ["| term | share of variance | prior precision |", "|---|---|---|"]
        for imp in sorted(self.importances, key=lambda i: -i.share):
            lines.append(f"| {imp.label} | {imp.share:.3f} | {imp.prior_precision:.3g} |")
        for name, values in self.metrics.items():
            lines.append(f"\n{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
        pairs = self.interaction_ranking.get("pairs", [])[:5]
        if pairs:
            method = self.interaction_ranking.get("method")
            lines.append(f"\ntop pairs ({method}): " + ", ".join(
                f"{' x '.join(p['labels'])} ({p['score']:.3g})" for p in pairs))
        return "\n".join(lines)

    def download_plots(self, client: Any, directory: str | os.PathLike[str]) -> list[Path]:
        """Save every PNG artifact of the job into ``directory`` (created); returns the paths."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        return [client.download_artifact(self.job_id, name, target / name)
                for name in self.artifacts if name.endswith(".png")]


class NamMixin:
    """``fit_nam``: a Laplace-approximated neural additive model through a ``nam`` job."""

    if TYPE_CHECKING:  # provided by JobsMixin
        def submit_job(self, kind: str, dataset: str | Dataset, **kwargs: Any) -> Job: ...
        def wait(self, job: str | Job, progress: bool = True, **kwargs: Any) -> Job: ...
        def result(self, job: str | Job) -> JobResult: ...

    def fit_nam(self, dataset: str | Dataset, *, task: str = "regression", target: str | None = None,
                hidden: Sequence[int] | None = None, activation: str | None = None, interactions: int | None = None,
                ranking: str | None = None, epochs: int | None = None, config: Mapping[str, Any] | None = None,
                device: str = "auto", progress: bool = True, poll_interval: float = 1.0,
                timeout: float | None = None) -> NamFit:
        """Submit a ``nam`` job, wait for it and return its result.

        Args:
            dataset: An uploaded dataset (or its id) or a built-in name such as ``"sklearn:diabetes"``.
            task: ``"regression"`` or ``"classification"`` (binary).
            target: The target column (default: the dataset's last column).
            hidden, activation: Architecture of every feature subnetwork (default: [64], ``"gelu"``).
            interactions: Number of top-ranked feature pairs added as two-input subnetworks.
            ranking: ``"marglik"`` or ``"mutinf"``.
            epochs: Training epochs of the first stage.
            config: Further config fields (``lr``, ``batch_size``, ``interaction_epochs``, ``grid_size``, ...).
            device, progress, poll_interval, timeout: As for :meth:`submit_job` / :meth:`wait`.

        Raises:
            ValidationError: An invalid config (422 naming the field), before the job runs.
            BdloptError: The job failed or was cancelled (its error message is kept).
        """
        fields = {"interactions": interactions, "ranking": ranking, "epochs": epochs}
        body = {**dict(config or {}), **{key: value for key, value in fields.items() if value is not None}}
        model = None
        if hidden is not None or activation is not None:
            model = {"kind": "mlp", "hidden": list(hidden) if hidden is not None else [64],
                     "activation": activation or "gelu"}
        job = self.submit_job("nam", dataset, task=task, model=model, config=body, target=target, device=device)
        done = self.wait(job, progress=progress, poll_interval=poll_interval, timeout=timeout)
        if done.state != "succeeded":
            raise BdloptError(f"nam job {done.id} {done.state}: {done.error or done.message}", code=f"job_{done.state}")
        result = self.result(done)
        return NamFit.model_validate({**result.result, "job_id": done.id,
                                      "artifacts": [a.name for a in result.artifacts] or result.result.get(
                                          "artifacts", [])})
