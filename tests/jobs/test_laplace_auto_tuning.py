"""``prior_tuning: "auto"``: the final prior's validation predictive is not worse than the MAP network's by
more than a standard error, whichever branch (evidence, grid, MAP-like fallback) it took."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from bdl_core.laplace import KronLaplace, validation_negative_log_likelihoods
from service.datasets.builtin import load_builtin
from service.jobs.data import make_splits
from service.jobs.kinds.laplace import (
    LaplaceJobConfig,
    map_validation_nlls,
    significantly_worse,
    hold_out_validation,
    tune_auto,
)


def test_significance_rule_counts_one_standard_error() -> None:
    map_ = torch.zeros(4, dtype=torch.float64)
    assert not significantly_worse(torch.tensor([-1.0, -1.1, -0.9, -1.0], dtype=torch.float64), map_)
    assert significantly_worse(torch.tensor([-1.0, 1.0, -1.0, 1.0], dtype=torch.float64) - 0.1, map_)
    assert significantly_worse(torch.full((4,), 0.1, dtype=torch.float64), map_)


@pytest.mark.parametrize("prior_precision", [1e-4, 1.0])
def test_auto_never_leaves_a_predictivesignificantly_worse_than_the_map(prior_precision: float) -> None:
    torch.manual_seed(0)
    splits = make_splits(load_builtin("sklearn:wine"), "target", "classification", test_fraction=0.2, seed=0,
                         dtype=torch.float64, device="cpu")
    train, x_val, y_val = hold_out_validation(splits, 0.3)
    network = torch.nn.Sequential(torch.nn.Linear(13, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
    for _ in range(300):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(network(train.x_train), train.y_train).backward()
        optimizer.step()
    la = KronLaplace(network, "classification", prior_precision=prior_precision).fit(train.x_train, train.y_train)
    context = SimpleNamespace(task="classification", progress=lambda *args, **kwargs: None)
    report = tune_auto(context, la, network, train, x_val, y_val, LaplaceJobConfig())
    final = validation_negative_log_likelihoods(la, x_val, y_val)
    map_nlls = map_validation_nlls(network, train, x_val, y_val, "classification")
    assert report["validation_nll_map"] == pytest.approx(float(map_nlls.mean()))
    if report["fell_back_to_map"]:
        assert float(la.prior_precision) == pytest.approx(1e6)
        assert float(final.mean()) == pytest.approx(float(map_nlls.mean()), abs=1e-3)
    else:
        assert not significantly_worse(final, map_nlls)
    if prior_precision == 1e-4:  # a prior this broad is underconfident: auto must move off it
        assert report["switched_to_validation"]
