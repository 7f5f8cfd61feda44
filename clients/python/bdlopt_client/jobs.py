"""Job and dataset methods of :class:`bdlopt_client.Client` (mixed in), e.g.::

    job = client.submit_job("marglik", "sklearn:digits", task="classification")
    job = client.wait(job)                       # tqdm bar fed by the job's progress
    result = client.result(job)
    client.download_artifact(job, "weights.safetensors", "weights.safetensors")

Uploads (multipart) and downloads (streamed) go through the transport's ``httpx.Client`` directly,
since :class:`~bdlopt_client.transport.ApiTransport` sends JSON; errors are mapped to the same typed
exceptions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from tqdm.auto import tqdm

from .errors import BdloptConnectionError, error_from_response
from .job_models import Dataset, Job, JobPage, JobPrediction, JobResult

if TYPE_CHECKING:
    from .transport import ApiTransport


def _job_id(job: str | Job) -> str:
    return job if isinstance(job, str) else job.id


def _job_path(job: str | Job) -> str:
    return "/v1/jobs/" + quote(_job_id(job), safe="")


class JobsMixin:
    """Datasets and background jobs (``/v1/datasets``, ``/v1/jobs``)."""

    _transport: ApiTransport

    # ------------------------------------------------------------------ datasets
    def upload_dataset(self, file: str | os.PathLike[str] | bytes | IO[bytes], *, filename: str | None = None,
                       categorical: Sequence[str] = ()) -> Dataset:
        """Upload a CSV (header row) or ``.npz`` (arrays ``X`` (N, D), ``y`` (N,)) dataset (``POST /v1/datasets``).

        Args:
            file: a path, the file's bytes, or a binary file object.
            filename: the name sent with the file (default: the path's name, else ``data.csv``).
            categorical: CSV columns holding categories rather than numbers.
        """
        if isinstance(file, (str, os.PathLike)):
            path = Path(file)
            content: bytes | IO[bytes] = path.read_bytes()
            filename = filename or path.name
        else:
            content = file
            filename = filename or getattr(file, "name", None) or "data.csv"
        data = {"categorical": ",".join(categorical)} if categorical else None
        response = self._send("POST", "/v1/datasets", files={"file": (os.path.basename(str(filename)), content)},
                              data=data)
        return Dataset.model_validate(response.json())

    def dataset(self, dataset_id: str) -> Dataset:
        """An uploaded dataset, or a built-in one by name such as ``sklearn:digits`` (``GET /v1/datasets/{id}``)."""
        response = self._transport.request("GET", "/v1/datasets/" + quote(dataset_id, safe=""), idempotent=True)
        return Dataset.model_validate(response.json())

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete an uploaded dataset (``DELETE /v1/datasets/{id}``)."""
        self._transport.request("DELETE", "/v1/datasets/" + quote(dataset_id, safe=""), idempotent=True)

    # ------------------------------------------------------------------ jobs
    def submit_job(self, kind: str, dataset: str | Dataset, *, task: str, model: Mapping[str, Any] | None = None,
                   config: Mapping[str, Any] | None = None, target: str | None = None, device: str = "auto") -> Job:
        """Queue a job (``POST /v1/jobs``); returns it in state ``queued``.

        Args:
            kind: ``"laplace"`` or ``"marglik"`` (or a kind a plugin registered).
            dataset: an uploaded dataset (or its id) or a built-in name such as ``"sklearn:digits"``.
            task: ``"regression"`` or ``"classification"``.
            model: a declared network, e.g. ``{"kind": "mlp", "hidden": [50, 50]}``; default: the server's MLP.
            config: kind-specific settings; every field has a default.
            target: the target column (default: the dataset's last column).
            device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (CUDA jobs run on GPU workers).
        """
        body: dict[str, Any] = {"kind": kind, "dataset": dataset if isinstance(dataset, str) else dataset.id,
                                "task": task, "config": dict(config or {}), "device": device}
        if model is not None:
            body["model"] = dict(model)
        if target is not None:
            body["target"] = target
        response = self._transport.request("POST", "/v1/jobs", json=body, idempotent=False)
        return Job.model_validate(response.json())

    def job(self, job: str | Job) -> Job:
        """The job's current state and progress (``GET /v1/jobs/{id}``)."""
        response = self._transport.request("GET", _job_path(job), idempotent=True)
        return Job.model_validate(response.json())

    def jobs(self, state: str | None = None, kind: str | None = None, limit: int = 50, offset: int = 0) -> JobPage:
        """One page of jobs, newest first (``GET /v1/jobs``)."""
        response = self._transport.request("GET", "/v1/jobs", idempotent=True,
                                           params={"state": state, "kind": kind, "limit": limit, "offset": offset})
        return JobPage.model_validate(response.json())

    def cancel(self, job: str | Job) -> Job:
        """Cancel a queued or running job (``POST /v1/jobs/{id}/cancel``); a running one stops at its next check."""
        response = self._transport.request("POST", _job_path(job) + "/cancel", idempotent=False)
        return Job.model_validate(response.json())

    def result(self, job: str | Job) -> JobResult:
        """The result of a succeeded job (``GET /v1/jobs/{id}/result``); ConflictError otherwise."""
        response = self._transport.request("GET", _job_path(job) + "/result", idempotent=True)
        return JobResult.model_validate(response.json())

    def predict_job(self, job: str | Job, rows: Sequence[Sequence[float]], *, observation_noise: bool = True,
                    link: str = "probit") -> JobPrediction:
        """Predictions with uncertainty from a succeeded ``laplace``/``marglik`` job's posterior
        (``POST /v1/jobs/{id}/predict``).

        Args:
            job: the job or its id.
            rows: raw feature values, one sequence per row, in the job's ``feature_names`` order.
            observation_noise: regression: include the noise in ``std``.
            link: classification: ``"probit"`` or ``"mc"``.
        """
        body = {"rows": [list(map(float, row)) for row in rows], "observation_noise": observation_noise, "link": link}
        response = self._transport.request("POST", _job_path(job) + "/predict", json=body, idempotent=True)
        return JobPrediction.model_validate(response.json())

    def wait(self, job: str | Job, progress: bool = True, *, poll_interval: float = 1.0,
             timeout: float | None = None) -> Job:
        """Poll the job until it is succeeded, failed or cancelled, and return it.

        Args:
            job: the job or its id.
            progress: show a tqdm bar (0-100 %) fed by the job's progress, with its epoch and
                log marginal likelihood.
            poll_interval: seconds between polls.
            timeout: raise TimeoutError after this many seconds (None: wait as long as it takes).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        current = self.job(job)
        with tqdm(total=100.0, disable=not progress, desc=f"{current.kind} {current.id[:8]}", unit="%",
                  bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}% [{elapsed}<{remaining}{postfix}]") as bar:
            while True:
                _show(bar, current)
                if current.finished:
                    return current
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"job {current.id} is still {current.state} after {timeout} s")
                time.sleep(poll_interval)
                current = self.job(current.id)

    def download_artifact(self, job: str | Job, name: str, path: str | os.PathLike[str] | None = None
                          ) -> Path | bytes:
        """Download an artifact of a succeeded job (``GET /v1/jobs/{id}/artifacts/{name}``), streamed.

        Returns:
            The path written when ``path`` is given, else the file's bytes.
        """
        url = self._transport.url_prefix + _job_path(job) + "/artifacts/" + quote(name, safe="")
        headers = {key: value for key, value in self._transport.headers.items() if key != "Accept"}
        try:
            with self._transport.http.stream("GET", url, headers=headers) as response:
                if not response.is_success:
                    response.read()
                    raise error_from_response(response)
                if path is None:
                    return response.read()
                target = Path(path)
                partial = target.with_name(target.name + ".part")
                with partial.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                partial.replace(target)
                return target
        except httpx.TransportError as error:
            raise BdloptConnectionError(f"GET {url} failed: {type(error).__name__}: {error}",
                                        code="connection_error") from error

    # ------------------------------------------------------------------ internals
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One non-JSON request (multipart upload), never retried; typed errors as for JSON calls."""
        url = self._transport.url_prefix + path
        try:
            response = self._transport.http.request(method, url, headers=self._transport.headers, **kwargs)
        except httpx.TransportError as error:
            raise BdloptConnectionError(f"{method} {url} failed: {type(error).__name__}: {error} (not retried)",
                                        code="connection_error") from error
        if not response.is_success:
            raise error_from_response(response)
        return response


def _show(bar: tqdm, job: Job) -> None:
    """Move the bar to the job's progress and show its state, epoch and log marginal likelihood."""
    bar.n = round(100.0 * min(max(job.progress, 0.0), 1.0), 1)
    postfix: dict[str, Any] = {"state": job.state}
    if job.epoch is not None:
        postfix["epoch"] = job.epoch
    if job.log_marglik is not None:
        postfix["log_marglik"] = f"{job.log_marglik:.4g}"
    bar.set_postfix(postfix, refresh=False)
    bar.refresh()
