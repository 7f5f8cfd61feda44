"""Structured pruning: the smaller network computes exactly what the masked one does; costs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.curvature import ParameterLayout
from bdl_core.pruning import (
    PrunableParameters,
    keep_units_from_mask,
    network_cost,
    prune_copy,
    pruning_curve,
    shrink_network,
    structured_keep_mask,
)

DT = torch.float64


def lenet(activation=nn.ReLU):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 6, 3, padding=1), activation(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1), activation(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(8 * 2 * 2, 12), activation(), nn.Linear(12, 10),
    ).to(DT)


def mlp(activation=nn.Tanh):
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 9), activation(), nn.Linear(9, 7), activation(), nn.Linear(7, 2)).to(DT)


@pytest.mark.parametrize("make,n_in", [(lenet, 64), (mlp, 5)])
@pytest.mark.parametrize("activation", [nn.ReLU, nn.Tanh, nn.GELU])
def test_smaller_network_has_identical_outputs(make, n_in, activation):
    net = make(activation)
    with torch.no_grad():  # non-zero biases everywhere so a missed bias would show
        for p in net.parameters():
            p.add_(0.1)
    X = torch.randn(11, n_in, generator=torch.Generator().manual_seed(2), dtype=DT)
    layout = ParameterLayout(net)
    scores = torch.rand(layout.n_params, generator=torch.Generator().manual_seed(3), dtype=DT)
    pruned = prune_copy(net, scores, 0.5, structured=True)
    small = pruned.small
    assert torch.allclose(small(X), pruned.network(X), rtol=0, atol=1e-12)
    assert not torch.allclose(pruned.network(X), net(X))  # pruning did change the function
    n_small = sum(p.numel() for p in small.parameters())
    assert n_small < layout.n_params
    kept = keep_units_from_mask(pruned.mask.keep, PrunableParameters(ParameterLayout(pruned.network)))
    hidden = [m for m in small if isinstance(m, (nn.Linear, nn.Conv2d))][:-1]
    assert [getattr(m, "out_features", getattr(m, "out_channels", None)) for m in hidden] == \
        [int(k.sum()) for k in kept.values()]


def test_shrink_refuses_the_output_layer_and_unknown_layers():
    net = mlp()
    with pytest.raises(ValueError, match="output layer"):
        shrink_network(net, {"4": torch.ones(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="Not Linear"):
        shrink_network(net, {"1": torch.ones(9, dtype=torch.bool)})
    bad = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="Sigmoid"):
        shrink_network(bad, {"0": torch.tensor([True, False, True, True])})


def test_network_cost_closed_form():
    net = mlp()
    with torch.no_grad():
        net[0].weight[:3] = 0.0
    cost = network_cost(net, torch.zeros(1, 5, dtype=DT))
    n = 5 * 9 + 9 + 9 * 7 + 7 + 7 * 2 + 2
    assert cost.n_params == n and cost.n_nonzero == n - 15
    assert cost.flops_dense == 2 * (45 + 63 + 14) + 9 + 7 + 2
    assert cost.flops_sparse == cost.flops_dense - 2 * 15
    conv = network_cost(lenet(), torch.zeros(1, 64, dtype=DT))
    expected = 64 * (2 * 6 * 9 + 6) + 16 * (2 * 8 * 54 + 8) + (2 * 32 * 12 + 12) + (2 * 12 * 10 + 10)
    assert conv.flops_dense == expected


def test_structured_keep_mask_round_trip():
    net = lenet()
    layout = ParameterLayout(net)
    pr = PrunableParameters(layout)
    scores = torch.rand(layout.n_params, generator=torch.Generator().manual_seed(0), dtype=DT)
    keep = structured_keep_mask(scores, 0.4, pr)
    kept = keep_units_from_mask(keep, pr)
    assert [int(k.sum()) for k in kept.values()] == [6 - round(2.4), 8 - round(3.2), 12 - round(4.8)]


def test_pruning_curve_rows_and_monotone_cost():
    net = mlp(nn.ReLU)
    X = torch.randn(30, 5, generator=torch.Generator().manual_seed(1), dtype=DT)
    y = (X[:, 0] > 0).long()
    layout = ParameterLayout(net)
    scores = {"magnitude": layout.vector().abs(), "random": torch.rand(layout.n_params, dtype=DT)}
    seen = []

    def evaluate(model):
        return {"accuracy": float((model(X).argmax(-1) == y).double().mean())}

    for structured in (False, True):
        rows = pruning_curve(net, scores, [0.2, 0.5, 0.9], evaluate, X[:1], structured=structured,
                             on_pruned=lambda c, s, p: seen.append((c, s)))
        assert [(r["criterion"], r["sparsity"]) for r in rows] == [(c, s) for c in scores for s in (0.2, 0.5, 0.9)]
        for criterion in scores:
            counts = [r["n_nonzero"] for r in rows if r["criterion"] == criterion]
            flops = [r["flops_sparse"] for r in rows if r["criterion"] == criterion]
            assert counts == sorted(counts, reverse=True) and flops == sorted(flops, reverse=True)
        assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    unstructured = rows  # last loop was structured; check one unstructured number exactly
    rows = pruning_curve(net, {"magnitude": scores["magnitude"]}, [0.5], evaluate, X[:1])
    n_prunable = 5 * 9 + 9 + 9 * 7 + 7
    assert rows[0]["n_nonzero"] == layout.n_params - round(0.5 * n_prunable)
    assert len(seen) == 12 and unstructured[0]["n_params"] < layout.n_params


@pytest.mark.parametrize("name,spec", [("mlp", {"kind": "mlp", "hidden": [256, 256]}), ("cnn", {"kind": "cnn"})])
def test_benchmark_networks_are_the_job_networks(name, spec):
    from benchmarks.pruning import build_model
    from service.jobs.model_specs import parse_model_spec
    from service.jobs.networks import build_network

    ours = build_model(name, 3, torch.float32, torch.device("cpu"))
    theirs = build_network(parse_model_spec(spec), 64, 10, seed=3)
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
