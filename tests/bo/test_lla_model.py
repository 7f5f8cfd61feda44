"""The fitted LLA surrogate as a BoTorch model: shapes, gradients, data fit, the pitfall, BoTorch use."""

from __future__ import annotations

import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.optim import optimize_acqf
from botorch.posteriors.gpytorch import GPyTorchPosterior

from bdl_core.bo import InputEncoder, LLAConfig, LLAModel, fit_lla_model

F64 = torch.float64
SMALL = LLAConfig(width=16, depth=2, epochs=300, warm_epochs=60)


def _branin_like(X: torch.Tensor) -> torch.Tensor:
    return torch.sin(5 * X[:, 0]) * torch.cos(3 * X[:, 1]) + X[:, 0] ** 2


def _fitted(n: int = 20, config: LLAConfig = SMALL, seed: int = 0) -> tuple[LLAModel, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, dtype=F64, generator=g)
    y = _branin_like(X)
    return fit_lla_model(X, y, InputEncoder(2), config, seed=seed), X, y


def test_posterior_shapes_for_batched_inputs_and_gradients_reach_x() -> None:
    model, _, _ = _fitted()
    for shape in [(5, 2), (4, 3, 2), (2, 3, 1, 2)]:
        X = torch.rand(*shape, dtype=F64, requires_grad=True)
        posterior = model.posterior(X)
        assert isinstance(posterior, GPyTorchPosterior)
        q = shape[-2]
        assert posterior.mean.shape == (*shape[:-1], 1)
        assert posterior.mvn.covariance_matrix.shape == (*shape[:-2], q, q)
        (posterior.mean.sum() + posterior.variance.sum()).backward()
        assert X.grad is not None and bool(torch.isfinite(X.grad).all()) and float(X.grad.abs().sum()) > 0
    # the joint covariance of a batch is exactly the covariance of its points evaluated together
    X = torch.rand(3, 2, dtype=F64)
    joint = model.posterior(X.unsqueeze(0)).mvn.covariance_matrix[0]
    single = model.posterior(X.unsqueeze(1)).variance.reshape(-1)
    assert torch.allclose(joint.diagonal(), single, atol=1e-12)


def test_observation_noise_is_added_only_when_asked() -> None:
    model, X, _ = _fitted()
    latent = model.posterior(X[:4]).variance.reshape(-1)
    noisy = model.posterior(X[:4], observation_noise=True).variance.reshape(-1)
    assert torch.allclose(noisy - latent, model.noise_variance.expand(4), atol=1e-12)
    given = torch.full((4, 1), 0.3, dtype=F64)
    assert torch.allclose(model.posterior(X[:4], observation_noise=given).variance.reshape(-1) - latent,
                          torch.full((4,), 0.3, dtype=F64), atol=1e-12)


def test_mean_interpolates_noiseless_data_and_sd_is_small_at_the_data() -> None:
    model, X, y = _fitted(n=25, config=LLAConfig(width=32, depth=2, epochs=1000))
    with torch.no_grad():
        train = model.posterior(X.unsqueeze(1))
        far = model.posterior(torch.rand(200, 1, 2, dtype=F64, generator=torch.Generator().manual_seed(9)))
    residual = (train.mean.reshape(-1) - y).abs()
    assert float(residual.max()) < 0.05 * float(y.std()), residual.max()
    assert float(train.variance.sqrt().max()) < float(far.variance.sqrt().median())


def test_pitfall_sd_grows_away_from_the_data_inside_the_box() -> None:
    """Data in the middle of [0, 1]^2: along rays to a corner and to an edge the sd keeps growing."""
    g = torch.Generator().manual_seed(3)
    X = 0.4 + 0.2 * torch.rand(15, 2, dtype=F64, generator=g)
    model = fit_lla_model(X, _branin_like(X), InputEncoder(2), SMALL)
    t = torch.linspace(0.0, 1.0, 11, dtype=F64).unsqueeze(-1)
    for end in ([1.0, 1.0], [0.0, 0.5], [0.0, 0.0]):
        ray = 0.5 + t * (torch.tensor(end, dtype=F64) - 0.5)  # centre of the data -> the box's boundary
        with torch.no_grad():
            sd = model.posterior(ray.unsqueeze(1)).variance.sqrt().reshape(-1)
        outside = sd[2:]  # t >= 0.2: beyond the data square [0.4, 0.6]^2
        assert bool((outside[1:] >= 0.99 * outside[:-1]).all()), (end, sd)  # non-decreasing (1% slack)
        assert float(sd[-1]) > 5 * float(sd[:3].max()), (end, sd)


