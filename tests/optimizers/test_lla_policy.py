"""The model-based policy with the LLA surrogate: valid batches, state and warm starts, restore, mixed spaces, fallback, predict."""

from __future__ import annotations

import pytest
import torch

import service.optimizers.lla as lla_module
from service.optimizers import get_policy
from service.optimizers.acquisition import AcquisitionOptions
from service.optimizers.base import SuggestRequest
from service.optimizers.gp_model import GPData
from service.optimizers.lla import LLASurrogate, only_grew
from service.optimizers.lla_options import LLAOptions
from service.optimizers.model_policy import ModelBasedPolicy
from service.optimizers.surrogate_state import SurrogateState
from service.optimizers.sobol import draw_sobol
from service.space import CategoricalParam, FloatParam, IntParam, SearchSpace

F64 = torch.float64
OPTIMUM = torch.tensor([0.7, 0.2], dtype=F64)
FAST = AcquisitionOptions(num_restarts=2, raw_samples=64, maxiter=20, mc_samples=64)
SMALL = LLAOptions(width=16, depth=2, epochs=200, warm_epochs=40)


def _policy() -> ModelBasedPolicy:
    return ModelBasedPolicy(LLASurrogate(), acquisition_options=FAST)


def _space2() -> SearchSpace:
    return SearchSpace([FloatParam(name="a", low=0, high=1), FloatParam(name="b", low=0, high=1)])


def _request(space, X, y, count=1, pending=None, key="study", seed=0, **extra) -> SuggestRequest:
    extra.setdefault("surrogate_options", SMALL.model_dump())
    return SuggestRequest(
        space=space, X=X, y=y, y_var=None,
        pending=torch.zeros(0, space.dim, dtype=F64) if pending is None else pending,
        count=count, seed=seed, n_suggested=X.shape[0], n_initial=4, cache_key=key, **extra,
    )


