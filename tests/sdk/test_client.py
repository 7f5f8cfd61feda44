"""Client methods send the paths, query strings and bodies of the OpenAPI document (openapi/openapi.json) and parse the responses."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

import service.sdk as sdk
from service.sdk import Client, Prediction, Study, Trial, TrialPage
from tests.sdk.conftest import SPACE
from tests.sdk.fake_server import FakeServer


def test_create_study_single_objective_shorthand(client: Client, fake: FakeServer) -> None:
    study = client.create_study("demo", SPACE, objective="loss", goal="maximize", seed=3)
    [request] = fake.calls("POST", "/v1/studies")
    assert request.body == {"name": "demo", "parameters": SPACE, "surrogate": "gp", "seed": 3,
                            "objectives": [{"name": "loss", "goal": "maximize"}]}
    assert isinstance(study, Study)
    assert study.id == "s1" and study.objective_names == ["loss"] and study.parameter_names == ["x", "n", "c"]
    assert study.objectives[0].goal == "maximize"
    assert study.trial_counts["pending"] == 0


def test_create_study_explicit_fields(client: Client, fake: FakeServer) -> None:
    objectives = [{"name": "err", "goal": "minimize"}, sdk.Objective(name="acc", goal="maximize")]
    client.create_study("mo", SPACE[:1], objectives, surrogate="random", initial_design_size=4,
                        lease_seconds=60, surrogate_options={"kernel": "matern"})
    [request] = fake.calls("POST", "/v1/studies")
    assert request.body == {
        "name": "mo", "parameters": SPACE[:1], "surrogate": "random", "initial_design_size": 4,
        "lease_seconds": 60, "surrogate_options": {"kernel": "matern"},
        "objectives": [{"name": "err", "goal": "minimize"}, {"name": "acc", "goal": "maximize"}]}


def test_create_study_rejects_objectives_and_objective(client: Client, fake: FakeServer) -> None:
    with pytest.raises(ValueError):
        client.create_study("x", SPACE, [{"name": "a", "goal": "minimize"}], objective="b")
    assert fake.requests == []


def test_get_list_delete_study_paths(client: Client, fake: FakeServer) -> None:
    created = client.create_study("demo", SPACE, objective="loss")
    assert client.get_study(created.id).name == "demo"
    page = client.list_studies(limit=10, offset=0)
    assert [s.id for s in page.items] == ["s1"] and page.total == 1
    assert fake.calls("GET", "/v1/studies")[0].query == {"limit": "10", "offset": "0"}
    assert client.delete_study(created) is None
    assert fake.calls("DELETE", "/v1/studies/s1")
    with pytest.raises(sdk.NotFoundError) as info:
        client.get_study("s1")
    assert info.value.code == "not_found"


def test_ids_are_quoted_in_paths() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"id": "t", "params": {}, "state": "pending"})

    client = Client(http_client=httpx.Client(transport=httpx.MockTransport(handler), base_url="http://f"))
    client.heartbeat("a/b c", "t?1")
    assert seen == ["/v1/studies/a%2Fb%20c/trials/t%3F1/heartbeat"]


def test_suggest_body_and_trials(client: Client, fake: FakeServer) -> None:
    study = client.create_study("demo", SPACE, objective="loss")
    trials = client.suggest(study.id, count=3, client_id="worker-1")
    assert fake.calls("POST", "/suggest")[0].body == {"count": 3, "client_id": "worker-1"}
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(isinstance(t, Trial) and t.state == "pending" and t.client_id == "worker-1" for t in trials)
    assert set(trials[0].params) == {"x", "n", "c"}
    client.suggest(study.id)
    assert fake.calls("POST", "/suggest")[1].body == {"count": 1}


def test_observe_float_maps_to_single_objective_with_one_study_lookup(fake: FakeServer) -> None:
    Client(http_client=fake.client()).create_study("demo", SPACE, objective="loss")
    client = Client(http_client=fake.client())  # a fresh client: objective names not cached yet
    first, second = client.suggest("s1", count=2)
    done = client.observe("s1", first.id, 0.25, noise_sd=0.1)
    client.observe("s1", second, np.float32(0.5))
    bodies = [r.body for r in fake.calls("POST", "/observe")]
    assert bodies == [{"values": {"loss": 0.25}, "trial_id": first.id, "noise_sd": {"loss": 0.1}},
                      {"values": {"loss": 0.5}, "trial_id": second.id}]
    assert len(fake.calls("GET", "/v1/studies/s1")) == 1
    assert done.state == "completed" and done.value == 0.25 and done.values == {"loss": 0.25}


def test_observe_external_params_with_numpy_scalars(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")
    trial = client.observe("s1", values={"loss": 2.0}, params={"x": np.float64(0.5), "n": np.int64(2), "c": "a"})
    assert fake.calls("POST", "/observe")[0].body == {"values": {"loss": 2.0},
                                                      "params": {"x": 0.5, "n": 2, "c": "a"}}
    assert trial.source == "external"
    assert fake.calls("GET", "/v1/studies/s1") == []  # a dict of values needs no study lookup


def test_observe_argument_errors_send_nothing(client: Client, fake: FakeServer) -> None:
    client.create_study("mo", SPACE, [{"name": "a", "goal": "minimize"}, {"name": "b", "goal": "minimize"}])
    sent = len(fake.requests)
    with pytest.raises(ValueError, match="exactly one"):
        client.observe("s1", "t0", 1.0, params={"x": 0.0})
    with pytest.raises(ValueError, match="exactly one"):
        client.observe("s1", values={"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match="dict"):
        client.observe("s1", "t0", 1.0)  # two objectives: a float is ambiguous
    with pytest.raises(ValueError, match="finite"):
        client.observe("s1", "t0", {"a": float("nan"), "b": 1.0})
    with pytest.raises(ValueError, match="values"):
        client.observe("s1", "t0")
    assert len(fake.requests) == sent


def test_fail_abandon_heartbeat(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")
    a, b, c = client.suggest("s1", count=3)
    assert client.fail("s1", a.id, reason="out of memory").state == "failed"
    assert fake.calls("POST", f"/trials/{a.id}/fail")[0].body == {"reason": "out of memory"}
    assert client.abandon("s1", b).state == "abandoned"
    assert fake.calls("POST", f"/trials/{b.id}/abandon")[0].body is None
    assert client.heartbeat("s1", c.id).state == "pending"
    assert fake.calls("POST", f"/trials/{c.id}/heartbeat")[0].body is None
    with pytest.raises(sdk.ConflictError) as info:
        client.fail("s1", a.id)
    assert info.value.message == f"trial {a.id} is failed"


@pytest.mark.parametrize("max_page_size", [100, 30])
def test_trials_follows_pagination(max_page_size: int) -> None:
    fake = FakeServer(max_page_size=max_page_size)
    client = Client(http_client=fake.client())
    client.create_study("demo", SPACE, objective="loss")
    for _ in range(4):
        client.suggest("s1", count=60)  # 240 pending trials
    for trial in client.trials("s1")[:5]:
        client.observe("s1", trial.id, 1.0)
    fake.requests.clear()
    everything = client.trials("s1")
    assert [t.number for t in everything] == list(range(240))
    offsets = [int(r.query["offset"]) for r in fake.calls("GET", "/trials")]
    assert offsets == list(range(0, 240, max_page_size))
    assert [t.number for t in client.trials("s1", limit=130)] == list(range(130))
    completed = client.trials("s1", state="completed")
    assert [t.number for t in completed] == [0, 1, 2, 3, 4]
    assert fake.calls("GET", "/trials")[-1].query["state"] == "completed"
    assert client.trials("s1", limit=0) == []
    page = client.list_trials("s1", limit=10, offset=235)
    assert isinstance(page, TrialPage) and len(page.items) == 5 and page.total == 240


def test_best_and_not_found(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")
    with pytest.raises(sdk.NotFoundError):
        client.best("s1")
    trials = client.suggest("s1", count=3)
    for trial, value in zip(trials, [3.0, -1.0, 2.0]):
        client.observe("s1", trial.id, value)
    assert client.best("s1").id == trials[1].id


def test_predict_sends_points_and_chunks_long_lists(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")
    points = [{"x": 0.1 * i, "n": 1, "c": "a"} for i in range(2500)]
    prediction = client.predict("s1", points)
    assert isinstance(prediction, Prediction)
    sent = [r.body["points"] for r in fake.calls("POST", "/predict")]
    assert [len(chunk) for chunk in sent] == [1000, 1000, 500]
    assert sum(sent, []) == points
    assert len(prediction.mean) == len(prediction.sd) == 2500 and prediction.objective == "loss"
    with pytest.raises(ValueError):
        client.predict("s1", [])


def test_api_key_from_argument_and_environment(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    Client(http_client=fake.client()).list_studies()
    Client(api_key="k-arg", http_client=fake.client()).list_studies()
    monkeypatch.setenv("BDLOPT_API_KEY", "k-env")
    Client(http_client=fake.client()).list_studies()
    Client(api_key="k-arg", http_client=fake.client()).list_studies()
    headers = [r.headers.get("Authorization") for r in fake.requests]
    assert headers == [None, "Bearer k-arg", "Bearer k-env", "Bearer k-arg"]


def test_base_url_prefix_used_when_http_client_has_none() -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(200, json={"items": [], "total": 0, "limit": 50, "offset": 0})

    Client("http://host:9000/bdlopt/", http_client=httpx.Client(transport=httpx.MockTransport(handler))).list_studies()
    Client("http://ignored", http_client=httpx.Client(transport=httpx.MockTransport(handler),
                                                      base_url="http://own/api")).list_studies()
    assert urls == ["http://host:9000/bdlopt/v1/studies?limit=50&offset=0",
                    "http://own/api/v1/studies?limit=50&offset=0"]


def test_close_leaves_a_passed_in_client_open(fake: FakeServer) -> None:
    http = fake.client()
    with Client(http_client=http) as client:
        client.list_studies()
    assert not http.is_closed
    own = Client("http://127.0.0.1:1")
    own.close()
    assert own._transport.http.is_closed


def test_unknown_response_fields_are_kept() -> None:
    body = {"id": "s9", "name": "n", "parameters": [{"name": "x", "type": "quantum", "qubits": 3}],
            "objectives": [{"name": "loss", "goal": "minimize", "weight": 2}], "owner": "team-a"}
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)), base_url="http://f")
    study = Client(http_client=http).get_study("s9")
    assert study.model_extra == {"owner": "team-a"}
    assert study.parameters[0]["qubits"] == 3 and study.objectives[0].model_extra == {"weight": 2}


def test_malformed_success_body_raises_bdlopt_error() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"name": "no id"})),
                        base_url="http://f")
    with pytest.raises(sdk.BdloptError) as info:
        Client(http_client=http).get_study("s1")
    assert info.value.code == "invalid_response"
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>")),
                        base_url="http://f")
    with pytest.raises(sdk.BdloptError, match="not JSON"):
        Client(http_client=http).get_study("s1")
