"""Layouts, likelihood derivatives, Jacobians, full/diagonal GGN and EF, NTK kernels.

Everything is checked in float64 against brute force: per-example
``torch.autograd.functional.jacobian`` on a flat parameter vector, per-example
``torch.autograd.grad`` of the loss, and autograd Hessians of the NLL.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from bdl_core.curvature import (
    ParameterLayout,
    diag_efisher,
    diag_ggn,
    full_efisher,
    full_ggn,
    jacobians,
    kernel_between,
    kernel_blocks,
    nll_gradient_outputs,
    ntk_kernel,
    output_hessian,
    output_hessian_sqrt,
    per_example_gradients,
)

DT = torch.float64
LIKELIHOODS = ["regression", "classification"]


def mlp(c: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, c)).to(DT)


def data(likelihood: str, n: int = 6, c: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    X = torch.randn(n, 4, generator=g, dtype=DT)
    y = torch.randn(n, c, generator=g, dtype=DT) if likelihood == "regression" else torch.randint(0, c, (n,), generator=g)
    return X, y


def output_of_vector(model: nn.Module, layout: ParameterLayout, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Model output with the layout's parameters replaced by the flat vector theta."""
    params = {g.name: theta[g.slice].reshape(g.shape) for g in layout.groups}
    return torch.func.functional_call(model, params, (x,))


def brute_jacobians(model: nn.Module, X: torch.Tensor, layout: ParameterLayout) -> torch.Tensor:
    theta = layout.vector()
    rows = [
        torch.autograd.functional.jacobian(lambda t: output_of_vector(model, layout, t, x[None])[0], theta)
        for x in X
    ]
    return torch.stack(rows)  # (N, C, P)


def brute_gradients(model: nn.Module, X: torch.Tensor, y: torch.Tensor, likelihood: str, layout: ParameterLayout) -> torch.Tensor:
    out = []
    for n in range(X.shape[0]):
        f = model(X[n : n + 1])
        loss = 0.5 * (f - y[n : n + 1]).pow(2).sum() if likelihood == "regression" else F.cross_entropy(f, y[n : n + 1], reduction="sum")
        out.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, layout.parameters())]))
    return torch.stack(out)


def test_layout_matches_parameters_to_vector_and_skips_frozen() -> None:
    model = mlp()
    model[2].bias.requires_grad_(False)
    layout = ParameterLayout(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert layout.n_params == sum(p.numel() for p in trainable)
    assert torch.equal(layout.vector(), nn.utils.parameters_to_vector(trainable))
    assert [g.name for g in layout.groups] == ["0.weight", "0.bias", "2.weight", "4.weight", "4.bias"]
    assert [g.kind for g in layout.groups] == ["weight", "bias", "weight", "weight", "bias"]
    assert [g.offset for g in layout.groups] == [0, 20, 25, 45, 57]
    assert [name for name, _ in layout.modules()] == ["0", "2", "4"]


def test_last_layer_layout_and_errors() -> None:
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Sequential(nn.Linear(3, 2))).to(DT)
    layout = ParameterLayout(model, "last_layer")
    assert [g.name for g in layout.groups] == ["1.0.weight", "1.0.bias"]
    assert layout.modules()[0][1] is model[1][0]
    with pytest.raises(ValueError):
        ParameterLayout(nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3)), "last_layer")
    with pytest.raises(ValueError):
        ParameterLayout(model, "first_layer")


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_likelihood_derivatives_match_autograd(likelihood: str) -> None:
    X, y = data(likelihood, n=4)
    f = torch.randn(4, 3, dtype=DT)

    def nll(fn: torch.Tensor, n: int) -> torch.Tensor:
        if likelihood == "regression":
            return 0.5 * (fn - y[n]).pow(2).sum()
        return F.cross_entropy(fn[None], y[n : n + 1], reduction="sum")

    hess = torch.stack([torch.autograd.functional.hessian(lambda t: nll(t, n), f[n]) for n in range(4)])
    grads = torch.stack([torch.autograd.functional.jacobian(lambda t: nll(t, n), f[n]) for n in range(4)])
    lam, L = output_hessian(f, likelihood), output_hessian_sqrt(f, likelihood)
    torch.testing.assert_close(lam, hess)
    torch.testing.assert_close(L @ L.transpose(-1, -2), hess)
    torch.testing.assert_close(nll_gradient_outputs(f, y, likelihood), grads)
    assert lam.dtype == DT