def _data(space: SearchSpace, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    X = draw_sobol(space, seed=0, start=0, count=n)
    return X, -((X[:, :2] - OPTIMUM) ** 2).sum(-1)


def test_registered_and_batches_are_distinct_canonical_and_avoid_pending() -> None:
    policy = get_policy("lla")
    assert isinstance(policy, ModelBasedPolicy) and isinstance(policy.surrogate, LLASurrogate)
    space = _space2()
    X, y = _data(space, 10)
    pending = draw_sobol(space, seed=1, start=0, count=2)
    suggestion = _policy().suggest(_request(space, X, y, count=3, pending=pending))
    assert suggestion.policy == "lla", suggestion.info
    Z = suggestion.X
    assert Z.shape == (3, 2) and Z.dtype == F64
    assert bool(((Z >= 0) & (Z <= 1)).all()) and torch.equal(space.canonicalize(Z), Z)
    assert torch.cdist(Z, Z).add(torch.eye(3, dtype=F64)).min() > 1e-6
    assert torch.cdist(Z, torch.cat([X, pending])).min() > 1e-6
    assert suggestion.info["regime"] == "function" and suggestion.info["fit_seconds"] > 0


def test_state_is_reused_warm_started_or_refitted() -> None:
    space = _space2()
    X, y = _data(space, 10)
    policy = _policy()
    first = policy.suggest(_request(space, X, y))
    assert not first.info["fit_skipped"] and first.state is not None
    again = policy.suggest(_request(space, X, y, pending=X[:1] * 0.5), first.state)  # only pending changed
    assert again.info["fit_skipped"] and again.state is first.state
    order = torch.randperm(11)
    X2, y2 = torch.cat([X, again.X])[order], torch.cat([y, torch.tensor([-0.3], dtype=F64)])[order]
    grown = policy.suggest(_request(space, X2, y2), again.state)
    assert grown.info["warm_started"] and not grown.info["fit_skipped"]
    changed = policy.suggest(_request(space, X2, y2 + 1.0), grown.state)  # same points, other values
    assert not changed.info["warm_started"] and not changed.info["fit_skipped"]
    cold = policy.suggest(_request(space, X, y, key="other-study"))
    assert not cold.info["warm_started"]


def test_a_stored_state_restores_the_fitted_model_bit_for_bit() -> None:
    """Another process (a fresh surrogate) restores the same posterior from the state's bytes."""
    space = _space2()
    X, y = _data(space, 10)
    request = _request(space, X, y)
    data = GPData.from_request(X, y, None)
    fitted = _policy().fit(request, data, None, False)
    restored_state = SurrogateState.from_bytes(fitted.state.to_bytes())
    other = ModelBasedPolicy(LLASurrogate(), acquisition_options=FAST).fit(request, data, restored_state, False)
    assert other.info["fit_skipped"] and other.model is not fitted.model
    Z = torch.rand(2, 5, 2, dtype=F64, generator=torch.Generator().manual_seed(3))
    a, b = fitted.model.posterior(Z), other.model.posterior(Z)
    assert torch.equal(a.mean, b.mean) and torch.equal(a.variance, b.variance)
    again = _policy().suggest(request, fitted.state)
    assert torch.equal(again.X, _policy().suggest(request, restored_state).X)


def test_only_grew_compares_rows_as_a_multiset() -> None:
    X = torch.rand(5, 3, dtype=F64)
    y = torch.rand(5, dtype=F64)
    assert only_grew(X[:3], y[:3], X, y)
    assert only_grew(X, y, X.flip(0), y.flip(0))
    assert not only_grew(X, y, X[:4], y[:4])
    assert not only_grew(X[:3], y[:3] + 1, X, y)
    assert not only_grew(torch.cat([X[:1], X[:1]]), torch.cat([y[:1], y[:1]]), X, y)


def test_mixed_space_is_one_hot_encoded_and_rounded() -> None:
    space = SearchSpace([
        FloatParam(name="x", low=0, high=1),
        IntParam(name="n", low=1, high=40),
        CategoricalParam(name="c", choices=["a", "b", "c"]),
    ])
    X = draw_sobol(space, seed=0, start=0, count=12)
    y = -(X[:, 0] - 0.3) ** 2 - (X[:, 1] - 0.5) ** 2 + (X[:, 2] == 1).to(F64)
    suggestion = _policy().suggest(_request(space, X, y, count=2))
    assert suggestion.policy == "lla", suggestion.info
    assert torch.equal(space.canonicalize(suggestion.X), suggestion.X)
    assert suggestion.state.tensors["net.layers.0.weight"].shape[1] == 2 * 2 + 3


def test_large_batches_get_a_thompson_tail_from_the_lla_posterior() -> None:
    space = _space2()
    X, y = _data(space, 10)
    suggestion = _policy().suggest(_request(space, X, y, count=12))
    assert suggestion.policy == "lla", suggestion.info
    Z = suggestion.X
    assert Z.shape == (12, 2) and torch.equal(space.canonicalize(Z), Z)
    assert torch.cdist(Z, Z).add(torch.eye(12, dtype=F64)).min() > 1e-9
    assert torch.cdist(Z, X).min() > 1e-9


def test_fit_failure_falls_back_to_sobol(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise ValueError("diverged")

    monkeypatch.setattr(lla_module, "fit_lla_model", broken)
    space = _space2()
    X, y = _data(space, 6)
    suggestion = _policy().suggest(_request(space, X, y, count=2))
    assert suggestion.policy == "lla->sobol-fallback"
    assert "diverged" in suggestion.fallback_reason and suggestion.X.shape == (2, 2)


def test_predict_returns_mean_and_sd_in_target_units() -> None:
    space = _space2()
    X, y = _data(space, 12)
    prediction = _policy().predict(_request(space, X, 100.0 + y), X[:4])
    mean, sd = prediction.mean, prediction.sd
    assert mean.shape == (4,) and sd.shape == (4,) and bool((sd > 0).all())
    assert torch.allclose(mean, 100.0 + y[:4], atol=0.05)


def test_options_carried_by_the_request_are_used() -> None:
    space = _space2()
    X, y = _data(space, 8)
    request = _request(space, X, y, surrogate_options={"width": 8, "depth": 1, "epochs": 50})
    suggestion = _policy().suggest(request)
    assert suggestion.policy == "lla"
    weights = [k for k in suggestion.state.tensors if k.startswith("net.") and k.endswith(".weight")]
    assert len(weights) == 2 and suggestion.state.tensors["net.layers.0.weight"].shape[0] == 8


def test_several_outcomes_share_one_joint_network_and_its_state() -> None:
    from service.optimizers.outcomes import OutcomeBound, Outcomes

    space = _space2()
    X, y = _data(space, 10)
    Y = torch.stack([y, -(X[:, 1] - 0.6) ** 2, X.sum(-1)], dim=-1)
    outcomes = Outcomes(Y=Y, names=("f", "g", "m"), n_objectives=2, constraints=(OutcomeBound(2, "<=", 1.5),))
    joint = {**SMALL.model_dump(), "outcome_networks": "joint"}
    request = _request(space, X, y, count=2, outcomes=outcomes, surrogate_options=joint)
    first = _policy().suggest(request)
    assert first.policy == "lla" and first.info["regime"] == "joint", (first.info, first.fallback_reason)
    assert first.state.tensors["net.layers.2.weight"].shape[0] == 3  # one output per outcome
    again = _policy().suggest(request, SurrogateState.from_bytes(first.state.to_bytes()))
    assert again.info["fit_skipped"] and torch.equal(again.X, first.X)


def test_several_outcomes_get_one_network_each_by_default_and_keep_their_states() -> None:
    from botorch.models.model import ModelList

    from service.optimizers.outcomes import OutcomeBound, Outcomes

    space = _space2()
    X, y = _data(space, 10)
    Y = torch.stack([y, X.sum(-1)], dim=-1)
    outcomes = Outcomes(Y=Y, names=("f", "m"), n_objectives=1, constraints=(OutcomeBound(1, "<=", 1.2),))
    request = _request(space, X, y, outcomes=outcomes)
    policy = _policy()
    fitted = policy.fit_all(request, GPData.from_request(X, y, None), None, safe=False)
    assert isinstance(fitted.model, ModelList) and len(fitted.model.models) == 2
    assert all(m.net.layers[-1].weight.shape[0] == 1 for m in fitted.model.models)  # one output each
    first = policy.suggest(request)
    assert first.policy == "lla" and "regime" not in first.info, (first.info, first.fallback_reason)
    assert {k.split("/")[0] for k in first.state.tensors} == {"0", "1"}  # one state per outcome
    again = _policy().suggest(request, SurrogateState.from_bytes(first.state.to_bytes()))
    assert again.info["fit_skipped"] and torch.equal(again.X, first.X)
