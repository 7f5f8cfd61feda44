"""The LLA's stationary kernel term against the dense computation (float64, small cases): the tangent
kernel from autodiff Jacobians plus ``c`` times a Matern-5/2 correlation written out from its formula,
then the exact GP posterior covariance; the option's validation and its end-to-end fit."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from bdl_core.bo import FunctionSpacePredictive, InputEncoder, LLAConfig, TangentMLP, fit_lla_model
from bdl_core.bo.multi_output_lla import fit_multi_output_lla
from bdl_core.bo.stationary_term import StationaryTerm, matern52
from bdl_core.hyperparameters import Hyperparameters
from tests.bo.dense_tangent import autodiff_jacobian, per_parameter
from service.optimizers.lla_options import LLAOptions

F64 = torch.float64




def _matern_by_hand(a: torch.Tensor, b: torch.Tensor, lengthscale: float) -> torch.Tensor:
    out = torch.empty(a.shape[0], b.shape[0], dtype=F64)
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            d = float(torch.linalg.vector_norm(a[i] - b[j]))
            r = math.sqrt(5.0) * d / lengthscale
            out[i, j] = (1 + r + 5 * d * d / (3 * lengthscale ** 2)) * math.exp(-r)
    return out


def test_matern52_equals_its_formula_and_is_one_on_the_diagonal() -> None:
    a = torch.rand(4, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    b = torch.rand(5, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(matern52(a, b, 0.7), _matern_by_hand(a, b, 0.7), atol=1e-14, rtol=1e-12)
    torch.testing.assert_close(matern52(a, a, 0.7).diagonal(), torch.ones(4, dtype=F64))


def test_matern52_gradient_is_finite_where_points_coincide() -> None:
    a = torch.rand(3, 2, dtype=F64, requires_grad=True)
    matern52(a, a, 0.5).sum().backward()
    assert bool(torch.isfinite(a.grad).all())


def test_function_space_predictive_with_the_term_equals_the_dense_computation() -> None:
    torch.manual_seed(3)
    net = TangentMLP(2, width=6, depth=2, activation="tanh").to(F64)
    X = torch.rand(7, 2, dtype=F64) * 2 - 1
    X_test = torch.rand(4, 2, dtype=F64) * 4 - 2
    hypers = Hyperparameters.for_network(net, "layerwise", torch.linspace(-0.5, 0.8, net.n_groups, dtype=F64),
                                         torch.tensor(-1.2, dtype=F64))
    variances = hypers.precisions(net.n_groups).reciprocal()
    term = StationaryTerm(variance_fraction=0.3, lengthscale_factor=0.5)
    _, cov = FunctionSpacePredictive(net, X, variances, hypers.sigma, stationary=term)(X_test)
    J = autodiff_jacobian(net, torch.cat([X, X_test]))
    K_all = J @ torch.diag(per_parameter(net, variances)) @ J.T
    c = 0.3 * K_all.diagonal()[:7].mean()
    everything = torch.cat([X, X_test])
    K_all = K_all + c * _matern_by_hand(everything, everything, 0.5 * math.sqrt(2))
    A = K_all[:7, :7] + hypers.sigma.pow(2) * torch.eye(7, dtype=F64)
    dense = K_all[7:, 7:] - K_all[7:, :7] @ torch.linalg.solve(A, K_all[:7, 7:])
    torch.testing.assert_close(cov, dense, atol=1e-10, rtol=1e-8)


def test_the_term_raises_the_variance_far_from_the_data_more_than_near_it() -> None:
    torch.manual_seed(5)
    X = torch.rand(12, 2, dtype=F64) * 0.3  # data in one corner of the unit square
    y = torch.sin(6 * X[:, 0]) + X[:, 1]
    encoder = InputEncoder(2)
    near, far = torch.tensor([[0.15, 0.15]], dtype=F64), torch.tensor([[0.95, 0.95]], dtype=F64)
    variances = {}
    for v in (0.0, 0.5):
        config = LLAConfig(width=16, epochs=200, stationary_variance=v, variance_calibration="off")
        model = fit_lla_model(X, y, encoder, config, seed=0)
        with torch.no_grad():
            variances[v] = [float(model.posterior(p).variance) for p in (near, far)]
    gain_near = variances[0.5][0] - variances[0.0][0]
    gain_far = variances[0.5][1] - variances[0.0][1]
    assert gain_far > 0
    assert gain_far > 5 * max(gain_near, 0.0)


def test_options_validate_and_reach_the_configuration() -> None:
    config = LLAOptions(stationary_variance=0.3, stationary_lengthscale=0.4).to_config()
    assert config.stationary_term() == StationaryTerm(0.3, 0.4)
    assert LLAOptions().to_config().stationary_term() is None
    with pytest.raises(ValidationError, match="stationary_variance"):
        LLAOptions(stationary_variance=-1.0)
    with pytest.raises(ValidationError, match="joint"):
        LLAOptions(stationary_variance=0.3, outcome_networks="joint")


def test_the_multi_output_fit_refuses_the_term() -> None:
    X = torch.rand(5, 2, dtype=F64)
    with pytest.raises(ValueError, match="single-output"):
        fit_multi_output_lla(X, torch.rand(5, 2, dtype=F64), InputEncoder(2), LLAConfig(stationary_variance=0.3))
