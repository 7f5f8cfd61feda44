"""Output warping: the Yeo-Johnson estimate against a hand-written likelihood, the decision, the policy."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings
from service.optimizers import SuggestRequest, get_policy
from scipy import stats

from service.optimizers.output_warping import (CHI2_1_99, choose_output_warp, log_likelihood,
                                              maximum_likelihood_lambda, robust_scale, yeo_johnson)
from service.space import FloatParam, SearchSpace

F64 = torch.float64
CENTRE = torch.tensor([1.0, -1.0, 0.5, 2.0], dtype=F64)


def _yeo_johnson(z: np.ndarray, lmbda: float) -> np.ndarray:
    """Yeo and Johnson (2000), written out case by case."""
    out = np.empty_like(z)
    pos, neg = z >= 0, z < 0
    out[pos] = np.log1p(z[pos]) if abs(lmbda) < 1e-12 else ((z[pos] + 1) ** lmbda - 1) / lmbda
    out[neg] = -np.log1p(-z[neg]) if abs(lmbda - 2) < 1e-12 else -((1 - z[neg]) ** (2 - lmbda) - 1) / (2 - lmbda)
    return out


def _log_likelihood(z: np.ndarray, lmbda: float) -> float:
    """Profile Gaussian log-likelihood of the warped sample plus the log-Jacobian (constants dropped)."""
    warped = _yeo_johnson(z, lmbda)
    return -0.5 * len(z) * math.log(warped.var()) + (lmbda - 1) * float(np.sum(np.sign(z) * np.log1p(np.abs(z))))


def _heavy_tailed(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, y): y = -exp(||x - c||^2 / 3) on [-3, 3]^4 (maximisation-oriented: a tail of bad values)."""
    X = torch.rand(n, 4, dtype=F64, generator=torch.Generator().manual_seed(seed)) * 6 - 3
    return X, -torch.exp((X - CENTRE).pow(2).sum(-1) / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimate_and_statistic_equal_a_brute_force_grid(seed: int) -> None:
    _, y = _heavy_tailed(30, seed)
    warp = choose_output_warp(y, "yeo-johnson")
    assert warp is not None and warp.lmbda > 1.0
    z = (y.numpy() - warp.centre) / warp.scale
    grid = np.linspace(-3.0, 6.0, 9001)
    values = np.array([_log_likelihood(z, lam) for lam in grid])
    assert warp.lmbda == pytest.approx(grid[values.argmax()], abs=2e-3)
    assert warp.statistic == pytest.approx(2 * (_log_likelihood(z, warp.lmbda) - _log_likelihood(z, 1.0)), rel=1e-6)
    np.testing.assert_allclose(warp(y).numpy(), _yeo_johnson(z, warp.lmbda), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", ["normal", "left_tail", "right_tail"])
def test_the_numpy_likelihood_and_search_agree_with_scipy(shape: str) -> None:
    rng = np.random.default_rng(7)
    z = {"normal": rng.standard_normal(50), "left_tail": -np.exp(3 * rng.standard_normal(40)),
         "right_tail": np.exp(2 * rng.standard_normal(40))}[shape]
    for lam in (-1.0, 0.0, 0.7, 1.0, 2.0, 3.3):
        np.testing.assert_allclose(yeo_johnson(z, lam), stats.yeojohnson(z, lmbda=lam), rtol=1e-12, atol=1e-12)
        assert log_likelihood(lam, z) == pytest.approx(float(stats.yeojohnson_llf(lam, z)), rel=1e-10, abs=1e-9)
    assert maximum_likelihood_lambda(z) == pytest.approx(float(stats.yeojohnson_normmax(z)), abs=1e-6)


def test_robust_scale_is_median_and_iqr_then_sd() -> None:
    values = np.array([0.0, 1.0, 2.0, 3.0, 1e9])
    centre, scale = robust_scale(values)
    assert centre == 2.0 and scale == pytest.approx(2.0 / 1.349)
    assert robust_scale(np.array([1.0, 1.0, 1.0, 1.0, 5.0]))[1] == pytest.approx(float(np.std([1, 1, 1, 1, 5])))
    assert robust_scale(np.ones(6))[1] is None


def test_the_warp_preserves_order_and_recovers_the_log_scale() -> None:
    X, y = _heavy_tailed(40, 3)
    warp = choose_output_warp(y)
    assert warp is not None
    warped = warp(y)
    assert torch.equal(torch.argsort(warped), torch.argsort(y))
    quadratic = -(X - CENTRE).pow(2).sum(-1)  # what the values are the exp of
    raw_corr = float(torch.corrcoef(torch.stack([y, quadratic]))[0, 1])
    warped_corr = float(torch.corrcoef(torch.stack([warped, quadratic]))[0, 1])
    assert warped_corr > 0.9 > raw_corr


def test_gaussian_outcomes_are_warped_at_the_test_level_only() -> None:
    """The likelihood-ratio test at 99 %: about 1 Gaussian sample in 100 is warped (300 samples)."""
    samples = [torch.randn(40, dtype=F64, generator=torch.Generator().manual_seed(s)) for s in range(300)]
    either = sum(choose_output_warp(y, "yeo-johnson") is not None for y in samples)
    auto = sum(choose_output_warp(y, "auto") is not None for y in samples)
    assert either <= 9 and auto <= either  # 3 %: the binomial(300, 0.01) 99.9 % quantile is 9


def test_a_tail_of_good_values_is_warped_only_when_asked() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.cat([0.3 * torch.rand(40, dtype=F64, generator=g), torch.tensor([2.5, 3.0, 3.2], dtype=F64)])
    assert choose_output_warp(y, "auto") is None
    both = choose_output_warp(y, "yeo-johnson")
    assert both is not None and both.lmbda < 1.0 and both.statistic > CHI2_1_99


def test_off_few_points_and_constant_values_are_not_warped() -> None:
    _, y = _heavy_tailed(40, 0)
    assert choose_output_warp(y, "off") is None
    assert choose_output_warp(y[:7]) is None and choose_output_warp(y[:8]) is not None
    assert choose_output_warp(torch.ones(20, dtype=F64)) is None
    with pytest.raises(ValueError, match="output_warping"):
        choose_output_warp(y, "log")


def _request(X: torch.Tensor, y: torch.Tensor, options: dict, y_var: torch.Tensor | None = None) -> SuggestRequest:
    space = SearchSpace([FloatParam(name=f"x{i}", low=-3, high=3) for i in range(X.shape[1])])
    return SuggestRequest(space=space, X=(X + 3) / 6, y=y,  # encoded: the unit box
                          y_var=y_var, pending=torch.zeros(0, X.shape[1], dtype=F64), count=1, seed=0,
                          n_suggested=X.shape[0], n_initial=4, surrogate_options=options)


@pytest.mark.parametrize("surrogate", ["gp", "lla"])
def test_the_policy_warps_by_the_option_and_never_with_known_noise(surrogate: str) -> None:
    X, y = _heavy_tailed(20, 0)
    base = {"width": 16, "epochs": 200, "warm_epochs": 20} if surrogate == "lla" else {}
    policy = get_policy(surrogate)
    warped = policy.suggest(_request(X, y, base))
    assert warped.info["output_warp_lambda"] > 1.0, warped.info
    assert "output_warp_lambda" not in policy.suggest(_request(X, y, {**base, "output_warping": "off"})).info
    known = policy.suggest(_request(X, y, base, y_var=torch.full_like(y, 1e-4)))
    assert not known.fell_back and "output_warp_lambda" not in known.info


@pytest.fixture
def client(sqlite_database) -> Iterator[TestClient]:
    app = create_app(Settings(migrate_on_startup=False), database=sqlite_database)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("surrogate", ["gp", "lla", "auto"])
def test_the_api_takes_the_option_and_names_a_bad_value(client: TestClient, surrogate: str) -> None:
    body = {"name": f"w-{surrogate}", "parameters": [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}],
            "objectives": [{"name": "f"}], "surrogate": surrogate}
    created = client.post("/v1/studies", json={**body, "surrogate_options": {"output_warping": "off"}})
    assert created.status_code == 201, created.text
    bad = client.post("/v1/studies", json={**body, "name": "bad", "surrogate_options": {"output_warping": "log"}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "surrogate_options", "output_warping"]
