"""Schema fuzzing with Schemathesis against the app's own OpenAPI document.

Two runs, both in-process (ASGI) on a fresh SQLite database where API keys exist (so no local
mode) and every request carries one key:

* stateless: every operation, with valid and invalid inputs (Schemathesis' positive and negative
  generation modes);
* stateful: sequences that follow the links the document declares (service/api/schemas/links.py):
  create-study -> suggest -> observe -> suggest ..., and the dataset and job links. The tests check
  that the links were really followed (2xx on each step of the flow).

Every response must pass ``not_a_server_error``, ``status_code_conformance``,
``response_schema_conformance``, ``negative_data_rejection`` and ``ignored_auth`` (which re-sends a
request without the key and with a wrong key and expects 401).

Jobs are submitted and validated but never run (``local_workers=0``): running one is the job
suite's concern, and a fuzzed config could ask for hours of training.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import schemathesis.specs.openapi.stateful as stateful_module
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from service.api.app import create_app
from service.auth.keys import create_key
from service.cli import openapi_document
from service.config import Settings
from service.db import Database
from service.db.migrate import upgrade

CSV = "a,b,t\n" + "".join(f"{i % 7},{(i * 3) % 5},{(i % 7) * 0.5 + (i % 3)}\n" for i in range(20))

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, negative_data_rejection,
          ignored_auth]

FUZZ_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
STUDY_FLOW_SETTINGS = settings(FUZZ_SETTINGS, max_examples=30, stateful_step_count=6)
ALL_LINKS_SETTINGS = settings(FUZZ_SETTINGS, max_examples=30, stateful_step_count=6)


class _AppUnderTest:
    """ASGI app forwarding to the app the ``fuzz_app`` fixture builds.

    Schemathesis needs the schema, with the app to call, when the module is imported (to generate one
    test per operation); the app itself, with its database and keys, belongs in a fixture.
    """

    def __init__(self) -> None:
        self.app = None

    async def __call__(self, scope, receive, send) -> None:
        if self.app is None:
            raise RuntimeError("the fuzz_app fixture has not built the app")
        await self.app(scope, receive, send)


APP_UNDER_TEST = _AppUnderTest()


def _load_schema(*, declared_links_only: bool) -> schemathesis.BaseSchema:
    """The document the app serves (what `bdlopt openapi` writes; building it touches no database)."""
    config: dict = {
        # Every request carries the key explicitly (below), so Schemathesis must not generate (or leave
        # out) the Authorization header itself; `ignored_auth` still re-sends requests without it and
        # with a wrong one.
        "generation": {"with-security-parameters": False},
        # Schemathesis' default list plus 413: an invalid body that is also over the size limit (e.g.
        # more than 1000 points to predict at) is refused by the limit before its content is read.
        "checks": {"negative_data_rejection": {"expected-statuses": [
            "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]}},
    }
    if declared_links_only:
        # No links guessed by Schemathesis from names, so the steps follow the flows the API documents
        # instead of spreading over every guessable pair of operations; valid inputs only (invalid
        # ones are the stateless run's).
        config["phases"] = {"stateful": {"inference": {"algorithms": []}, "generation": {"mode": "positive"}}}
    loaded = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config.from_dict(config))
    loaded.app = APP_UNDER_TEST
    return loaded


schema = _load_schema(declared_links_only=False)
linked_schema = _load_schema(declared_links_only=True)


def _app_settings(data_dir: Path) -> Settings:
    """Settings of the fuzzed app: jobs stay queued, no rate limits (429s would hide the routes)."""
    return Settings(data_dir=data_dir, migrate_on_startup=False, torch_threads=1, local_workers=0,
                    rate_limit_suggest_per_minute=0, rate_limit_jobs_per_minute=0,
                    dataset_max_bytes=256 * 1024)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Builds the app on a fresh migrated SQLite database with keys; yields the headers of one key."""
    from schemathesis.python.asgi import shutdown_lifespans

    data_dir = tmp_path_factory.mktemp("fuzz")
    database = Database(f"sqlite:///{data_dir / 'studies.db'}")
    upgrade(database)
    key, _ = create_key(database, "fuzzer")
    create_key(database, "someone-else")
    APP_UNDER_TEST.app = create_app(_app_settings(data_dir), database=database)
    try:
        yield {"Authorization": f"Bearer {key}"}
    finally:
        shutdown_lifespans()  # the app's lifespan, started by Schemathesis on its first request
        APP_UNDER_TEST.app = None
        database.dispose()


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation(case, fuzz_app) -> None:
    case.call_and_validate(headers=fuzz_app, checks=CHECKS)


def _valid_range(param: dict) -> None:
    """Replace a numeric parameter's range by [0, 1] unless it is already valid (finite, high > low)."""
    low, high = param.get("low"), param.get("high")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high))
    if not numbers or not high > low:
        param["low"], param["high"] = (0, 1) if param.get("type") == "int" else (0.0, 1.0)
    if param.get("log") and not param["low"] > 0:
        param["log"] = False


