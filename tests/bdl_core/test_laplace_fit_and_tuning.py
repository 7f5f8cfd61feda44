"""Fitting from a DataLoader, post-hoc tuning by evidence, hyperparameter handling."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bdl_core.laplace import Laplace

DT = torch.float64


def data(likelihood):
    g = torch.Generator().manual_seed(21)
    X = torch.randn(40, 3, generator=g, dtype=DT)
    if likelihood == "regression":
        return X, torch.sin(X[:, :1] * 2) + 0.1 * torch.randn(40, 1, generator=g, dtype=DT)
    return X, (X[:, 0] + X[:, 1] > 0).long()


def model(n_out):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, n_out)).to(DT)


@pytest.mark.parametrize("structure", ["full", "diag", "kron", "function"])
@pytest.mark.parametrize("likelihood", ["regression", "classification"])
def test_dataloader_fit_equals_tensor_fit(structure, likelihood):
    X, y = data(likelihood)
    net = model(1 if likelihood == "regression" else 2)
    sigma = 0.3 if likelihood == "regression" else 1.0
    a = Laplace(net, likelihood, structure, prior="layerwise", sigma_noise=sigma, fit_batch_size=1000).fit(X, y)
    loader = DataLoader(TensorDataset(X, y), batch_size=7, shuffle=False)
    b = Laplace(net, likelihood, structure, prior="layerwise", sigma_noise=sigma).fit(loader)
    assert a.n_data == b.n_data == 40
    assert torch.allclose(a.log_marginal_likelihood(), b.log_marginal_likelihood(), rtol=1e-10)
    Xs = X[:5]
    out_a, out_b = a.predict(Xs), b.predict(Xs)
    if likelihood == "regression":
        assert torch.allclose(out_a[1], out_b[1], rtol=1e-9)
    else:
        assert torch.allclose(out_a, out_b, rtol=1e-9)


@pytest.mark.parametrize("structure,prior", [("full", "scalar"), ("kron", "layerwise"),
                                             ("diag", "parameter"), ("function", "unitwise"),
                                             ("kron", "unitwise")])
def test_optimize_hyperparameters_increases_evidence(structure, prior):
    X, y = data("regression")
    la = Laplace(model(1), "regression", structure, prior=prior, prior_precision=20.0, sigma_noise=2.0)
    la.fit(X, y)
    before = la.log_marginal_likelihood().item()
    trace = la.optimize_hyperparameters(n_steps=40, lr=0.1)
    assert len(trace) == 41 and trace[0] == pytest.approx(before)
    assert trace[-1] > before + 1.0
    assert la.log_marginal_likelihood().item() == pytest.approx(trace[-1])
    assert la.sigma_noise < 2.0


def test_classification_tuning_and_fixed_noise():
    X, y = data("classification")
    la = Laplace(model(2), "classification", "kron", prior="layerwise", prior_precision=50.0).fit(X, y)
    trace = la.optimize_hyperparameters(n_steps=30)
    assert trace[-1] > trace[0]
    assert la.sigma_noise == 1.0 and la.hyperparameters() == [la.prior.log_precision]
    with pytest.raises(ValueError):
        Laplace(model(2), "classification", sigma_noise=0.5)
    with pytest.raises(ValueError):
        la.log_marginal_likelihood(sigma_noise=0.5)


def test_min_sigma_noise_floor_holds():
    """Near-noise-free linear data fitted exactly: the evidence wants sigma ~0.01, the floor wins."""
    g = torch.Generator().manual_seed(3)
    X = torch.randn(40, 3, generator=g, dtype=DT)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=DT) + 0.01 * torch.randn(40, 1, generator=g, dtype=DT)

    def fitted_linear(**kwargs):
        net = nn.Linear(3, 1, bias=False).to(DT)
        with torch.no_grad():
            net.weight.copy_(torch.linalg.lstsq(X, y).solution.T)
        return Laplace(net, "regression", "full", sigma_noise=0.5, **kwargs).fit(X, y)

    la = fitted_linear(min_sigma_noise=0.1)
    la.optimize_hyperparameters(n_steps=60, lr=0.2)
    assert la.sigma_noise >= 0.1 - 1e-12
    assert la.sigma_noise == pytest.approx(0.1)
    free = fitted_linear()
    free.optimize_hyperparameters(n_steps=60, lr=0.2)
    assert free.sigma_noise < 0.1
    floored = fitted_linear()
    floored.optimize_hyperparameters(n_steps=60, lr=0.2, min_sigma_noise=0.2)
    assert floored.sigma_noise == pytest.approx(0.2)


def test_hyperparameters_survive_refit_and_setters():
    X, y = data("regression")
    la = Laplace(model(1), "regression", "kron", prior="layerwise").fit(X, y)
    la.prior_precision = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=DT)
    la.sigma_noise = 0.25
    lml = la.log_marginal_likelihood()
    la.fit(X, y)
    assert torch.allclose(la.prior_precision, torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=DT))
    assert torch.allclose(la.log_marginal_likelihood(), lml)
    assert torch.allclose(la.log_marginal_likelihood(), la.log_marginal_likelihood(la.prior_precision, 0.25))
    # the cached posterior precision follows hyperparameter changes
    ld = la.posterior_precision.logdet()
    la.prior_precision = 10.0
    assert not torch.allclose(la.posterior_precision.logdet(), ld)
    with pytest.raises(ValueError):
        la.log_marginal_likelihood(torch.ones(3, dtype=DT))
