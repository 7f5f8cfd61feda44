"""The bdlopt Python client: one method per REST endpoint of the OpenAPI document (openapi/openapi.json), plus :meth:`Client.optimize`.

Example::

    from bdlopt_client import Client  # or, on a server install: from service.sdk import Client

    with Client("http://127.0.0.1:8000", api_key="...") as client:
        study = client.create_study("demo", [{"name": "x", "type": "float", "low": -2.0, "high": 2.0}],
                                    objective="loss")
        best = client.optimize(lambda p: (p["x"] - 0.3) ** 2, study, n_trials=20)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
import pydantic

from .constraint_strings import as_constraint
from .errors import BdloptError, ConflictError, NotFoundError
from .wire import (
    as_plain_dict,
    finite_number,
    object_id,
    parse_body,
    plain_value,
    response_json,
    study_path,
    trial_path,
)
from .export import ExportMixin
from .jobs import JobsMixin
from .models import Objective, Prediction, Study, StudyPage, Trial, TrialPage
from .nam import NamMixin
from .optimize import Callback, run_optimization
from .pruning import PruningMixin
from .report_result import ReportResult
from .transport import ApiTransport, RetryPolicy

_Model = TypeVar("_Model", bound=pydantic.BaseModel)

#: Environment variable read when no ``api_key`` is passed.
API_KEY_ENV = "BDLOPT_API_KEY"
#: Page size used by :meth:`Client.trials` when following pagination.
TRIALS_PAGE_SIZE = 100
#: Most points per ``predict`` request (the OpenAPI document); longer lists are sent in chunks.
MAX_PREDICT_POINTS = 1000


class Client(JobsMixin, PruningMixin, NamMixin, ExportMixin):
    """Synchronous client of a bdlopt server.

    Args:
        base_url: the server's root URL (a path prefix is kept: ``http://host/bdlopt``).
        api_key: sent as ``Authorization: Bearer <key>``; defaults to the ``BDLOPT_API_KEY`` environment
            variable; no header when neither is set.
        timeout: seconds for each HTTP exchange (only for the client this class creates).
        retries: the most retries per call (see :mod:`bdlopt_client.transport` for which calls are retried);
            ``None``: as many as ``retry_deadline`` allows.
        retry_deadline: seconds after a call's first attempt past which it is not retried any more
            (the default rides out a server restart).
        http_client: an existing ``httpx.Client`` to send requests with, e.g. starlette's ``TestClient``
            for in-process tests. If it has a ``base_url``, paths are resolved against it and ``base_url``
            is ignored; otherwise ``base_url`` is prepended. It is not closed by :meth:`close`.
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None, *,
                 timeout: float = 60.0, retries: int | None = None, retry_deadline: float = 120.0,
                 http_client: httpx.Client | None = None) -> None:
        if api_key is None:
            api_key = os.environ.get(API_KEY_ENV) or None
        if http_client is None:
            http = httpx.Client(base_url=base_url, timeout=timeout)
            prefix, owns = "", True
        else:
            http = http_client
            prefix, owns = ("" if str(http_client.base_url) else base_url), False
        self.base_url = str(http.base_url) if not prefix else prefix
        self._transport = ApiTransport(http, url_prefix=prefix, api_key=api_key, policy=RetryPolicy(retries=retries, deadline_s=retry_deadline),
                                       owns_client=owns)
        self._studies: dict[str, Study] = {}

    # ------------------------------------------------------------------ studies
    def create_study(self, name: str, parameters: Sequence[Mapping[str, Any]],
                     objectives: Sequence[Mapping[str, Any] | Objective] | None = None, *,
                     objective: str | None = None, goal: str = "minimize", surrogate: str = "gp",
                     initial_design_size: int | None = None, seed: int | None = None,
                     lease_seconds: int | None = None, surrogate_options: Mapping[str, Any] | None = None,
                     outcome_constraints: Sequence[str | Mapping[str, Any]] | None = None,
                     parameter_constraints: Sequence[str | Mapping[str, Any]] | None = None,
                     early_stopping: Mapping[str, Any] | None = None,
                     load_if_exists: bool = False) -> Study:
        """Create a study (``POST /v1/studies``), or resume the existing one of that name.

        Args:
            name: the study's name, unique among your studies.
            parameters: the search space, one dict per parameter (the OpenAPI document).
            objectives: ``[{"name": ..., "goal": "minimize"|"maximize"}, ...]``. When omitted, a single
                objective named ``objective`` (default ``"value"``) with ``goal`` is used.
            objective, goal: the single-objective shorthand.
            surrogate, initial_design_size, seed, lease_seconds, surrogate_options: as in the OpenAPI document;
                ``None`` leaves the server's default.
            outcome_constraints: ``"latency <= 0.2"`` strings or ``{"metric", "op", "bound"}`` dicts;
                a constrained metric that is not an objective must be in every observation.
            parameter_constraints: ``"x + 2*y <= 3"`` strings or ``{"coefficients", "op", "bound"}`` dicts
                (float and int parameters without log scale).
            early_stopping: ``{"policy": "none"|"median"|"percentile"|"successive_halving"|"model",
                "min_steps": ..., ...}``; ``None``: no early stopping.
            load_if_exists: when you already have a study of that name and this call describes it,
                return it instead of raising ConflictError.

        Raises:
            ConflictError: the name is taken (without ``load_if_exists``), or taken by a study that
                differs from this call (the message names the difference).
        """
        if objectives is not None and objective is not None:
            raise ValueError("pass either objectives=[...] or objective=<name>, not both")
        if objectives is None:
            objectives_body = [{"name": objective or "value", "goal": goal}]
        else:
            objectives_body = [as_plain_dict(item) for item in objectives]
        body: dict[str, Any] = {
            "name": name,
            "parameters": [as_plain_dict(parameter) for parameter in parameters],
            "objectives": objectives_body,
            "surrogate": surrogate,
        }
        optional = {"initial_design_size": initial_design_size, "seed": seed, "lease_seconds": lease_seconds,
                    "surrogate_options": dict(surrogate_options) if surrogate_options is not None else None,
                    "outcome_constraints": None if outcome_constraints is None else
                    [as_constraint(c, outcome=True) for c in outcome_constraints],
                    "parameter_constraints": None if parameter_constraints is None else
                    [as_constraint(c, outcome=False) for c in parameter_constraints],
                    "early_stopping": dict(early_stopping) if early_stopping is not None else None}
        body.update({key: value for key, value in optional.items() if value is not None})
        # With load_if_exists a repeat is harmless (the server answers the existing study), so it is retried.
        response = self._transport.request("POST", "/v1/studies", json=body, idempotent=load_if_exists)
        study = parse_body(Study, response, response_json(response))
        if response.status_code == 200 and not load_if_exists:
            raise ConflictError(f"a study named '{name}' already exists (id {study.id}); "
                                "pass load_if_exists=True to resume it", status_code=409, code="conflict")
        return self._remember(study)

    def get_study_by_name(self, name: str) -> Study:
        """Your study called ``name`` (``GET /v1/studies?name=``); raises NotFoundError when there is none."""
        response = self._transport.request("GET", "/v1/studies", params={"name": name, "limit": 1}, idempotent=True)
        page = parse_body(StudyPage, response, response_json(response))
        if not page.items:
            raise NotFoundError(f"no study named '{name}'", status_code=404, code="not_found")
        return self._remember(page.items[0])

    def get_study(self, study_id: str | Study) -> Study:
        """Fetch a study (``GET /v1/studies/{id}``) and refresh the cached copy."""
        response = self._transport.request("GET", study_path(study_id), idempotent=True)
        return self._remember(parse_body(Study, response, response_json(response)))

    def list_studies(self, limit: int = 50, offset: int = 0) -> StudyPage:
        """One page of studies (``GET /v1/studies?limit=&offset=``)."""
        response = self._transport.request("GET", "/v1/studies", params={"limit": limit, "offset": offset},
                                           idempotent=True)
        page = parse_body(StudyPage, response, response_json(response))
        for study in page.items:
            self._remember(study)
        return page

    def delete_study(self, study_id: str | Study) -> None:
        """Delete a study and its trials (``DELETE /v1/studies/{id}``)."""
        self._transport.request("DELETE", study_path(study_id), idempotent=True)
        self._studies.pop(object_id(study_id), None)

    # ------------------------------------------------------------------ trials
    def suggest(self, study_id: str | Study, count: int = 1, client_id: str | None = None,
                fixed: Mapping[str, Any] | None = None) -> list[Trial]:
        """Ask for ``count`` pending trials (``POST .../suggest``); returns a list of length <= count.

        With a ``client_id`` that still holds pending trials, the server returns those instead of new
        ones; such a call is therefore retried after an ambiguous connection failure. ``fixed`` holds
        some parameters at the given values in every point of this call; enqueued points
        (:meth:`enqueue`) are handed out first.
        """
        body: dict[str, Any] = {"count": count}
        if client_id is not None:
            body["client_id"] = client_id
        if fixed is not None:
            body["fixed"] = {key: plain_value(value) for key, value in dict(fixed).items()}
        response = self._transport.request("POST", study_path(study_id) + "/suggest", json=body,
                                           idempotent=client_id is not None)
        payload = response_json(response)
        items = payload.get("trials", []) if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise BdloptError("unexpected suggest response: no list of trials", status_code=response.status_code,
                              code="invalid_response", response_body=payload)
        return [parse_body(Trial, response, item) for item in items]

    def observe(self, study_id: str | Study, trial_id: str | Trial | None = None,
                values: float | Mapping[str, float] | None = None, *, params: Mapping[str, Any] | None = None,
                noise_sd: float | Mapping[str, float] | None = None) -> Trial:
        """Report the objective value(s) of a suggested trial, or of an external point (``POST .../observe``).

        For a trial id the call is idempotent (the server answers a repeat with identical values
        like the first call) and is retried after ambiguous connection failures; an external point is not.

        Args:
            trial_id: the suggested trial (exclusive with ``params``).
            values: ``{objective: value}``, or a float for a single-objective study.
            params: the parameters of an externally evaluated point (exclusive with ``trial_id``).
            noise_sd: known observation noise, same forms as ``values``.
        """
        if (trial_id is None) == (params is None):
            raise ValueError("observe needs exactly one of trial_id and params")
        if values is None:
            raise ValueError("observe needs values")
        body: dict[str, Any] = {"values": self._objective_map(study_id, values, "values")}
        if trial_id is not None:
            body["trial_id"] = object_id(trial_id)
        else:
            body["params"] = {key: plain_value(value) for key, value in dict(params or {}).items()}
        if noise_sd is not None:
            body["noise_sd"] = self._objective_map(study_id, noise_sd, "noise_sd")
        response = self._transport.request("POST", study_path(study_id) + "/observe", json=body,
                                           idempotent=trial_id is not None)
        return parse_body(Trial, response, response_json(response))

    def report(self, study_id: str | Study, trial_id: str | Trial, step: int,
               values: float | Mapping[str, float]) -> ReportResult:
        """Send an intermediate value of a pending trial (``POST .../trials/{id}/report``).

        ``step`` must exceed the trial's last reported step. The answer says whether the study's
        early-stopping policy stopped the trial (it is then ``early_stopped``; stop evaluating it).
        """
        body = {"step": int(step), "values": self._objective_map(study_id, values, "values")}
        response = self._transport.request("POST", trial_path(study_id, trial_id) + "/report", json=body,
                                           idempotent=False)
        return parse_body(ReportResult, response, response_json(response))

    def enqueue(self, study_id: str | Study, params: Mapping[str, Any]) -> Trial:
        """Enqueue a point to evaluate (``POST .../trials``): a queued trial the next suggest hands out first."""
        body = {"params": {key: plain_value(value) for key, value in dict(params).items()}}
        response = self._transport.request("POST", study_path(study_id) + "/trials", json=body, idempotent=False)
        return parse_body(Trial, response, response_json(response))

    def fail(self, study_id: str | Study, trial_id: str | Trial, reason: str | None = None) -> Trial:
        """Mark a pending trial failed (``POST .../trials/{id}/fail``), e.g. the evaluation crashed; idempotent."""
        response = self._transport.request("POST", trial_path(study_id, trial_id) + "/fail",
                                           json={"reason": reason}, idempotent=True)
        return parse_body(Trial, response, response_json(response))

    def abandon(self, study_id: str | Study, trial_id: str | Trial) -> Trial:
        """Give a pending trial back without a result (``POST .../trials/{id}/abandon``); idempotent."""
        response = self._transport.request("POST", trial_path(study_id, trial_id) + "/abandon", idempotent=True)
        return parse_body(Trial, response, response_json(response))

    def heartbeat(self, study_id: str | Study, trial_id: str | Trial) -> Trial:
        """Extend a pending trial's lease (``POST .../trials/{id}/heartbeat``); idempotent, so retried."""
        response = self._transport.request("POST", trial_path(study_id, trial_id) + "/heartbeat", idempotent=True)
        return parse_body(Trial, response, response_json(response))

    def list_trials(self, study_id: str | Study, state: str | None = None, limit: int = TRIALS_PAGE_SIZE,
                    offset: int = 0) -> TrialPage:
        """One page of trials (``GET .../trials?state=&limit=&offset=``)."""
        response = self._transport.request("GET", study_path(study_id) + "/trials",
                                           params={"state": state, "limit": limit, "offset": offset},
                                           idempotent=True)
        return parse_body(TrialPage, response, response_json(response))

    def trials(self, study_id: str | Study, state: str | None = None, limit: int | None = None) -> list[Trial]:
        """All trials of a study (or the first ``limit``), following the server's pagination.

        Pages are advanced by the number of items actually returned, so a server that caps the page
        size below the requested one is handled; trials seen twice (inserted during paging) are dropped.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        collected: list[Trial] = []
        seen: set[str] = set()
        offset = 0
        while limit is None or len(collected) < limit:
            page_size = TRIALS_PAGE_SIZE if limit is None else min(TRIALS_PAGE_SIZE, limit - len(collected))
            page = self.list_trials(study_id, state=state, limit=page_size, offset=offset)
            for trial in page.items:
                if trial.id not in seen and (limit is None or len(collected) < limit):
                    seen.add(trial.id)
                    collected.append(trial)
            offset += len(page.items)
            if not page.items or (offset >= page.total if page.total is not None else len(page.items) < page_size):
                break
        return collected

    def best(self, study_id: str | Study) -> Trial:
        """The best feasible completed trial (``GET .../best``); raises NotFoundError when none is completed
        and ConflictError for a study with several objectives (use :meth:`pareto`)."""
        response = self._transport.request("GET", study_path(study_id) + "/best", idempotent=True)
        return parse_body(Trial, response, response_json(response))

    def pareto(self, study_id: str | Study) -> list[Trial]:
        """The feasible non-dominated completed trials (``GET .../pareto``), in trial order."""
        response = self._transport.request("GET", study_path(study_id) + "/pareto", idempotent=True)
        return [parse_body(Trial, response, item) for item in response_json(response)["trials"]]

    def predict(self, study_id: str | Study, points: Sequence[Mapping[str, Any]]) -> Prediction:
        """Surrogate posterior mean and sd at N points (``POST .../predict``); ``mean``/``sd`` have length N.

        More than :data:`MAX_PREDICT_POINTS` points are sent in consecutive requests and concatenated.
        """
        plain = [{key: plain_value(value) for key, value in dict(point).items()} for point in points]
        if not plain:
            raise ValueError("predict needs at least one point")
        objective: str | None = None
        mean: list[float] = []
        sd: list[float] = []
        for start in range(0, len(plain), MAX_PREDICT_POINTS):
            chunk = plain[start:start + MAX_PREDICT_POINTS]
            response = self._transport.request("POST", study_path(study_id) + "/predict", json={"points": chunk},
                                               idempotent=False)
            part = parse_body(Prediction, response, response_json(response))
            objective = part.objective
            mean.extend(part.mean)
            sd.extend(part.sd)
        return Prediction(objective=objective, mean=mean, sd=sd)

    # ------------------------------------------------------------------ loop
    def optimize(self, fn: Callable[[dict[str, Any]], float | Mapping[str, float]], study: str | Study,
                 n_trials: int, batch_size: int = 1, progress: bool = True, *, n_jobs: int = 1,
                 timeout: float | None = None, callbacks: Sequence[Callback] = (),
                 catch: type[BaseException] | Iterable[type[BaseException]] = (Exception,),
                 max_consecutive_failures: int = 5, executor: str = "thread", journal: bool | str | os.PathLike = True,
                 client_id: str | None = None) -> Trial | list[Trial]:
        """Evaluate ``fn`` until ``study`` (a Study, id or name) holds ``n_trials`` completed trials.

        Runs ``n_jobs`` evaluations at once, records each result in a local journal before sending it and
        resumes where an earlier run stopped. See :func:`bdlopt_client.optimize.run_optimization` for
        every argument, the failure handling and which trials count towards ``n_trials``.
        """
        return run_optimization(self, fn, study, n_trials, batch_size=batch_size, n_jobs=n_jobs, timeout=timeout,
                                callbacks=callbacks, catch=catch, max_consecutive_failures=max_consecutive_failures,
                                executor=executor, journal=journal, client_id=client_id, progress=progress)

    def study(self, study_id: str | Study) -> Study:
        """The study, from the cache filled by earlier calls, else fetched once by id, else by name."""
        if isinstance(study_id, Study):
            return self._remember(study_id)
        cached = self._studies.get(study_id)
        if cached is not None:
            return cached
        try:
            return self.get_study(study_id)
        except NotFoundError:
            return self.get_study_by_name(study_id)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the HTTP connection pool (unless the ``httpx.Client`` was passed in)."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ internals
    def _remember(self, study: Study) -> Study:
        self._studies[study.id] = study
        return study

    def _objective_map(self, study_id: str | Study, values: float | Mapping[str, float], what: str) -> dict[str, float]:
        """``{objective: float}`` from a mapping, or from a scalar for a single-objective study."""
        if isinstance(values, Mapping):
            result = {str(key): finite_number(value, f"{what}[{key!r}]") for key, value in values.items()}
        else:
            names = self.study(study_id).objective_names
            if len(names) != 1:
                raise ValueError(f"{what} must be a dict {{objective: value}} for a study with objectives {names}")
            result = {names[0]: finite_number(values, what)}
        return result