def _satisfy_unschematised_rules(case) -> None:
    """Make a valid (positive) body of the operations that start the linked flows pass the app's rules.

    Some rules are beyond JSON Schema (``high > low``, printable names, the objective's name in
    ``values``, a parseable CSV file, an existing dataset), so random schema-valid bodies almost never
    create anything and the links from the new resources would never be followed. The stateless run
    sends the unrepaired bodies. Created studies get the objective ``f``; observations report it.
    """
    body = case.body
    if case.method.upper() != "POST" or not isinstance(body, dict):
        return
    if case.path == "/v1/studies":
        # Names are unique per owner: a name drawn twice would answer the existing study (200) instead of
        # creating one (201), so the flow would depend on what earlier examples left in the database.
        body["name"] = f"{str(body.get('name'))[:200]}-{uuid.uuid4().hex}"
        for index, param in enumerate(body.get("parameters") or []):
            if isinstance(param, dict):
                param["name"] = f"p{index}"
                if param.get("type") in ("float", "int"):
                    _valid_range(param)
        body["objectives"] = [{"name": "f"}]
        # Outcome constraints would need their outcomes observed too, and random linear constraints
        # nearly always leave an empty space; the stateless run fuzzes both.
        body["outcome_constraints"] = []
        body["parameter_constraints"] = []
        body["surrogate_options"] = {}
    elif case.path == "/v1/studies/{study_id}/observe" and body.get("trial_id") is not None:
        body.pop("params", None)
        body.pop("noise_sd", None)
        body["values"] = {"f": 0.5}
    elif case.path == "/v1/datasets":
        body["file"] = CSV.encode()
        body.pop("categorical", None)
    elif case.path == "/v1/jobs":
        body.update(kind="laplace", dataset="sklearn:diabetes", task="regression", config={})
        body.pop("target", None)
        body.pop("model", None)


def _run_linked_calls(linked: schemathesis.BaseSchema, headers: dict[str, str],
                      run_settings: settings, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Run the state machine of ``linked`` (every check on every step); return 2xx counts per operation.

    Schemathesis (4.3x) decides with a random generator outside Hypothesis' control whether a step
    uses what a link extracted or explores a drawn value instead; that makes runs differ between
    replays (Hypothesis then stops with ``FlakyStrategyDefinition``) and on some runs no observe ever
    gets a real trial id. Here every link is always followed (exploration rate 0), so a run is a
    function of its seed; drawn, unlinked values are the stateless run's job.
    """
    monkeypatch.setattr(stateful_module, "BASE_EXPLORATION_RATE", 0.0)
    monkeypatch.setattr(stateful_module, "DEFAULT_USE_PROBABILITY", 1.0)
    successes: Counter[str] = Counter()
    repaired: set[int] = set()

    class LinkedCalls(linked.as_state_machine()):  # type: ignore[misc, valid-type]
        def before_call(self, case) -> None:
            # A linked observe (trial id merged into a drawn body) is labelled negative when the drawn
            # body also holds ``params``; it is the flow's valid step once repaired.
            linked_observe = case.path.endswith("/observe") and isinstance(case.body, dict) and "trial_id" in case.body
            if case.meta is not None and (case.meta.generation.mode.is_positive or linked_observe):
                _satisfy_unschematised_rules(case)
                if linked_observe:
                    repaired.add(id(case))

        def get_call_kwargs(self, case) -> dict:
            return {"headers": headers}

        def after_call(self, response, case) -> None:
            super().after_call(response, case)
            if 200 <= response.status_code < 300:
                successes[f"{case.method.upper()} {case.path}"] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            # A repaired body is valid: the check that invalid bodies are refused does not apply.
            checks = [c for c in CHECKS if c is not negative_data_rejection] if id(case) in repaired else CHECKS
            case.validate_response(response, checks=checks, headers=headers, transport_kwargs=kwargs,
                                   recorder=getattr(self, "recorder", None))

    LinkedCalls.run(settings=run_settings)
    return successes


STUDY_FLOW = ("POST /v1/studies", "POST /v1/studies/{study_id}/suggest", "POST /v1/studies/{study_id}/observe")


def test_stateful_study_flow(fuzz_app, monkeypatch) -> None:
    """create-study -> suggest -> observe (-> suggest ...), valid inputs, along the documented links."""
    flow = linked_schema.include(lambda ctx: f"{ctx.operation.method.upper()} {ctx.operation.path}" in STUDY_FLOW)
    successes = _run_linked_calls(flow, fuzz_app, STUDY_FLOW_SETTINGS, monkeypatch)
    # The links were followed: studies created, points suggested for them, and observed.
    for operation in STUDY_FLOW:
        assert successes[operation] > 0, dict(successes)


def test_stateful_documented_links(fuzz_app, monkeypatch) -> None:
    """Every documented link (studies, trials, datasets, jobs), valid inputs."""
    successes = _run_linked_calls(linked_schema, fuzz_app, ALL_LINKS_SETTINGS, monkeypatch)
    for operation in ("POST /v1/studies", "POST /v1/studies/{study_id}/suggest", "POST /v1/datasets",
                      "GET /v1/datasets/{dataset_id}", "POST /v1/jobs", "GET /v1/jobs/{job_id}"):
        assert successes[operation] > 0, dict(successes)
