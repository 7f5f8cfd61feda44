"""Metrics on exact small cases (float64)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from service.jobs import metrics

F64 = torch.float64


def test_gaussian_nll_matches_scipy() -> None:
    mean = torch.tensor([0.0, 1.0, -2.0], dtype=F64)
    variance = torch.tensor([1.0, 0.25, 4.0], dtype=F64)
    y = torch.tensor([0.5, 1.5, 1.0], dtype=F64)
    expected = -stats.norm.logpdf(y.numpy(), mean.numpy(), variance.sqrt().numpy()).mean()
    assert metrics.gaussian_nll(mean, variance, y) == pytest.approx(expected, rel=1e-12)


def test_rmse_of_a_known_case() -> None:
    assert metrics.rmse(torch.tensor([1.0, 2.0], dtype=F64), torch.tensor([4.0, -2.0], dtype=F64)) == pytest.approx(
        math.sqrt((9 + 16) / 2), rel=1e-12)


def test_categorical_nll_and_accuracy() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]], dtype=F64)
    y = torch.tensor([0, 1, 1, 0])
    expected = -(math.log(0.9) + math.log(0.4) + math.log(0.7) + math.log(0.8)) / 4
    assert metrics.categorical_nll(probs, y) == pytest.approx(expected, rel=1e-12)
    assert metrics.accuracy(probs, y) == pytest.approx(0.75)


def test_categorical_nll_is_finite_for_a_zero_probability() -> None:
    probs = torch.tensor([[1.0, 0.0]], dtype=F64)
    assert math.isfinite(metrics.categorical_nll(probs, torch.tensor([1])))


def test_expected_calibration_error_by_hand() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]], dtype=F64)
    y = torch.tensor([0, 1, 1, 0])
    # ten bins: each point alone in its bin -> mean |correct - confidence|
    assert metrics.expected_calibration_error(probs, y, n_bins=10) == pytest.approx((0.1 + 0.6 + 0.3 + 0.2) / 4)
    # two bins: all confidences in (0.5, 1]: |accuracy 0.75 - mean confidence 0.75| = 0
    assert metrics.expected_calibration_error(probs, y, n_bins=2) == pytest.approx(0.0, abs=1e-12)
    # four bins, three points: (0.5, 0.75] holds 0.6 (wrong) and 0.7 (right), (0.75, 1] holds 0.9 (right)
    three = probs[:3]
    expected = abs(0.5 - 0.65) * 2 / 3 + abs(1 - 0.9) * 1 / 3
    assert metrics.expected_calibration_error(three, y[:3], n_bins=4) == pytest.approx(expected)


def test_prior_precisions_are_listed_or_summarised() -> None:
    from service.jobs.evaluation import prior_summary

    assert prior_summary(torch.tensor(2.0)) == 2.0
    assert prior_summary(torch.tensor([1.0, 3.0])) == [1.0, 3.0]
    assert prior_summary(torch.arange(1.0, 101.0)) == {"n": 100, "mean": 50.5, "min": 1.0, "max": 100.0}