def test_jacobians_match_brute_force_with_conv_and_chunks() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 16, 2)).to(DT)
    X = torch.randn(5, 2, 4, 4, dtype=DT)
    layout = ParameterLayout(model)
    f, J = jacobians(model, X, layout, chunk_size=2)
    torch.testing.assert_close(f, model(X))
    torch.testing.assert_close(J, brute_jacobians(model, X, layout))
    assert J.shape == (5, 2, layout.n_params)


def test_last_layer_jacobian_is_block_of_full_jacobian() -> None:
    model = mlp()
    X, _ = data("regression")
    _, J_all = jacobians(model, X, ParameterLayout(model))
    _, J_last = jacobians(model, X, ParameterLayout(model, "last_layer"))
    torch.testing.assert_close(J_last, J_all[..., -J_last.shape[-1] :])


def test_jacobians_are_differentiable_in_inputs() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).to(DT)
    layout = ParameterLayout(model)
    X = torch.randn(3, 2, dtype=DT, requires_grad=True)

    def variance_like(x: torch.Tensor) -> torch.Tensor:
        f, J = jacobians(model, x, layout)
        return J.pow(2).sum(dim=(1, 2)) + f.sum(-1)

    assert torch.autograd.gradcheck(variance_like, (X,))


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_full_and_diag_ggn_equal_explicit_sum(likelihood: str) -> None:
    model = mlp()
    X, y = data(likelihood)
    layout = ParameterLayout(model)
    J = brute_jacobians(model, X, layout)
    lam = output_hessian(model(X).detach(), likelihood)
    expected = sum(J[n].T @ lam[n] @ J[n] for n in range(X.shape[0]))
    H = full_ggn(model, X, y, likelihood, layout)
    torch.testing.assert_close(H, expected)
    torch.testing.assert_close(full_ggn(model, X, y, likelihood, layout, chunk_size=4), expected)
    torch.testing.assert_close(diag_ggn(model, X, y, likelihood, layout, chunk_size=4), expected.diagonal())
    if likelihood == "classification":  # the GGN is not just J^T J here
        assert not torch.allclose(H, torch.einsum("ncp,ncq->pq", J, J))


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_efisher_equals_outer_products_of_per_example_gradients(likelihood: str) -> None:
    model = mlp()
    X, y = data(likelihood)
    layout = ParameterLayout(model)
    G = brute_gradients(model, X, y, likelihood, layout)
    torch.testing.assert_close(per_example_gradients(model, X, y, likelihood, layout), G)
    torch.testing.assert_close(full_efisher(model, X, y, likelihood, layout, chunk_size=4), G.T @ G)
    torch.testing.assert_close(diag_efisher(model, X, y, likelihood, layout), G.pow(2).sum(0))


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_last_layer_curvature_is_block_of_full(likelihood: str) -> None:
    model = mlp()
    X, y = data(likelihood)
    full_layout, last = ParameterLayout(model), ParameterLayout(model, "last_layer")
    k = last.n_params
    H_all = full_ggn(model, X, y, likelihood, full_layout)
    torch.testing.assert_close(full_ggn(model, X, y, likelihood, last), H_all[-k:, -k:])
    torch.testing.assert_close(diag_ggn(model, X, y, likelihood, last), H_all.diagonal()[-k:])
    F_all = full_efisher(model, X, y, likelihood, full_layout)
    torch.testing.assert_close(full_efisher(model, X, y, likelihood, last), F_all[-k:, -k:])
    torch.testing.assert_close(diag_efisher(model, X, y, likelihood, last), F_all.diagonal()[-k:])


def test_ntk_kernels() -> None:
    g = torch.Generator().manual_seed(4)
    J1 = torch.randn(3, 2, 5, generator=g, dtype=DT)
    J2 = torch.randn(4, 2, 5, generator=g, dtype=DT)
    prec = torch.rand(5, generator=g, dtype=DT) + 0.5
    K12 = kernel_between(J1, J2, prec)
    assert K12.shape == (6, 8)
    for n1, c1, n2, c2 in [(0, 0, 0, 0), (2, 1, 3, 0), (1, 0, 2, 1)]:
        expected = (J1[n1, c1] * J2[n2, c2] / prec).sum()
        torch.testing.assert_close(K12[n1 * 2 + c1, n2 * 2 + c2], expected)
    K = ntk_kernel(J1, prec)
    torch.testing.assert_close(K, kernel_between(J1, J1, prec))
    torch.testing.assert_close(kernel_blocks(J1, prec)[1], K[2:4, 2:4])
    assert torch.linalg.eigvalsh(K).min() > -1e-10
    prec.requires_grad_(True)
    ntk_kernel(J1, prec).trace().backward()
    assert prec.grad is not None and (prec.grad < 0).all()
