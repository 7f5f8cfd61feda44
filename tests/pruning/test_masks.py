"""Global thresholds, structured unit selection, and masks that survive further training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.curvature import ParameterLayout
from bdl_core.pruning import (
    PrunableParameters,
    PruningMask,
    finetune_masked,
    global_keep_mask,
    removed_units,
    structured_keep_mask,
)

DT = torch.float64


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3)).to(DT)


def test_prunable_excludes_the_output_layer_unless_asked():
    layout = ParameterLayout(mlp())
    hidden = 4 * 5 + 5 + 5 * 6 + 6
    assert PrunableParameters(layout).n_prunable == hidden
    assert PrunableParameters(layout, include_output=True).n_prunable == layout.n_params
    pr = PrunableParameters(layout)
    assert pr.output_module == "4" and pr.n_units == 11
    assert [(u.module_name, u.n_units, u.first_unit) for u in pr.unit_layers] == [("0", 5, 0), ("2", 6, 5)]
    # unit of each entry: weight row i and bias i of layer "0" -> unit i
    assert pr.unit[:4].tolist() == [0] * 4 and pr.unit[16:20].tolist() == [4] * 4
    assert pr.unit[20:25].tolist() == [0, 1, 2, 3, 4]
    assert (pr.unit[-(6 * 3 + 3):] == -1).all()


def test_global_keep_mask_prunes_exactly_the_lowest_prunable_scores():
    layout = ParameterLayout(mlp())
    pr = PrunableParameters(layout)
    scores = torch.randperm(layout.n_params, generator=torch.Generator().manual_seed(2)).to(DT)
    keep = global_keep_mask(scores, 0.3, pr)
    n_pruned = round(0.3 * pr.n_prunable)
    assert int((~keep).sum()) == n_pruned
    assert keep[~pr.prunable].all()
    cut = scores[pr.prunable].sort().values[n_pruned - 1]
    assert (scores[~keep] <= cut).all() and (scores[keep & pr.prunable] > cut).all()
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="sparsity"):
            global_keep_mask(scores, bad, pr)


def test_structured_removes_lowest_units_per_layer_and_keeps_one():
    layout = ParameterLayout(mlp())
    pr = PrunableParameters(layout)
    scores = torch.rand(layout.n_params, generator=torch.Generator().manual_seed(4), dtype=DT)
    unit_scores = pr.unit_scores(scores)
    gone = removed_units(scores, 0.5, pr)
    assert int(gone["0"].sum()) == round(0.5 * 5) and int(gone["2"].sum()) == 3
    first = unit_scores[:5]
    assert first[gone["0"]].max() < first[~gone["0"]].min()
    assert all(int((~g).sum()) == 1 for g in removed_units(scores, 0.99, pr).values())
    keep = structured_keep_mask(scores, 0.5, pr)
    W0 = keep[:20].reshape(5, 4)
    assert (W0.all(1) == ~gone["0"]).all() and (W0.any(1) == W0.all(1)).all()
    assert torch.equal(keep[20:25], ~gone["0"])
    assert keep[~(pr.unit >= 0)].all()


def classification_data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 4, generator=g, dtype=DT)
    return X, (X[:, 0] + X[:, 1] > 0).long() + (X[:, 2] > 0.5).long()


def test_mask_holds_after_finetuning():
    net = mlp()
    X, y = classification_data()
    layout = ParameterLayout(net)
    keep = global_keep_mask(layout.vector().abs(), 0.6, PrunableParameters(layout))
    mask = PruningMask(layout, keep)
    before = layout.vector().clone()
    history = finetune_masked(net, mask, X, y, "classification", epochs=5, prior_diagonal=1.0, lr=1e-2,
                              batch_size=16, generator=torch.Generator().manual_seed(0))
    after = layout.vector()
    assert len(history) == 5 and history[-1] < history[0]
    assert (after[~keep] == 0).all()
    assert (after[keep] != before[keep]).float().mean() > 0.9  # the kept weights did train


def test_mask_holds_through_a_foreign_optimizer_with_stale_momentum():
    net = mlp()
    X, y = classification_data()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    for _ in range(3):  # momentum buffers with non-zero entries everywhere
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(X), y).backward()
        optimizer.step()
    layout = ParameterLayout(net)
    keep = global_keep_mask(layout.vector().abs(), 0.5, PrunableParameters(layout))
    mask = PruningMask(layout, keep)
    with mask.held():
        for _ in range(5):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(X), y).backward()
            assert all((p.grad[~m] == 0).all() for (name, p) in layout.named_parameters()
                       for m in [mask.masks.get(name, torch.ones_like(p, dtype=torch.bool))])
            optimizer.step()
            assert (layout.vector()[~keep] == 0).all()
    # released: the next step revives pruned entries through the momentum buffers
    optimizer.zero_grad()
    nn.functional.cross_entropy(net(X), y).backward()
    optimizer.step()
    assert (layout.vector()[~keep] != 0).any()


def test_dense_state_dict_zeroes_pruned_entries_without_touching_the_model():
    net = mlp()
    layout = ParameterLayout(net)
    keep = torch.ones(layout.n_params, dtype=torch.bool)
    keep[:7] = False
    mask = PruningMask(layout, keep)
    state = mask.dense_state_dict()
    assert (state["0.weight"].reshape(-1)[:7] == 0).all() and (net[0].weight.reshape(-1)[:7] != 0).all()
    assert mask.n_pruned == 7 and mask.sparsity() == pytest.approx(7 / layout.n_params)