def test_qlognei_optimisation_runs_on_the_model() -> None:
    model, X, _ = _fitted()
    acqf = qLogNoisyExpectedImprovement(model=model, X_baseline=X, prune_baseline=True)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=F64)
    candidates, value = optimize_acqf(acqf, bounds=bounds, q=2, num_restarts=2, raw_samples=32,
                                      options={"maxiter": 20})
    assert candidates.shape == (2, 2) and bool(torch.isfinite(value))
    assert bool(((candidates >= 0) & (candidates <= 1)).all())


def test_warm_start_keeps_the_function_and_trains_fewer_steps() -> None:
    model, X, y = _fitted()
    X2 = torch.cat([X, torch.rand(3, 2, dtype=F64)])
    y2 = torch.cat([y, 10 + _branin_like(X2[-3:])])  # new standardisation
    cold_like = LLAConfig(width=16, depth=2, epochs=300, warm_epochs=0, warm_final_marglik_steps=0)
    warm = fit_lla_model(X2, y2, InputEncoder(2), cold_like, warm=model)
    assert warm.info["warm_started"] and warm.info["steps"] == 0
    with torch.no_grad():  # zero warm steps: the network function is unchanged in target units
        assert torch.allclose(warm.posterior(X2).mean, model.posterior(X2).mean, atol=1e-10)
    other = fit_lla_model(X2, y2, InputEncoder(2), LLAConfig(width=8, depth=1, epochs=50), warm=model)
    assert not other.info["warm_started"] and other.info["steps"] == 50


def test_parametric_form_when_data_outnumber_parameters() -> None:
    config = LLAConfig(width=3, depth=1, epochs=200, parametric_structure="kron")
    model, X, _ = _fitted(n=40, config=config)  # P = 4 * 3 + 3 + 3 + 1 = 19 < 40
    assert model.info["regime"] == "parametric"
    X_test = torch.rand(3, 2, 2, dtype=F64, requires_grad=True)
    posterior = model.posterior(X_test)
    assert posterior.mvn.covariance_matrix.shape == (3, 2, 2)
    posterior.variance.sum().backward()
    assert X_test.grad is not None and bool(torch.isfinite(X_test.grad).all())


def test_categorical_columns_are_one_hot_inside_the_model() -> None:
    g = torch.Generator().manual_seed(4)
    X = torch.cat([torch.rand(24, 1, dtype=F64, generator=g), torch.randint(0, 3, (24, 1), generator=g).to(F64)], 1)
    y = X[:, 0] + torch.tensor([0.0, 2.0, -1.0], dtype=F64)[X[:, 1].long()]
    model = fit_lla_model(X, y, InputEncoder(2, {1: 3}), SMALL)
    assert model.net.layers[0].in_features == 2 + 3
    grid = torch.tensor([[0.5, 0.0], [0.5, 1.0], [0.5, 2.0]], dtype=F64)
    with torch.no_grad():
        mean = model.posterior(grid.unsqueeze(1)).mean.reshape(-1)
    assert float(mean[1]) > float(mean[0]) > float(mean[2])


def test_posterior_mean_equals_the_posteriors_mean():
    generator = torch.Generator().manual_seed(3)
    X = torch.rand(12, 2, generator=generator, dtype=torch.float64)
    y = 5.0 + 2.0 * torch.sin(4 * X).sum(-1)
    from bdl_core.bo import InputEncoder, LLAConfig, fit_lla_model

    model = fit_lla_model(X, y, InputEncoder(2), LLAConfig(width=8, depth=1, epochs=30))
    points = torch.rand(7, 2, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        expected = model.posterior(points).mean.reshape(-1)
    torch.testing.assert_close(model.posterior_mean(points), expected, rtol=1e-10, atol=1e-10)
