"""Online marginal-likelihood training: evidence goes up, noise is learned, control hooks work."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bdl_core.laplace import Laplace
from bdl_core.marglik import (
    MarglikHistory,
    TrainingCancelled,
    batch_negative_log_likelihood,
    map_objective,
    train,
)


def _sine_loader(n: int = 100, noise: float = 0.1, seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.sin(3 * X) + noise * torch.randn(n, 1, generator=g, dtype=torch.float64)
    return DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True,
                      generator=torch.Generator().manual_seed(seed))


def _mlp(n_in: int = 1, n_out: int = 1, hidden: int = 16, seed: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out)).double()


def test_batch_nll_and_map_objective_closed_forms():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(5, 2, generator=g, dtype=torch.float64)
    y = torch.randn(5, 2, generator=g, dtype=torch.float64)
    sigma = torch.tensor(0.3, dtype=torch.float64)
    expected = -torch.distributions.Normal(f, sigma).log_prob(y).sum()
    torch.testing.assert_close(batch_negative_log_likelihood(f, y, "regression", sigma), expected)
    labels = torch.tensor([0, 1, 1, 0, 1])
    expected = -torch.log_softmax(f, -1)[torch.arange(5), labels].sum()
    torch.testing.assert_close(batch_negative_log_likelihood(f, labels, "classification"), expected)
    theta = torch.randn(7, generator=g, dtype=torch.float64)
    prior = torch.rand(7, generator=g, dtype=torch.float64) + 0.5
    value = map_objective(f, labels, theta, prior, n_data=40, likelihood="classification")
    torch.testing.assert_close(value, expected / 5 + (prior * theta**2).sum() / 80)


def test_training_raises_evidence_and_learns_noise():
    loader = _sine_loader(noise=0.1)
    calls = []
    la, history = train(_mlp(), loader, likelihood="regression", structure="full", prior="layerwise",
                        epochs=150, lr=2e-2, n_epochs_burnin=10, marglik_frequency=10,
                        n_hypersteps=30, sigma_noise_init=1.0,
                        progress_callback=lambda e, n, info: calls.append((e, n, dict(info))))
    assert isinstance(history, MarglikHistory)
    assert history.marglik_epochs == list(range(10, 151, 10))
    assert len(history.loss) == 150 and len(history.log_marginal_likelihood) == 15
    lml = history.log_marginal_likelihood
    assert lml[-1] > lml[0] + 50  # from a noise-1 fit to a noise-0.1 fit: a large gain
    sigma = la.sigma_noise.item()
    assert 0.1 / 1.5 < sigma < 0.1 * 1.5
    assert history.sigma_noise[-1] == pytest.approx(sigma)
    # the returned Laplace is fitted at the returned weights with the learned hyperparameters
    refit = Laplace(la.model, "regression", structure="full", prior="layerwise",
                    prior_precision=la.prior_precision, sigma_noise=la.sigma_noise)
    refit.fit(loader)
    torch.testing.assert_close(refit.log_marginal_likelihood(), la.log_marginal_likelihood())
    assert la.log_marginal_likelihood().item() == pytest.approx(lml[-1], rel=1e-9)
    # progress: once per epoch, in order, with the documented keys
    assert [c[0] for c in calls] == list(range(1, 151)) and all(c[1] == 150 for c in calls)
    assert set(calls[0][2]) == {"loss", "marglik_step", "log_marginal_likelihood",
                                "prior_precision_mean", "sigma_noise"}
    assert [c[2]["marglik_step"] for c in calls].count(True) == 15
    assert calls[-1][2]["log_marginal_likelihood"] == pytest.approx(lml[-1])
    assert history.to_dict()["epochs_run"] == 150


def test_fixed_sigma_is_not_learned():
    la, history = train(_mlp(), _sine_loader(n=40), likelihood="regression", structure="diag",
                        epochs=6, n_epochs_burnin=1, marglik_frequency=2, n_hypersteps=5,
                        sigma_noise_init=0.5, learn_sigma=False)
    assert history.sigma_noise == [pytest.approx(0.5)] * 3
    assert la.sigma_noise.item() == pytest.approx(0.5)


def test_plain_list_of_batches_counts_the_data():
    X, y = _sine_loader(n=40).dataset.tensors
    batches = [(X[:25], y[:25]), (X[25:], y[25:])]
    la, history = train(_mlp(), batches, structure="diag", epochs=3, n_epochs_burnin=1,
                        marglik_frequency=1, n_hypersteps=2)
    assert la.n_data == 40 and history.epochs_run == 3


def test_should_stop_raises_training_cancelled():
    answers = iter([False, False, True])
    with pytest.raises(TrainingCancelled) as info:
        train(_mlp(), _sine_loader(n=40), structure="diag", epochs=10, n_epochs_burnin=1,
              marglik_frequency=1, n_hypersteps=2, should_stop=lambda: next(answers))
    assert info.value.epoch == 3
    assert info.value.history.epochs_run == 2
    assert info.value.history.marglik_epochs == [1, 2]


def _corrupting_run(early_stopping: bool):
    """Weights frozen (lr 0) and hyperparameters improving until epoch 5, then destroyed."""
    model = _mlp()
    saved = {}

    def corrupt(epoch, epochs, info):
        if epoch == 5:
            saved["state"] = {k: v.clone() for k, v in model.state_dict().items()}
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(3.0 * torch.randn_like(p))

    la, history = train(model, _sine_loader(n=40), structure="full", prior="scalar", epochs=20,
                        lr=0.0, lr_hyp=0.05, n_epochs_burnin=1, marglik_frequency=1, n_hypersteps=5,
                        early_stopping=early_stopping, patience=3, progress_callback=corrupt)
    return model, la, history, saved["state"]


def test_early_stopping_restores_the_best_state():
    model, la, history, best_state = _corrupting_run(early_stopping=True)
    assert history.stopped_early and history.restored_best
    assert history.best_epoch == 5 and history.epochs_run == 8  # 3 marglik steps without gain
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, best_state[name])
    assert la.model is model
    index = history.marglik_epochs.index(5)
    assert la.prior_precision.item() == pytest.approx(history.prior_precision_mean[index])
    assert la.sigma_noise.item() == pytest.approx(history.sigma_noise[index])
    assert la.log_marginal_likelihood().item() == pytest.approx(history.best_log_marginal_likelihood)


def test_without_early_stopping_the_final_state_is_returned():
    model, la, history, best_state = _corrupting_run(early_stopping=False)
    assert not history.stopped_early and not history.restored_best
    assert history.epochs_run == 20 and history.best_epoch == 5
    assert not torch.equal(model.state_dict()["0.weight"], best_state["0.weight"])
    assert history.log_marginal_likelihood[-1] < history.best_log_marginal_likelihood


def test_classification_last_layer_and_kron():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 2, generator=g, dtype=torch.float64)
    y = (X[:, 0] * X[:, 1] > 0).long() + (X[:, 0] > 1).long()
    loader = DataLoader(TensorDataset(X, y), batch_size=20, shuffle=True, generator=g)
    la, history = train(_mlp(n_in=2, n_out=3), loader, likelihood="classification", structure="kron",
                        subset="last_layer", prior="scalar", epochs=20, lr=1e-2, n_epochs_burnin=5,
                        marglik_frequency=5, n_hypersteps=10)
    assert la.subset == "last_layer" and la.n_params == 16 * 3 + 3
    assert history.sigma_noise == [1.0] * 4
    assert all(math.isfinite(v) for v in history.log_marginal_likelihood)
    assert history.log_marginal_likelihood[-1] > history.log_marginal_likelihood[0]


def test_training_with_minibatch_bound():
    loader = _sine_loader(noise=0.1)
    la, history = train(_mlp(), loader, likelihood="regression", structure="function",
                        prior="layerwise", epochs=120, lr=2e-2, n_epochs_burnin=10,
                        marglik_frequency=10, n_hypersteps=30, marglik_batch_size=20,
                        bound="output", generator=torch.Generator().manual_seed(0))
    assert la.structure == "function"
    assert 0.1 / 1.5 < history.sigma_noise[-1] < 0.1 * 1.5
    assert all(math.isfinite(v) for v in history.log_marginal_likelihood)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="optimizer"):
        train(_mlp(), _sine_loader(n=20), optimizer="lbfgs", epochs=1)
    with pytest.raises(ValueError, match="bound"):
        train(_mlp(), _sine_loader(n=20), bound="exact", epochs=1)
