"""The typed front (one class per structure, ``Laplace`` as factory), the one hyperparameter object and the
one online-marglik loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.curvature import ParameterLayout
from bdl_core.hyperparameters import Hyperparameters
from bdl_core.laplace import POSTERIORS, DiagLaplace, FullLaplace, KronLaplace, Laplace
from bdl_core.likelihood import Likelihood
from bdl_core.marglik import TrainingCancelled
from bdl_core.marglik.loop import BestState, LoopCallbacks, run_online_marglik
from bdl_core.priors import PriorPrecision


def _data(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    X = torch.randn(20, 3, dtype=torch.float64)
    return model, X, torch.randint(0, 2, (20,))


def test_the_factory_returns_the_structure_class_with_the_same_evidence() -> None:
    model, X, y = _data()
    for structure, cls in POSTERIORS.items():
        la = Laplace(model, "classification", structure=structure, prior="layerwise").fit(X, y)
        assert type(la) is cls
    typed = KronLaplace(model, "classification", kfac="reduce", prior="layerwise").fit(X, y)
    by_name = Laplace(model, "classification", structure="kron", kfac="reduce", prior="layerwise").fit(X, y)
    assert torch.equal(typed.log_marginal_likelihood(), by_name.log_marginal_likelihood())
    with pytest.raises(TypeError):
        DiagLaplace(model, "classification", kfac="reduce")
    assert repr(FullLaplace(model, "classification")).startswith("FullLaplace(likelihood='classification'")


def test_a_prior_mean_enters_the_evidence_as_theta_minus_mu() -> None:
    model, X, y = _data(1)
    zero = FullLaplace(model, "classification", prior_precision=2.0).fit(X, y)
    theta = zero.theta_map
    mean = torch.linspace(-1, 1, theta.numel(), dtype=torch.float64)
    centred = FullLaplace(model, "classification", prior_precision=2.0, prior_mean=mean).fit(X, y)
    shift = 0.5 * 2.0 * ((theta - mean).pow(2).sum() - theta.pow(2).sum())
    with torch.no_grad():
        difference = float(zero.log_marginal_likelihood() - centred.log_marginal_likelihood())
    assert difference == pytest.approx(float(shift))


def test_hyperparameters_floor_trainables_and_snapshots() -> None:
    model, _, _ = _data()
    prior = PriorPrecision(ParameterLayout(model), "layerwise", init=1.0)
    hypers = Hyperparameters(prior, 0.5, learn_sigma=True, min_sigma=0.1)
    assert hypers.trainable() == [prior.log_precision, hypers.log_sigma]
    kept = hypers.snapshot()
    with torch.no_grad():
        hypers.log_sigma.fill_(-10.0)
        prior.log_precision.fill_(3.0)
    hypers.apply_floor_()
    assert float(hypers.sigma.detach()) == pytest.approx(0.1)
    hypers.restore(kept)
    assert float(hypers.sigma.detach()) == pytest.approx(0.5) and torch.all(prior.log_precision == 0.0)
    assert Hyperparameters(prior, 1.0, learn_sigma=False).trainable() == [prior.log_precision]
    assert Likelihood.of("regression").is_regression and Likelihood.of("classification") == "classification"
    with pytest.raises(ValueError, match="likelihood must be one of"):
        Likelihood.of("poisson")


def test_the_loop_tracks_the_best_evidence_stops_early_and_restores_it() -> None:
    evidence = {2: 1.0, 4: 3.0, 6: 2.0, 8: 2.5, 10: 9.0}
    state = {"epoch": 0}
    seen: list[tuple[int, dict]] = []
    record = run_online_marglik(
        10, lambda epoch: state.update(epoch=epoch) or float(epoch), lambda epoch: epoch % 2 == 0,
        lambda epoch: evidence[epoch],
        callbacks=LoopCallbacks(progress=lambda epoch, total, info: seen.append((epoch, info))),
        best=BestState(snapshot=lambda: state["epoch"], restore=lambda kept: state.update(epoch=kept), patience=2))
    assert record.evidence_epochs == [2, 4, 6, 8] and record.best_epoch == 4 and record.best_evidence == 3.0
    assert record.stopped_early and record.restored_best and state["epoch"] == 4
    assert record.losses == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert seen[3] == (4, {"loss": 4.0, "log_marglik": 3.0}) and seen[2] == (3, {"loss": 3.0})


def test_the_loop_cancels_before_an_epoch_and_skips_non_finite_evidence() -> None:
    calls = []
    with pytest.raises(TrainingCancelled) as info:
        run_online_marglik(5, lambda epoch: calls.append(epoch) or 0.0, lambda epoch: False, lambda epoch: 0.0,
                           callbacks=LoopCallbacks(should_stop=lambda: len(calls) == 3))
    assert info.value.epoch == 4 and calls == [1, 2, 3]
    record = run_online_marglik(3, lambda epoch: 0.0, lambda epoch: True,
                                lambda epoch: float("nan") if epoch == 2 else float(epoch))
    assert record.best_epoch == 3 and record.evidence[1] != record.evidence[1]
