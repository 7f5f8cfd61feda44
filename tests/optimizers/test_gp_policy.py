"""The model-based policy with the GP surrogate: valid batches, fixed noise, fallbacks, mixed spaces, progress, predict."""

from __future__ import annotations

import pytest
import torch
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood

import service.optimizers.gp as gp_module
import service.optimizers.model_policy as policy_module
from service.optimizers.base import PredictionUnavailable, SuggestRequest
from service.optimizers.gp import GPSurrogate
from service.optimizers.model_policy import ModelBasedPolicy
from service.optimizers.sobol import draw_sobol
from service.space import CategoricalParam, FloatParam, IntParam, SearchSpace

F64 = torch.float64
OPTIMUM = torch.tensor([0.7, 0.2], dtype=F64)


def _quadratic(X: torch.Tensor) -> torch.Tensor:
    """Maximisation-oriented 2-d quadratic with maximum 0 at ``OPTIMUM``."""
    return -((X - OPTIMUM) ** 2).sum(-1)


def _space2() -> SearchSpace:
    return SearchSpace([FloatParam(name="a", low=0, high=1), FloatParam(name="b", low=0, high=1)])


def GPPolicy() -> ModelBasedPolicy:
    """A fresh model-based policy with the GP surrogate."""
    return ModelBasedPolicy(GPSurrogate())


def _request(space, X, y, count=1, pending=None, y_var=None, n_initial=4, key="study", seed=0) -> SuggestRequest:
    return SuggestRequest(
        space=space, X=X, y=y, y_var=y_var,
        pending=torch.zeros(0, space.dim, dtype=F64) if pending is None else pending,
        count=count, seed=seed, n_suggested=X.shape[0] + (0 if pending is None else pending.shape[0]),
        n_initial=n_initial, cache_key=key,
    )


