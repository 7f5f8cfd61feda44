"""PriorPrecision: structures, hand-built unit-wise products, set_, gradients to log precisions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.curvature import ParameterLayout
from bdl_core.priors import PriorPrecision

DT = torch.float64


def linear_layout() -> ParameterLayout:
    return ParameterLayout(nn.Sequential(nn.Linear(3, 2)).to(DT))  # weight (2, 3), bias (2,)


def test_scalar_and_layerwise() -> None:
    layout = ParameterLayout(nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)).to(DT))
    scalar = PriorPrecision(layout, "scalar", init=2.5)
    assert scalar.n_hyper == 1 and scalar.diagonal().dtype == DT
    torch.testing.assert_close(scalar.diagonal(), torch.full((layout.n_params,), 2.5, dtype=DT))
    torch.testing.assert_close(scalar.per_group(), torch.full((4,), 2.5, dtype=DT))

    layerwise = PriorPrecision(layout, "layerwise")
    assert layerwise.n_hyper == 4
    values = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=DT)
    layerwise.set_(values)
    expected = torch.cat([torch.full((g.numel,), v.item(), dtype=DT) for g, v in zip(layout.groups, values)])
    torch.testing.assert_close(layerwise.diagonal(), expected)
    torch.testing.assert_close(layerwise.per_group(), values)
    torch.testing.assert_close(layerwise.log_precision.detach(), values.log())


def test_unitwise_linear_hand_built_example() -> None:
    prior = PriorPrecision(linear_layout(), "unitwise")
    assert prior.n_hyper == 2 + 3 + 2 and prior.per_group() is None
    a, b, bias = [2.0, 3.0], [5.0, 7.0, 11.0], [13.0, 17.0]
    prior.set_(torch.tensor(a + b + bias, dtype=DT))
    # parameters_to_vector order: W[0, 0], W[0, 1], W[0, 2], W[1, 0], ..., b[0], b[1].
    expected = torch.tensor([10.0, 14.0, 22.0, 15.0, 21.0, 33.0, 13.0, 17.0], dtype=DT)
    torch.testing.assert_close(prior.diagonal(), expected)


def test_unitwise_conv_kernel_is_product_of_four_vectors() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, kernel_size=(2, 4))).to(DT)
    layout = ParameterLayout(model)
    prior = PriorPrecision(layout, "unitwise")
    assert prior.n_hyper == (3 + 2 + 2 + 4) + 3
    values = torch.rand(prior.n_hyper, dtype=DT) + 0.5
    prior.set_(values)
    v0, v1, v2, v3, vb = torch.split(values, [3, 2, 2, 4, 3])
    expected_w = torch.empty(3, 2, 2, 4, dtype=DT)
    for i in range(3):
        for j in range(2):
            for k in range(2):
                for m in range(4):
                    expected_w[i, j, k, m] = v0[i] * v1[j] * v2[k] * v3[m]
    torch.testing.assert_close(prior.diagonal(), torch.cat([expected_w.reshape(-1), vb]))


def test_scalar_set_gives_uniform_precision_for_every_structure() -> None:
    layout = ParameterLayout(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 3)).to(DT))
    for structure in ("scalar", "layerwise", "unitwise", "parameter"):
        prior = PriorPrecision(layout, structure, init=0.3)
        torch.testing.assert_close(prior.diagonal(), torch.full((layout.n_params,), 0.3, dtype=DT))
    prior = PriorPrecision(layout, "parameter")
    assert prior.n_hyper == layout.n_params
    values = torch.arange(1, layout.n_params + 1, dtype=DT)
    prior.set_(values)
    torch.testing.assert_close(prior.diagonal(), values)


def test_gradient_reaches_log_precisions() -> None:
    layout = linear_layout()
    weights = torch.arange(1.0, 9.0, dtype=DT)
    for structure in ("scalar", "layerwise", "unitwise", "parameter"):
        prior = PriorPrecision(layout, structure, init=2.0)
        (prior.diagonal() * weights).sum().backward()
        grad = prior.log_precision.grad
        assert grad is not None and grad.shape == (prior.n_hyper,)
        if structure == "scalar":  # d/dlog d of sum(d * w) = d * sum(w)
            torch.testing.assert_close(grad, torch.tensor([2.0 * weights.sum()], dtype=DT))
        if structure == "parameter":
            torch.testing.assert_close(grad, 2.0 * weights)
        assert (grad > 0).all()


def test_prior_is_a_module_and_validates() -> None:
    layout = linear_layout()
    prior = PriorPrecision(layout, "layerwise")
    assert [name for name, _ in prior.named_parameters()] == ["log_precision"]
    with pytest.raises(ValueError):
        PriorPrecision(layout, "blockwise")
    with pytest.raises(ValueError):
        prior.set_(-1.0)
    with pytest.raises(ValueError):
        prior.set_(torch.ones(5, dtype=DT))
