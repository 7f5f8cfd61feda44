"""The joint multi-output LLA against the dense linearised computation (float64, small case)."""

from __future__ import annotations

import math

import torch
from torch.func import functional_call, jacrev

from bdl_core.bo import InputEncoder, LLAConfig
from bdl_core.bo.function_space_evidence import function_space_log_evidence as multi_output_log_evidence
from bdl_core.bo.multi_output_lla import fit_multi_output_lla
from bdl_core.bo.multi_output_mlp import MultiOutputMLP, multi_gram_blocks, multi_output_kernel

F64 = torch.float64


def _dense_jacobian(net: MultiOutputMLP, x: torch.Tensor) -> torch.Tensor:
    """(q m, P) Jacobian of all outputs (interleaved rows) by reverse-mode autodiff."""
    params = {k: v.detach() for k, v in net.named_parameters()}

    def outputs(p):
        return functional_call(net, p, (x,)).reshape(-1)

    jac = jacrev(outputs)(params)
    return torch.cat([jac[k].reshape(jac[k].shape[0], -1) for k in params], dim=1)


def test_closed_form_features_and_kernel_match_autodiff() -> None:
    torch.manual_seed(0)
    net = MultiOutputMLP(3, 2, width=5, depth=2, activation="tanh", dtype=F64)
    x1, x2 = torch.randn(4, 3, dtype=F64), torch.randn(3, 3, dtype=F64)
    J1, J2 = _dense_jacobian(net, x1), _dense_jacobian(net, x2)
    f1 = net.tangent_features(x1)
    assert torch.allclose(f1.jacobian().reshape(-1, J1.shape[1]), J1, atol=1e-12)
    sizes = [p.numel() for p in net.parameters()]
    variances = torch.rand(net.n_groups, dtype=F64) + 0.1
    v = torch.cat([torch.full((s,), float(g)) for s, g in zip(sizes, variances)]).to(F64)
    K = multi_output_kernel(f1, net.tangent_features(x2), variances)
    assert torch.allclose(K, J1 @ torch.diag(v) @ J2.T, atol=1e-12)
    grams = multi_gram_blocks(f1)
    assert torch.allclose(torch.einsum("g,gij->ij", variances, grams), J1 @ torch.diag(v) @ J1.T, atol=1e-12)


def test_joint_posterior_and_evidence_equal_the_dense_laplace_computation() -> None:
    torch.manual_seed(1)
    X = torch.rand(7, 2, dtype=F64)
    Y = torch.stack([torch.sin(3 * X[:, 0]) + X[:, 1], X[:, 0] * X[:, 1] - 0.5 * X[:, 1] ** 2], dim=-1)
    config = LLAConfig(width=6, depth=1, epochs=150, final_marglik_steps=30, activation="tanh",
                       input_embedding="linear")
    model = fit_multi_output_lla(X, Y, InputEncoder(2, {}, "linear"), config, seed=0)
    net, hypers = model.net, model.hypers
    inputs, ys = model.encoder(X), (Y - model.y_mean) / model.y_std
    J = _dense_jacobian(net, inputs)  # (n m, P), interleaved
    sizes = [p.numel() for p in net.parameters()]
    precisions = hypers.log_prior.exp().expand(net.n_groups)
    prior = torch.cat([torch.full((s,), float(p)) for s, p in zip(sizes, precisions)]).to(F64)
    noise = (2 * hypers.log_sigma).exp().repeat(X.shape[0])
    posterior_precision = J.T @ torch.diag(1 / noise) @ J + torch.diag(prior)  # GGN + prior
    Xs = torch.rand(3, 2, dtype=F64)
    Js = _dense_jacobian(net, model.encoder(Xs))
    dense_cov = Js @ torch.linalg.solve(posterior_precision, Js.T)
    _, cov = model.standardised_predictive(net.tangent_features(model.encoder(Xs)))
    assert torch.allclose(cov, dense_cov, atol=1e-9, rtol=1e-7)
    assert bool((cov[0::2, 1::2].abs() > 1e-8).any())  # outputs are correlated through shared layers
    # evidence: log-likelihood at the MAP + log prior - 1/2 log det(P) + P/2 log(2 pi) terms, via determinants
    params = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    mean = torch.cat([m.reshape(-1) for m in model.prior_mean])
    residual = (net(inputs) - ys).reshape(-1)
    log_lik = -0.5 * (residual.pow(2) / noise).sum() - 0.5 * noise.log().sum() - 0.5 * residual.numel() * math.log(2 * math.pi)
    logdet_ratio = torch.logdet(posterior_precision) - prior.log().sum()
    dense = log_lik - 0.5 * ((prior * (params - mean).pow(2)).sum() + logdet_ratio)
    features = net.tangent_features(inputs)
    theta_sq = torch.stack([(p.detach() - m).pow(2).sum() for p, m in zip(net.parameters(), model.prior_mean)])
    ours = multi_output_log_evidence(multi_gram_blocks(features), (features.f - ys).pow(2).sum(0), theta_sq,
                                     hypers.log_prior, hypers.log_sigma)
    assert torch.allclose(ours, dense, atol=1e-8, rtol=1e-9)


def test_posterior_is_a_botorch_multitask_normal_in_target_units() -> None:
    torch.manual_seed(2)
    X = torch.rand(12, 2, dtype=F64)
    Y = torch.stack([10 * X[:, 0] + 3, -X[:, 1]], dim=-1)
    model = fit_multi_output_lla(X, Y, InputEncoder(2, {}, "circular"), LLAConfig(width=16, epochs=300), seed=0)
    posterior = model.posterior(X[:4].unsqueeze(0))
    assert posterior.mean.shape == (1, 4, 2) and posterior.variance.shape == (1, 4, 2)
    assert torch.allclose(posterior.mean[0], Y[:4], atol=0.3)
    samples = posterior.rsample(torch.Size([5]))
    assert samples.shape == (5, 1, 4, 2)
