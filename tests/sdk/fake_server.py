"""A small in-memory fake of the bdlopt REST API (openapi/openapi.json, served at /docs) served through ``httpx.MockTransport``.

Only what the SDK tests need: studies, suggest (random points), observe, fail, abandon, heartbeat,
paginated trials, best, the Pareto front and a dummy predict. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

NOW = "2025-01-01T00:00:00Z"


@dataclass
class RecordedRequest:
    """One request seen by the fake: method, path, query dict, decoded JSON body (or None), headers."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: httpx.Headers


@dataclass
class FakeServer:
    """In-memory bdlopt server. ``max_page_size`` caps list pages like a real server would."""

    max_page_size: int = 100
    seed: int = 0
    studies: dict[str, dict[str, Any]] = field(default_factory=dict)
    trials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def client(self, base_url: str = "http://fake") -> httpx.Client:
        """An httpx client whose requests this fake answers."""
        return httpx.Client(transport=httpx.MockTransport(self), base_url=base_url)

    def calls(self, method: str, suffix: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path ends with ``suffix``."""
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        self.requests.append(RecordedRequest(request.method, path, dict(request.url.params), body, request.headers))
        route = (request.method, path)
        if route == ("POST", "/v1/studies"):
            return self._create(body)
        if route == ("GET", "/v1/studies"):
            items = list(self.studies.values())
            return self._page(items, request.url.params)
        match = re.fullmatch(r"/v1/studies/([^/]+)(/.*)?", path)
        if not match or match.group(1) not in self.studies:
            return _error(404, "not_found", f"study {path} not found")
        study, rest = self.studies[match.group(1)], match.group(2) or ""
        trials = self.trials[study["id"]]
        if rest == "" and request.method == "GET":
            return httpx.Response(200, json=self._study_view(study))
        if rest == "" and request.method == "DELETE":
            del self.studies[study["id"]]
            return httpx.Response(204)
        if rest == "/suggest":
            return httpx.Response(200, json={"trials": [self._new_trial(study, body) for _ in range(body["count"])]})
        if rest == "/observe":
            return self._observe(study, trials, body)
        if rest == "/trials":
            state = request.url.params.get("state")
            return self._page([t for t in trials if state is None or t["state"] == state], request.url.params)
        if rest == "/best":
            done = [t for t in trials if t["state"] == "completed"]
            if not done:
                return _error(404, "not_found", "no completed trial")
            name, goal = study["objectives"][0]["name"], study["objectives"][0]["goal"]
            pick = max if goal == "maximize" else min
            return httpx.Response(200, json=pick(done, key=lambda t: t["values"][name]))
        if rest == "/pareto":  # no constraints here: the non-dominated completed trials
            done = [t for t in trials if t["state"] == "completed"]
            signs = {o["name"]: (1 if o["goal"] == "maximize" else -1) for o in study["objectives"]}

            def dominated(t: dict) -> bool:
                return any(all(signs[n] * u["values"][n] >= signs[n] * t["values"][n] for n in signs)
                           and any(signs[n] * u["values"][n] > signs[n] * t["values"][n] for n in signs)
                           for u in done)

            return httpx.Response(200, json={"trials": [t for t in done if not dominated(t)], "hypervolume": None,
                                             "reference_point": None, "reference_point_inferred": True})
        if rest == "/predict":
            n = len(body["points"])
            return httpx.Response(200, json={"objective": study["objectives"][0]["name"], "mean": [0.5] * n,
                                             "sd": [1.0] * n})
        action = re.fullmatch(r"/trials/([^/]+)/(fail|abandon|heartbeat)", rest)
        if action:
            trial = next((t for t in trials if t["id"] == action.group(1)), None)
            if trial is None:
                return _error(404, "not_found", "trial not found")
            if action.group(2) != "heartbeat":
                if trial["state"] != "pending":
                    return _error(409, "conflict", f"trial {trial['id']} is {trial['state']}")
                trial["state"] = {"fail": "failed", "abandon": "abandoned"}[action.group(2)]
            return httpx.Response(200, json=trial)
        return _error(404, "not_found", f"no route {request.method} {path}")

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        study_id = f"s{len(self.studies) + 1}"
        study = {"id": study_id, "surrogate": "gp", "surrogate_options": {}, "initial_design_size": None,
                 "seed": None, "lease_seconds": 3600, "created_at": NOW, **body}
        self.studies[study_id] = study
        self.trials[study_id] = []
        return httpx.Response(201, json=self._study_view(study))

    def _study_view(self, study: dict[str, Any]) -> dict[str, Any]:
        counts = dict.fromkeys(("pending", "completed", "failed", "abandoned", "expired"), 0)
        for trial in self.trials[study["id"]]:
            counts[trial["state"]] += 1
        return {**study, "trial_counts": counts}

    def _new_trial(self, study: dict[str, Any], body: dict[str, Any] | None, params: dict | None = None) -> dict:
        trials = self.trials[study["id"]]
        if params is None:
            params = {}
            for p in study["parameters"]:
                if p["type"] == "float":
                    params[p["name"]] = self.rng.uniform(p["low"], p["high"])
                elif p["type"] == "int":
                    params[p["name"]] = self.rng.randint(p["low"], p["high"])
                else:
                    params[p["name"]] = self.rng.choice(p["choices"])
        trial = {"id": f"{study['id']}-t{len(trials)}", "study_id": study["id"], "number": len(trials),
                 "params": params, "state": "pending", "values": None, "noise_sd": None,
                 "client_id": (body or {}).get("client_id"), "source": "suggested", "created_at": NOW,
                 "completed_at": None, "lease_expires_at": NOW}
        trials.append(trial)
        return trial

    def _observe(self, study: dict[str, Any], trials: list[dict], body: dict[str, Any]) -> httpx.Response:
        if body.get("trial_id") is not None:
            trial = next((t for t in trials if t["id"] == body["trial_id"]), None)
            if trial is None:
                return _error(404, "not_found", "trial not found")
            if trial["state"] != "pending":
                return _error(409, "conflict", f"trial {trial['id']} is {trial['state']}")
        else:
            trial = self._new_trial(study, None, params=body["params"])
            trial["source"] = "external"
        trial.update(state="completed", values=body["values"], noise_sd=body.get("noise_sd"), completed_at=NOW)
        return httpx.Response(200, json=trial)

    def _page(self, items: list[Any], params: httpx.QueryParams) -> httpx.Response:
        limit = min(int(params.get("limit", 50)), self.max_page_size)
        offset = int(params.get("offset", 0))
        views = [self._study_view(i) if "parameters" in i else i for i in items[offset:offset + limit]]
        return httpx.Response(200, json={"items": views, "total": len(items), "limit": limit, "offset": offset})


def _error(status: int, code: str, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail, "code": code})
