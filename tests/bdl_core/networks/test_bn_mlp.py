"""The batch-normalised MLPs of :mod:`bdl_core.networks`: shapes, orthogonal initialisation, batch norm,
shaping, and the first-layer gradient norm at moderate depth (paper's network vs standard BN-ReLU)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bdl_core.networks import (BatchNorm, ShapedActivation, bn_mlp, first_layer_gradient_norm, independent_inputs,
                               shaping_gain, standard_bn_mlp)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_orthogonal_weights(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    network = bn_mlp(7, 3, width=16, depth=5, activation="tanh", dtype=dtype)
    assert network(torch.randn(10, 7, dtype=dtype)).shape == (10, 3)
    linears = [m for m in network if isinstance(m, nn.Linear)]
    assert len(linears) == 6 and all(m.bias is None for m in linears[:-1])
    eye = torch.eye(16, dtype=dtype)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for linear in linears[1:-1]:  # square hidden maps: W W^T = I
        torch.testing.assert_close(linear.weight @ linear.weight.T, eye, atol=tol, rtol=0)
    first = linears[0].weight  # 16 x 7: orthonormal columns
    torch.testing.assert_close(first.T @ first, torch.eye(7, dtype=dtype), atol=tol, rtol=0)
    assert not any(p.requires_grad for m in network if isinstance(m, BatchNorm) for p in m.parameters())


def test_batch_norm_uses_batch_statistics_in_training_and_running_ones_otherwise() -> None:
    norm = BatchNorm(3).double()
    x = torch.randn(50, 3, dtype=torch.float64) * 4 + 2
    out = norm(x)
    torch.testing.assert_close(out.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(out.var(0, unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-4, rtol=0)
    one = x[:1]
    expected = (one - norm.running_mean) / (norm.running_var + 1e-5).sqrt()
    torch.testing.assert_close(norm(one), expected)  # a single training row: running statistics, no error
    norm.eval()
    torch.testing.assert_close(norm(x[:2]), (x[:2] - norm.running_mean) / (norm.running_var + 1e-5).sqrt())


def test_shaping_blends_towards_the_identity_with_depth() -> None:
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    assert shaping_gain(1, 1.0) == 1.0 and shaping_gain(4, 1.0) == 0.25 and shaping_gain(9, 0.0) == 1.0
    torch.testing.assert_close(ShapedActivation("tanh", 1.0)(x), torch.tanh(x))
    torch.testing.assert_close(ShapedActivation("relu", 0.25)(x), x + 0.25 * (torch.relu(x) - x))
    torch.testing.assert_close(ShapedActivation("linear", 1.0)(x), x)
    with pytest.raises(ValueError):
        ShapedActivation("swish")


def _median_gradient(make, depth: int, width: int, n: int, seeds=range(4)) -> float:
    norms = []
    for seed in seeds:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        network = make(depth).double()
        x = independent_inputs(n, width, generator)
        direction = torch.randn(n, width, generator=generator, dtype=torch.float64)
        norms.append(first_layer_gradient_norm(network, x, direction / direction.norm()))
    return sorted(norms)[len(norms) // 2]


def test_first_layer_gradient_stays_flat_for_the_paper_network_and_explodes_for_bn_relu() -> None:
    width = n = 16  # a batch of `width` linearly independent rows (see the benchmark for smaller batches)
    paper = {d: _median_gradient(lambda depth: bn_mlp(width, 1, width, depth), d, width, n) for d in (5, 40)}
    standard = {d: _median_gradient(lambda depth: standard_bn_mlp(width, 1, width, depth), d, width, n)
                for d in (5, 40)}
    assert all(math.isfinite(v) for v in (*paper.values(), *standard.values()))
    assert paper[40] < 2 * paper[5]          # flat in depth (measured ratio about 1)
    assert standard[40] > 1e3 * standard[5]  # exponential growth (measured ratio about 1e5)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        bn_mlp(3, 1, width=4, depth=0)
    with pytest.raises(ValueError):
        standard_bn_mlp(3, 1, width=0, depth=2)
    with pytest.raises(ValueError):
        independent_inputs(5, 4, torch.Generator().manual_seed(0))
