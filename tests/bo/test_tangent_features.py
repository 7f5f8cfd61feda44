"""Closed-form tangent features of the LLA network against brute-force Jacobians."""

from __future__ import annotations

import pytest
import torch

from bdl_core.bo import ACTIVATIONS, InputEncoder, TangentMLP, gram_blocks, tangent_kernel
from bdl_core.curvature import ParameterLayout, jacobians

F64 = torch.float64


def _variance_vector(net: TangentMLP, variances: torch.Tensor) -> torch.Tensor:
    """(P,) per-parameter variances from one value per parameter tensor."""
    layout = ParameterLayout(net)
    return torch.cat([variances[i].expand(g.numel) for i, g in enumerate(layout.groups)])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_features_reproduce_autograd_jacobians_and_ntk(activation: str) -> None:
    torch.manual_seed(0)
    net = TangentMLP(3, width=5, depth=2, activation=activation)
    X = torch.randn(6, 3, dtype=F64)
    features = net.tangent_features(X)
    f, J = jacobians(net, X, ParameterLayout(net))
    assert torch.allclose(features.f, f[:, 0], atol=1e-12)
    assert torch.allclose(features.jacobian(), J[:, 0], atol=1e-12)
    variances = torch.rand(net.n_groups, dtype=F64) + 0.1
    dense = (J[:, 0] * _variance_vector(net, variances)) @ J[:, 0].T
    assert torch.allclose(tangent_kernel(features, features, variances), dense, atol=1e-12)
    assert torch.allclose(torch.einsum("g,gij->ij", variances, gram_blocks(features)), dense, atol=1e-12)


def test_batched_features_match_flat_ones_and_cross_kernel_broadcasts() -> None:
    torch.manual_seed(1)
    net = TangentMLP(2, width=4, depth=3, activation="gelu")
    X = torch.rand(3, 4, 2, dtype=F64)
    train = net.tangent_features(torch.rand(5, 2, dtype=F64))
    batched = net.tangent_features(X)
    flat = net.tangent_features(X.reshape(12, 2))
    assert torch.allclose(batched.jacobian().reshape(12, -1), flat.jacobian(), atol=1e-13)
    variances = torch.rand(net.n_groups, dtype=F64) + 0.1
    cross = tangent_kernel(batched, train, variances)
    assert cross.shape == (3, 4, 5)
    assert torch.allclose(cross.reshape(12, 5), tangent_kernel(flat, train, variances), atol=1e-13)


def test_features_are_differentiable_in_the_inputs() -> None:
    torch.manual_seed(2)
    net = TangentMLP(2, width=4, depth=1, activation="tanh")
    X = torch.rand(3, 2, dtype=F64, requires_grad=True)
    variances = torch.ones(net.n_groups, dtype=F64)

    def diag_kernel(Z: torch.Tensor) -> torch.Tensor:
        feats = net.tangent_features(Z)
        return tangent_kernel(feats, feats, variances).diagonal().sum()

    assert torch.autograd.gradcheck(diag_kernel, (X,))


def test_input_encoder_lifts_numbers_onto_circles_and_one_hot_encodes_choices() -> None:
    X = torch.tensor([[0.0, 2.0, 1.0], [0.5, 0.0, 0.25], [1.0, 1.2, 0.0]], dtype=F64)
    linear = InputEncoder(3, {1: 3}, embedding="linear")
    one_hot = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=F64)
    assert linear.out_features == 5
    assert torch.equal(linear(X), torch.cat([2 * X[:, [0, 2]] - 1, one_hot], 1))
    circular = InputEncoder(3, {1: 3})
    Z = circular(X)
    assert circular.out_features == 7 and Z.shape == (3, 7)
    r = 2 ** -0.5
    expected = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, r, 1.0, r], [-1.0, 1.0, 0.0, 0.0]], dtype=F64)
    assert torch.allclose(Z[:, :4], expected, atol=1e-15)
    assert torch.equal(Z[:, 4:], one_hot)
    norms = Z[:, :4].pow(2).sum(-1)  # every point of the box has the same input norm
    assert torch.allclose(norms, torch.full((3,), 2.0, dtype=F64))
    assert circular(X.reshape(1, 3, 3)).shape == (1, 3, 7)