def _data(space: SearchSpace, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    X = draw_sobol(space, seed=seed, start=0, count=n)
    return X, _quadratic(X)


def test_batch_is_distinct_canonical_in_bounds_and_avoids_pending() -> None:
    space = _space2()
    X, y = _data(space, 8)
    pending = draw_sobol(space, seed=1, start=0, count=2)
    suggestion = GPPolicy().suggest(_request(space, X, y, count=3, pending=pending))
    assert suggestion.policy == "gp", suggestion.info
    Z = suggestion.X
    assert Z.shape == (3, 2) and Z.dtype == F64
    assert bool((Z >= 0).all() and (Z <= 1).all())
    assert torch.equal(space.canonicalize(Z), Z)
    assert torch.cdist(Z, Z).add(torch.eye(3, dtype=F64)).min() > 1e-6  # pairwise distinct
    assert torch.cdist(Z, torch.cat([X, pending])).min() > 1e-6
    assert suggestion.info["fit_seconds"] >= 0 and suggestion.info["acq_seconds"] >= 0


def test_initial_design_counts_pending_trials() -> None:
    space = _space2()
    X, y = _data(space, 2)
    pending = draw_sobol(space, seed=0, start=2, count=1)
    policy = GPPolicy()
    s = policy.suggest(_request(space, X, y, pending=pending, n_initial=4))
    assert s.policy == "sobol"
    assert torch.equal(s.X, draw_sobol(space, seed=0, start=3, count=1))
    s = policy.suggest(_request(space, X, y, pending=torch.cat([pending, pending + 0.01]), n_initial=4))
    assert s.policy == "gp"
    empty = torch.zeros(0, 2, dtype=F64)
    assert policy.suggest(_request(space, empty, empty[:, 0], pending=X, n_initial=0)).policy == "sobol"


def test_known_noise_gives_fixed_noise_likelihood(monkeypatch: pytest.MonkeyPatch) -> None:
    space = _space2()
    X, y = _data(space, 6)
    y_var = torch.tensor([0.01, 0.02, 0.03, 0.01, 0.02, 0.05], dtype=F64)
    models = []
    real_fit = gp_module.fit_gp

    def spy(*args, **kwargs):
        result = real_fit(*args, **kwargs)
        models.append(result[0])
        return result

    monkeypatch.setattr(gp_module, "fit_gp", spy)
    assert GPPolicy().suggest(_request(space, X, y, y_var=y_var)).policy == "gp"
    likelihood = models[0].likelihood
    assert isinstance(likelihood, FixedNoiseGaussianLikelihood)
    expected = y_var / y.var()  # Standardize divides by the (unbiased) std of y
    assert torch.allclose(likelihood.noise.reshape(-1), expected, rtol=1e-10)
    models.clear()
    GPPolicy().suggest(_request(space, X, y, y_var=None))
    assert not isinstance(models[0].likelihood, FixedNoiseGaussianLikelihood)


@pytest.mark.parametrize("target", ["fit_gp", "propose_batch"])
def test_failures_fall_back_to_sobol_without_raising(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    space = _space2()
    X, y = _data(space, 6)

    def boom(*args, **kwargs):
        raise RuntimeError("synthetic failure")

    monkeypatch.setattr(gp_module if target == "fit_gp" else policy_module, target, boom)
    request = _request(space, X, y, count=2)
    suggestion = GPPolicy().suggest(request)
    assert suggestion.policy == "gp->sobol-fallback"
    assert suggestion.fell_back and "synthetic failure" in suggestion.fallback_reason
    assert torch.equal(suggestion.X, draw_sobol(space, 0, request.n_suggested, 2, avoid=X))


def test_one_failure_is_retried_in_safe_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    space = _space2()
    X, y = _data(space, 6)
    real_fit = gp_module.fit_gp
    calls = []

    def flaky(*args, **kwargs):
        calls.append(kwargs.get("safe"))
        if len(calls) == 1:
            raise RuntimeError("first fit fails")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(gp_module, "fit_gp", flaky)
    suggestion = GPPolicy().suggest(_request(space, X, y))
    assert suggestion.policy == "gp" and suggestion.info["safe_mode"] is True
    assert calls == [False, True]


@pytest.mark.parametrize(
    "name, X, y",
    [
        ("constant y", torch.rand(5, 2, dtype=F64, generator=torch.Generator().manual_seed(1)), torch.ones(5, dtype=F64)),
        ("one point", torch.tensor([[0.3, 0.3]], dtype=F64), torch.tensor([1.0], dtype=F64)),
        ("duplicate X", torch.tensor([[0.3, 0.3]] * 4 + [[0.6, 0.1]], dtype=F64), torch.tensor([1.0, 1.1, 0.9, 1.0, 2.0], dtype=F64)),
    ],
)
def test_degenerate_data_still_uses_the_model(name: str, X: torch.Tensor, y: torch.Tensor) -> None:
    space = _space2()
    suggestion = GPPolicy().suggest(_request(space, X, y, count=2, n_initial=1))
    assert suggestion.policy == "gp", (name, suggestion.info)
    assert suggestion.X.shape == (2, 2) and bool(torch.isfinite(suggestion.X).all())
    assert torch.cdist(suggestion.X, X).min() > 1e-6


def test_mixed_space_with_ints_and_categoricals() -> None:
    space = SearchSpace([
        FloatParam(name="x", low=-1, high=1),
        IntParam(name="n", low=1, high=6),
        IntParam(name="big", low=0, high=10_000),
        CategoricalParam(name="c", choices=["a", 7, 2.5]),
    ])
    X = draw_sobol(space, seed=0, start=0, count=8)
    params = space.decode_many(X)
    y = torch.tensor([-(p["x"] - 0.5) ** 2 - (p["n"] - 4) ** 2 + (p["c"] == 7) for p in params], dtype=F64)
    suggestion = GPPolicy().suggest(_request(space, X, y, count=2, n_initial=4))
    assert suggestion.policy == "gp", suggestion.info
    Z = suggestion.X
    assert torch.equal(space.canonicalize(Z), Z)
    assert torch.cdist(Z, X).min() > 1e-6 and torch.dist(Z[0], Z[1]) > 1e-6
    for p in space.decode_many(Z):
        assert isinstance(p["n"], int) and 1 <= p["n"] <= 6 and p["c"] in ("a", 7, 2.5)


def test_moves_towards_the_optimum_of_a_quadratic() -> None:
    space = _space2()
    policy = GPPolicy()
    X, y = _data(space, 5, seed=3)
    initial_regret = -y.max().item()
    warm = None
    for _ in range(15):
        s = policy.suggest(_request(space, X, y, n_initial=5, key="quadratic", seed=3), warm)
        assert s.policy == "gp" and s.state is not None
        warm = s.state
        X, y = torch.cat([X, s.X]), torch.cat([y, _quadratic(s.X)])
    final_regret = -y.max().item()
    assert final_regret < 1e-3 and final_regret < initial_regret / 20, (initial_regret, final_regret)


def test_predict_is_confident_at_data_and_uncertain_far_away() -> None:
    space = _space2()
    X = draw_sobol(space, seed=0, start=0, count=10) * 0.3  # data in [0, 0.3]^2
    y = 10.0 * _quadratic(X) + 5.0
    policy = GPPolicy()
    request = _request(space, X, y)
    prediction = policy.predict(request, X)
    mean, sd = prediction.mean, prediction.sd
    assert mean.shape == (10,) and sd.shape == (10,)
    assert torch.allclose(mean, y, atol=0.05 * y.std().item())
    far = torch.tensor([[1.0, 1.0], [0.95, 0.9]], dtype=F64)
    sd_far = policy.predict(request, far, prediction.state).sd
    assert sd.max() < 0.2 * sd_far.min()
    empty = torch.zeros(0, 2, dtype=F64)
    with pytest.raises(PredictionUnavailable):
        policy.predict(_request(space, empty, empty[:, 0]), far)


def test_small_discrete_space_is_enumerated_without_repeats() -> None:
    space = SearchSpace([IntParam(name="n", low=1, high=3), CategoricalParam(name="c", choices=["a", "b"])])
    everything = {(n, c) for n in (1, 2, 3) for c in "ab"}
    seen = [{"n": 1, "c": "a"}, {"n": 2, "c": "b"}, {"n": 3, "c": "a"}, {"n": 3, "c": "b"}]
    X = space.encode_many(seen)
    y = torch.tensor([0.0, 1.0, 0.5, 0.2], dtype=F64)
    suggestion = GPPolicy().suggest(_request(space, X, y, count=3, n_initial=2))
    assert suggestion.policy == "gp", suggestion.info
    proposed = [(p["n"], p["c"]) for p in space.decode_many(suggestion.X)]
    unused = everything - {(p["n"], p["c"]) for p in seen}
    assert set(proposed[:2]) == unused  # both unused points, then a forced repeat
    assert suggestion.info["sobol_filled"] == 1 and suggestion.X.shape == (3, 2)


def test_large_batch_gets_a_distinct_thompson_tail() -> None:
    space = _space2()
    X, y = _data(space, 10)
    suggestion = GPPolicy().suggest(_request(space, X, y, count=20))
    assert suggestion.policy == "gp" and "sobol_filled" not in suggestion.info, suggestion.info
    Z = suggestion.X
    assert Z.shape == (20, 2) and torch.equal(space.canonicalize(Z), Z)
    assert torch.cdist(Z, Z).add(torch.eye(20, dtype=F64)).min() > 1e-6
    assert torch.cdist(Z, X).min() > 1e-6
