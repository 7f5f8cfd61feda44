"""The conjugate linear regression against closed forms in float64 (and float32 agreement)."""

from __future__ import annotations

import math

import pytest
import torch

from bdl_core.conjugate_linear import ConjugateLinearRegression


def _data(dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    X = torch.cat([torch.ones(9, 1), torch.randn(9, 2, generator=generator)], dim=1).to(dtype)
    y = (X @ torch.tensor([0.5, -1.0, 2.0], dtype=dtype)) + 0.3 * torch.randn(9, generator=generator).to(dtype)
    return X, y


def test_reference_prior_gives_the_least_squares_prediction_interval():
    X, y = _data()
    x = torch.tensor([[1.0, 0.3, -0.7], [1.0, 2.0, 1.0]], dtype=torch.float64)
    predictive = ConjugateLinearRegression().fit(X, y).predict(x)
    n, p = X.shape
    beta = torch.linalg.lstsq(X, y.unsqueeze(-1)).solution.squeeze(-1)
    rss = float(((y - X @ beta) ** 2).sum())
    s2 = rss / (n - p)
    gram_inverse = torch.linalg.inv(X.T @ X)
    for i in range(2):
        leverage = float(x[i] @ gram_inverse @ x[i])
        assert float(predictive.loc[i]) == pytest.approx(float(x[i] @ beta), rel=1e-12)
        assert float(predictive.scale[i]) == pytest.approx(math.sqrt(s2 * (1 + leverage)), rel=1e-12)
    assert predictive.df == n - p


def test_proper_prior_matches_the_textbook_posterior():
    X, y = _data()
    lam, a0, b0 = 2.0, 1.5, 0.4
    model = ConjugateLinearRegression(prior_precision=lam, a0=a0, b0=b0).fit(X, y)
    precision = lam * torch.eye(3, dtype=torch.float64) + X.T @ X
    mean = torch.linalg.solve(precision, X.T @ y)
    a_n = a0 + 9 / 2
    b_n = b0 + 0.5 * float(y @ y - mean @ precision @ mean)  # the y^T y - m^T L m form (m0 = 0)
    x = torch.tensor([[1.0, -0.2, 0.4]], dtype=torch.float64)
    predictive = model.predict(x)
    expected_scale = math.sqrt(b_n / a_n * (1 + float(x[0] @ torch.linalg.solve(precision, x[0]))))
    assert float(predictive.loc[0]) == pytest.approx(float(x[0] @ mean), rel=1e-12)
    assert float(predictive.scale[0]) == pytest.approx(expected_scale, rel=1e-12)
    assert predictive.df == 2 * a_n


def test_float32_agrees_with_float64_and_bad_input_is_refused():
    X, y = _data()
    x = torch.tensor([[1.0, 0.1, 0.2]])
    high = ConjugateLinearRegression().fit(X, y).predict(x.double())
    low = ConjugateLinearRegression().fit(X.float(), y.float()).predict(x)
    assert low.loc.dtype == torch.float32
    assert float(low.loc[0]) == pytest.approx(float(high.loc[0]), rel=1e-4)
    assert float(low.scale[0]) == pytest.approx(float(high.scale[0]), rel=1e-4)
    with pytest.raises(ValueError, match="more data"):
        ConjugateLinearRegression().fit(X[:3], y[:3])
    with pytest.raises(RuntimeError):
        ConjugateLinearRegression().predict(x)
