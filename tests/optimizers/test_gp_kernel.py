"""The GP's ``kernel`` option: by default the Matern-5/2 for each of several outcomes and for one outcome up to
six non-categorical columns, the RBF above six columns; either kernel on request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from botorch.models.model import ModelList
from fastapi.testclient import TestClient
from gpytorch.kernels import MaternKernel, RBFKernel

from service.api.app import create_app
from service.config import Settings
from service.optimizers import SuggestRequest, get_policy
from service.optimizers.gp import GPSurrogate
from service.optimizers.gp_model import GPData, fit_gp
from service.optimizers.gp_options import GPOptions
from service.optimizers.outcomes import Outcomes
from service.space import CategoricalParam, FloatParam, SearchSpace

F64 = torch.float64
SPACE = SearchSpace([FloatParam(name="a", low=0.0, high=1.0), FloatParam(name="b", low=0.0, high=1.0)])


def _data(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=generator, dtype=F64)
    Y = torch.stack([-(X[:, 0] - 0.3) ** 2 - X[:, 1], torch.sin(6 * X[:, 0]) + X[:, 1] ** 2], dim=-1)
    return X, Y


def _base_kernel(model) -> object:
    return model.covar_module.base_kernel


@pytest.mark.parametrize(("kernel", "columns", "expected"), [
    ("auto", None, "matern52"), ("auto", 1, "matern52"), ("auto", 6, "matern52"), ("auto", 7, "rbf"),
    ("auto", 20, "rbf"), ("rbf", 2, "rbf"), ("matern52", 10, "matern52"), ("evidence", 10, "evidence"),
])
def test_auto_is_the_matern_up_to_six_columns_and_the_rbf_above(kernel: str, columns: int | None,
                                                                 expected: str) -> None:
    assert GPOptions(kernel=kernel).resolved_kernel(columns) == expected


def _wide_space(columns: int, categorical: bool = False) -> SearchSpace:
    params = [FloatParam(name=f"x{i}", low=0.0, high=1.0) for i in range(columns)]
    if categorical:
        params.append(CategoricalParam(name="c", choices=["u", "v", "w"]))
    return SearchSpace(params)


@pytest.mark.parametrize(("columns", "categorical", "expected"), [
    (6, False, MaternKernel), (7, False, RBFKernel), (6, True, MaternKernel), (7, True, RBFKernel),
])
def test_one_outcome_by_default_counts_the_non_categorical_columns(columns: int, categorical: bool,
                                                                   expected: type) -> None:
    space = _wide_space(columns, categorical)
    generator = torch.Generator().manual_seed(3)
    X = torch.rand(14, space.dim, generator=generator, dtype=F64)
    if categorical:
        X[:, -1] = torch.arange(14, dtype=F64) % 3
    y = torch.sin(3 * X[:, :columns]).sum(-1)
    fitted = GPSurrogate().fit(space, GPData(X=X, y=y, y_var=None), options=GPOptions(), warm=None, safe=False, seed=0)
    kinds = {type(module) for module in fitted.model.modules()}
    assert expected in kinds and ({MaternKernel, RBFKernel} - {expected}).isdisjoint(kinds)


def test_several_outcomes_keep_the_matern_above_six_columns() -> None:
    space = _wide_space(7)
    X = torch.rand(14, 7, generator=torch.Generator().manual_seed(4), dtype=F64)
    Y = torch.stack([X.sum(-1), torch.cos(3 * X).sum(-1)], dim=-1)
    fitted = GPSurrogate().fit_joint(space, X, Y, options=GPOptions(), warm=None, safe=False, seed=0)
    assert all(isinstance(_base_kernel(m), MaternKernel) for m in fitted.model.models)


def test_fit_joint_fits_one_matern_gp_per_outcome_by_default() -> None:
    X, Y = _data()
    fitted = GPSurrogate().fit_joint(SPACE, X, Y, options=GPOptions(), warm=None, safe=False, seed=0)
    assert isinstance(fitted.model, ModelList) and len(fitted.model.models) == 2
    for j, model in enumerate(fitted.model.models):
        assert isinstance(_base_kernel(model), MaternKernel) and _base_kernel(model).nu == 2.5
        # each model interpolates its own column (deterministic data, small noise)
        mean = model.posterior(X).mean.squeeze(-1)
        assert torch.allclose(mean, Y[:, j], atol=0.05 * float(Y[:, j].std()))
    rbf = GPSurrogate().fit_joint(SPACE, X, Y, options=GPOptions(kernel="rbf"), warm=None, safe=False, seed=0)
    assert all(isinstance(_base_kernel(m), RBFKernel) for m in rbf.model.models)


def test_one_outcome_gets_the_matern_unless_the_rbf_is_asked_for() -> None:
    X, Y = _data()
    data = GPData(X=X, y=Y[:, 0], y_var=None)
    default = GPSurrogate().fit(SPACE, data, options=GPOptions(), warm=None, safe=False, seed=0)
    assert isinstance(_base_kernel(default.model), MaternKernel)
    rbf = GPSurrogate().fit(SPACE, data, options=GPOptions(kernel="rbf"), warm=None, safe=False, seed=0)
    assert isinstance(_base_kernel(rbf.model), RBFKernel)


@pytest.mark.parametrize(("kernel", "present", "absent"), [("matern52", MaternKernel, RBFKernel),
                                                          ("rbf", RBFKernel, MaternKernel)])
def test_in_a_mixed_space_the_kernel_is_that_of_the_other_columns(kernel: str, present: type, absent: type) -> None:
    space = SearchSpace([FloatParam(name="a", low=0.0, high=1.0), CategoricalParam(name="c", choices=["u", "v", "w"])])
    X, Y = _data()
    X[:, 1] = torch.arange(X.shape[0], dtype=F64) % 3
    fitted = GPSurrogate().fit(space, GPData(X=X, y=Y[:, 0], y_var=None), options=GPOptions(kernel=kernel),
                               warm=None, safe=False, seed=0)
    kinds = [type(module) for module in fitted.model.modules()]
    assert present in kinds and absent not in kinds
    assert fitted.state.kind.startswith("mixed") and (kernel in fitted.state.kind) == (kernel != "rbf")


def test_a_state_of_one_kernel_does_not_warm_start_the_other() -> None:
    X, Y = _data()
    data = GPData(X=X, y=Y[:, 1], y_var=None)
    _, rbf_state, _ = fit_gp(SPACE, data, kernel="rbf")
    _, matern_state, info = fit_gp(SPACE, data, warm=rbf_state, kernel="matern52")
    assert rbf_state.kind != matern_state.kind and not info["warm_started"]
    _, _, again = fit_gp(SPACE, data, warm=matern_state, kernel="matern52")
    assert again["warm_started"] and again["fit_skipped"]  # same data, same kind: nothing to refit
    with pytest.raises(ValueError, match="unknown kernel"):
        fit_gp(SPACE, data, kernel="periodic")


def test_a_two_objective_suggest_uses_matern_models_and_returns_a_new_point() -> None:
    X, Y = _data(10)
    outcomes = Outcomes(Y=Y, names=("f", "g"), n_objectives=2, constraints=())
    request = SuggestRequest(space=SPACE, X=X, y=Y[:, 0], y_var=None, pending=torch.zeros(0, 2, dtype=F64), count=2,
                             seed=1, n_suggested=10, n_initial=5, cache_key="kernel-test", outcomes=outcomes)
    suggestion = get_policy("gp").suggest(request)
    assert not suggestion.fell_back and suggestion.X.shape == (2, 2)
    assert suggestion.state is not None and "matern52" in str(suggestion.state.meta["parts"][0]["kind"])
    assert suggestion.info["outcomes"] == ["f", "g"]


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}")
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_api_takes_the_kernel_and_names_a_bad_one(client: TestClient) -> None:
    body = {"name": "k", "parameters": [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}],
            "objectives": [{"name": "f"}, {"name": "g"}], "surrogate": "gp"}
    created = client.post("/v1/studies", json={**body, "surrogate_options": {"kernel": "rbf"}})
    assert created.status_code == 201, created.text
    assert created.json()["surrogate_options"]["kernel"] == "rbf"
    bad = client.post("/v1/studies", json={**body, "name": "bad", "surrogate_options": {"kernel": "periodic"}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "surrogate_options", "kernel"]


def test_auto_gives_its_gp_candidate_the_default_kernel() -> None:
    from service.optimizers.auto import AutoSurrogate

    X, Y = _data(10)
    fitted = AutoSurrogate().fit_joint(SPACE, X, Y, options=None, warm=None, safe=False, seed=0)
    assert isinstance(fitted.model, ModelList) and len(fitted.model.models) == 2
    for outcome in fitted.state.meta["parts"]:  # per outcome: auto's state of its [gp, lla] candidates
        assert "matern52" in outcome["meta"]["parts"][0]["kind"]
    one = AutoSurrogate().fit(SPACE, GPData(X=X, y=Y[:, 0], y_var=None), options=None, warm=None, safe=False, seed=0)
    assert "matern52" in one.state.meta["parts"][0]["kind"]
