"""The ``"uniform"`` variance shape of the LLA against the dense computation (float64, small cases):
the tangent kernel from autodiff Jacobians, rescaled to one prior variance per output, then the exact
GP posterior covariance."""

from __future__ import annotations

import pytest
import torch

from bdl_core.bo import FunctionSpacePredictive, InputEncoder, LLAConfig, TangentMLP
from bdl_core.bo.multi_output_lla import fit_multi_output_lla
from bdl_core.bo.multi_output_mlp import MultiOutputMLP
from bdl_core.bo.uniform_variance import level_matrix, uniform_kernel
from bdl_core.hyperparameters import Hyperparameters
from tests.bo.dense_tangent import autodiff_jacobian, per_parameter

F64 = torch.float64




def _dense_uniform_posterior(K_all: torch.Tensor, n: int, noise: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Posterior covariance of the last rows of ``K_all`` (training rows first) under the kernel
    ``sqrt(c_i c_j) K_ij / sqrt(K_ii K_jj)``, written out with one dense solve."""
    d = K_all.diagonal()
    U = K_all * (levels[:, None] * levels[None, :]).sqrt() / (d[:, None] * d[None, :]).sqrt()
    A = U[:n, :n] + torch.diag(noise)
    return U[n:, n:] - U[n:, :n] @ torch.linalg.solve(A, U[:n, n:])


def test_the_rescaled_kernel_has_the_level_on_its_diagonal_and_keeps_correlations() -> None:
    torch.manual_seed(0)
    B = torch.randn(5, 8, dtype=F64)
    K = B @ B.T + 0.1 * torch.eye(5, dtype=F64)
    d = K.diagonal()
    U = uniform_kernel(K, d, d, torch.tensor(2.5, dtype=F64))
    torch.testing.assert_close(U.diagonal(), torch.full((5,), 2.5, dtype=F64))
    torch.testing.assert_close(U / 2.5, K / (d[:, None] * d[None, :]).sqrt())  # the correlation matrix
    levels = torch.tensor([1.0, 4.0, 1.0, 4.0, 9.0], dtype=F64)
    V = uniform_kernel(K, d, d, level_matrix(levels, levels))
    torch.testing.assert_close(V.diagonal(), levels)


@pytest.mark.parametrize("uniform", [True, False])
def test_function_space_predictive_equals_the_dense_computation(uniform: bool) -> None:
    torch.manual_seed(3)
    net = TangentMLP(2, width=6, depth=2, activation="tanh").to(F64)
    X = torch.rand(7, 2, dtype=F64) * 2 - 1
    X_test = torch.rand(4, 2, dtype=F64) * 4 - 2  # some far outside the data: there the shapes differ most
    hypers = Hyperparameters.for_network(net, "layerwise", torch.linspace(-0.5, 0.8, net.n_groups, dtype=F64),
                                         torch.tensor(-1.2, dtype=F64))
    variances = hypers.precisions(net.n_groups).reciprocal()
    predictive = FunctionSpacePredictive(net, X, variances, hypers.sigma, uniform=uniform)
    _, cov = predictive(X_test)
    J = autodiff_jacobian(net, torch.cat([X, X_test]))
    K_all = J @ torch.diag(per_parameter(net, variances)) @ J.T
    noise = hypers.sigma.pow(2).repeat(7)
    if uniform:
        level = K_all.diagonal()[:7].mean()
        dense = _dense_uniform_posterior(K_all, 7, noise, level.repeat(11))
    else:
        dense = K_all[7:, 7:] - K_all[7:, :7] @ torch.linalg.solve(K_all[:7, :7] + torch.diag(noise), K_all[:7, 7:])
    torch.testing.assert_close(cov, dense, atol=1e-10, rtol=1e-8)


def test_uniform_prior_variance_no_longer_follows_the_jacobian() -> None:
    torch.manual_seed(4)
    net = TangentMLP(2, width=8, depth=2, activation="gelu").to(F64)
    X = torch.rand(6, 2, dtype=F64) * 0.2  # data in one corner
    hypers = Hyperparameters.for_network(net, "scalar", torch.tensor([0.0], dtype=F64), torch.tensor(-3.0, dtype=F64))
    variances = hypers.precisions(net.n_groups).reciprocal()
    far = torch.tensor([[3.0, 3.0], [-3.0, 3.0], [3.0, -3.0], [-3.0, -3.0]], dtype=F64)  # no data near any
    tangent = FunctionSpacePredictive(net, X, variances, hypers.sigma)(far)[1].diagonal()
    uniform = FunctionSpacePredictive(net, X, variances, hypers.sigma, uniform=True)
    level = uniform.level
    shaped = uniform(far)[1].diagonal()
    assert float(tangent.max() / tangent.min()) > 1.5  # the Jacobian's size differs between the corners
    assert bool((shaped <= level * (1 + 1e-9)).all()) and float(shaped.max() / shaped.min()) < float(tangent.max() / tangent.min())


def test_multi_output_uniform_posterior_equals_the_dense_computation() -> None:
    torch.manual_seed(1)
    X = torch.rand(7, 2, dtype=F64)
    Y = torch.stack([torch.sin(3 * X[:, 0]) + X[:, 1], 5 * (X[:, 0] * X[:, 1] - 0.5 * X[:, 1] ** 2)], dim=-1)
    config = LLAConfig(width=6, depth=1, epochs=150, final_marglik_steps=30, activation="tanh",
                       input_embedding="linear", variance_shape="uniform", variance_calibration="off")
    model = fit_multi_output_lla(X, Y, InputEncoder(2, {}, "linear"), config, seed=0)
    net = model.net
    Xs = torch.rand(3, 2, dtype=F64) * 3 - 1
    inputs = torch.cat([model.encoder(X), model.encoder(Xs)])
    J = autodiff_jacobian(net, inputs)  # (10 m, P)
    K_all = J @ torch.diag(per_parameter(net, model.variances)) @ J.T
    m = net.n_outputs
    levels = K_all.diagonal()[:7 * m].reshape(7, m).mean(0).repeat(10)
    noise = (2 * model.hypers.log_sigma).exp().repeat(7)
    dense = _dense_uniform_posterior(K_all, 7 * m, noise, levels)
    _, cov = model.standardised_predictive(net.tangent_features(model.encoder(Xs)))
    assert isinstance(net, MultiOutputMLP) and m == 2
    torch.testing.assert_close(cov, dense, atol=1e-9, rtol=1e-7)
    assert bool((cov[0::2, 1::2].abs() > 1e-8).any())  # the outputs stay correlated


def test_the_option_reaches_the_model_and_a_bad_value_is_refused() -> None:
    from service.optimizers.lla_options import LLAOptions

    assert LLAOptions(variance_shape="uniform").to_config().variance_shape == "uniform"
    with pytest.raises(ValueError, match="variance_shape"):
        LLAConfig(variance_shape="round")
    with pytest.raises(ValueError):
        LLAOptions(variance_shape="round")
