"""Leave-one-out calibration of the LLA's covariance scale, against brute force in float64."""

from __future__ import annotations

import pytest
import torch

from bdl_core.bo import InputEncoder, LLAConfig, fit_lla_model
from bdl_core.bo.variance_calibration import (
    MIN_POINTS, SCALE_BOUNDS, calibrated_output_scales, calibrated_scale, inverse_cholesky_factor, jacobian_times, linearised_gp,
    loo_output_scales, loo_variance_scale, parameter_offsets,
)
from bdl_core.bo.tangent_mlp import TangentMLP

F64 = torch.float64
SMALL = LLAConfig(width=16, depth=2, epochs=300, warm_epochs=60)


def _spd(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    B = torch.randn(n, n + 3, dtype=F64, generator=g)
    return B @ B.T / n + 0.1 * torch.eye(n, dtype=F64), torch.randn(n, dtype=F64, generator=g)


def _brute_force_loo(A: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Leave-one-out residuals and variances by conditioning on the other n - 1 points, one at a time."""
    n = r.shape[0]
    residuals, variances = torch.empty(n, dtype=F64), torch.empty(n, dtype=F64)
    for i in range(n):
        keep = torch.arange(n) != i
        weights = torch.linalg.solve(A[keep][:, keep], A[keep, i])
        residuals[i] = r[i] - weights @ r[keep]
        variances[i] = A[i, i] - weights @ A[keep, i]
    return residuals, variances


def _loo_log_likelihood(scale: float, residuals: torch.Tensor, variances: torch.Tensor) -> float:
    return float(torch.distributions.Normal(0.0, (scale * variances).sqrt()).log_prob(residuals).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_scale_maximises_the_brute_force_leave_one_out_likelihood(seed: int) -> None:
    A, r = _spd(9, seed)
    residuals, variances = _brute_force_loo(A, r)
    scale = float(loo_variance_scale(A, r))
    assert scale == pytest.approx(float((residuals.pow(2) / variances).mean()), rel=1e-10)
    best = _loo_log_likelihood(scale, residuals, variances)
    for factor in (0.5, 0.9, 0.99, 1.01, 1.1, 2.0):
        assert _loo_log_likelihood(scale * factor, residuals, variances) < best


def test_a_covariance_of_the_right_size_gets_a_scale_near_one_and_an_inflated_one_is_shrunk() -> None:
    g = torch.Generator().manual_seed(3)
    n = 400
    x = torch.linspace(0, 1, n, dtype=F64)
    A = torch.exp(-0.5 * (x[:, None] - x[None, :]).pow(2) / 0.1**2) + 0.01 * torch.eye(n, dtype=F64)
    r = torch.linalg.cholesky(A) @ torch.randn(n, dtype=F64, generator=g)  # a draw from N(0, A)
    assert float(loo_variance_scale(A, r)) == pytest.approx(1.0, abs=0.2)
    assert float(loo_variance_scale(16.0 * A, r)) == pytest.approx(float(loo_variance_scale(A, r)) / 16.0, rel=1e-9)


def test_the_scale_is_bounded_and_left_at_one_with_too_few_points() -> None:
    A, r = _spd(MIN_POINTS - 1, 0)
    assert calibrated_scale(A, r) == 1.0
    A, r = _spd(8, 0)
    assert calibrated_scale(A, 1e6 * r) == SCALE_BOUNDS[1]
    assert calibrated_scale(A, 1e-6 * r) == SCALE_BOUNDS[0]


def test_jacobian_times_an_offset_equals_the_explicit_jacobian_product() -> None:
    torch.manual_seed(0)
    net = TangentMLP(3, width=7, depth=2, activation="gelu", dtype=F64)
    prior_mean = [p.detach() + 0.1 * torch.randn_like(p) for p in net.parameters()]
    features = net.tangent_features(torch.rand(5, 3, dtype=F64))
    offsets = parameter_offsets(list(net.parameters()), prior_mean)
    flat = torch.cat([o.reshape(-1) for o in offsets])
    torch.testing.assert_close(jacobian_times(features, offsets), features.jacobian() @ flat, rtol=1e-12, atol=1e-12)


def _data(n: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(n, 2, dtype=F64, generator=g)
    return X, torch.sin(5 * X[:, 0]) * torch.cos(3 * X[:, 1]) + 4.0 * (X[:, 0] > 0.8)


def test_a_calibrated_fit_is_the_uncalibrated_one_with_its_covariance_scaled() -> None:
    X, y = _data()
    calibrated = fit_lla_model(X, y, InputEncoder(2), SMALL)
    plain = fit_lla_model(X, y, InputEncoder(2), LLAConfig(**{**SMALL.__dict__, "variance_calibration": "off"}))
    scale = calibrated.info["variance_scale"]
    assert plain.info["variance_scale"] == 1.0 and scale != pytest.approx(1.0, abs=0.05)
    # the scale is the leave-one-out one of the fitted model seen as a GP
    ys = (y - plain.y_mean) / plain.y_std
    with torch.no_grad():
        A, r = linearised_gp(plain.net.tangent_features(plain.encoder(X)), ys,
                             plain.hypers.precisions(plain.net.n_groups).reciprocal(), plain.hypers.sigma,
                             parameter_offsets(list(plain.net.parameters()), plain.prior_mean))
    assert scale == pytest.approx(float(loo_variance_scale(A, r)), rel=1e-9)
    Q = torch.rand(6, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
    a, b = calibrated.posterior(Q), plain.posterior(Q)
    torch.testing.assert_close(a.mean, b.mean)
    torch.testing.assert_close(a.mvn.covariance_matrix, scale * b.mvn.covariance_matrix, rtol=1e-6, atol=1e-9)
    assert float(calibrated.noise_variance) == pytest.approx(scale * float(plain.noise_variance))


def _scaled_loo_log_likelihood(A: torch.Tensor, r: torch.Tensor, scales: torch.Tensor) -> float:
    """Brute-force leave-one-entry-out log likelihood of the joint GP with output j scaled by scales[j]
    (entries interleaved, points outer)."""
    d = scales.sqrt().repeat(r.shape[0] // scales.shape[0])
    residuals, variances = _brute_force_loo(d.unsqueeze(-1) * A * d, r)
    return _loo_log_likelihood(1.0, residuals, variances)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_the_output_scales_maximise_the_brute_force_leave_one_entry_out_likelihood(m: int) -> None:
    A, r = _spd(8 * m, seed=m)
    output = torch.arange(8 * m) % m
    r = r * (1.0 + 2.0 * output)  # outputs of different sizes relative to A: different scales
    scales = loo_output_scales(r, inverse_cholesky_factor(A), m)
    assert scales.shape == (m,) and bool((scales > 0).all())
    best = _scaled_loo_log_likelihood(A, r, scales)
    for j in range(m):
        for factor in (0.8, 1.25):
            moved = scales.clone()
            moved[j] *= factor
            assert _scaled_loo_log_likelihood(A, r, moved) < best
        step = torch.zeros(m, dtype=F64)
        step[j] = 1e-5
        slope = (_scaled_loo_log_likelihood(A, r, scales * step.exp()) -
                 _scaled_loo_log_likelihood(A, r, scales * (-step).exp())) / 2e-5
        assert abs(slope) < 1e-4  # a stationary point in log c_j
    if m == 1:
        assert float(scales[0]) == pytest.approx(float(loo_variance_scale(A, r)), rel=1e-10)
    else:
        assert float(scales.max() / scales.min()) > 2.0


def test_the_multi_output_lla_scales_each_output_by_its_leave_one_entry_out_maximiser() -> None:
    from bdl_core.bo.multi_output_lla import fit_multi_output_lla
    from bdl_core.bo.multi_output_mlp import multi_output_kernel

    X, y = _data(12)
    Y = torch.stack([y, torch.cos(4 * X[:, 1]) - X[:, 0]], dim=-1)
    calibrated = fit_multi_output_lla(X, Y, InputEncoder(2), SMALL)
    plain = fit_multi_output_lla(X, Y, InputEncoder(2), LLAConfig(**{**SMALL.__dict__, "variance_calibration": "off"}))
    scales = calibrated.variance_scale
    assert plain.variance_scale.tolist() == [1.0, 1.0] and not torch.allclose(scales, torch.ones(2, dtype=F64), atol=0.05)
    # brute force: the joint GP over the 24 entries, each left out alone, each output scaled
    features = plain.train_features
    A = multi_output_kernel(features, features, plain.variances)
    A = A + torch.diag((2.0 * plain.hypers.log_sigma).exp().repeat(X.shape[0]))
    ys = ((Y - plain.y_mean) / plain.y_std).reshape(-1)
    flat = torch.cat([o.reshape(-1) for o in parameter_offsets(list(plain.net.parameters()), plain.prior_mean)])
    r = ys - (features.f.reshape(-1) - (features.jacobian() @ flat).reshape(-1))
    best = _scaled_loo_log_likelihood(A, r, scales)
    for moved in ([0.8, 1.0], [1.25, 1.0], [1.0, 0.8], [1.0, 1.25], [1.1, 1.1], [0.9, 0.9]):
        assert _scaled_loo_log_likelihood(A, r, scales * torch.tensor(moved, dtype=F64)) < best
    Q = torch.rand(3, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    a, b = calibrated.posterior(Q), plain.posterior(Q)
    torch.testing.assert_close(a.mean, b.mean)
    d = scales.sqrt().repeat(3)
    torch.testing.assert_close(a.mvn.covariance_matrix, d.unsqueeze(-1) * b.mvn.covariance_matrix * d,
                               rtol=1e-6, atol=1e-9)


def test_output_scales_are_bounded_and_an_output_fitted_exactly_gets_the_lower_bound() -> None:
    A, r = _spd(16, seed=5)
    inverse = inverse_cholesky_factor(A)
    r_exact = r.clone()
    r_exact[1::2] = 0.0  # output 1 has no residual at all
    scales = calibrated_output_scales(r_exact, inverse, 8, 2)
    assert float(scales[1]) == SCALE_BOUNDS[0] and SCALE_BOUNDS[0] < float(scales[0]) < SCALE_BOUNDS[1]
    assert calibrated_output_scales(torch.zeros(16, dtype=F64), inverse, 8, 2).tolist() == [SCALE_BOUNDS[0]] * 2
    assert calibrated_output_scales(1e6 * r, inverse, 8, 2).tolist() == [SCALE_BOUNDS[1]] * 2
    assert calibrated_output_scales(r, inverse, MIN_POINTS - 1, 2).tolist() == [1.0, 1.0]
