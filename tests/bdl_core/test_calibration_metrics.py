"""NLL, ECE and the reliability curve on hand-made cases and against a per-bin loop."""

from __future__ import annotations

import math

import pytest
import torch

from bdl_core.calibration import expected_calibration_error, negative_log_likelihood, reliability_curve

DT = torch.float64


def _ece_by_loop(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).to(DT)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=DT)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            total += float(in_bin.to(DT).mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs())
    return total


def test_ece_of_known_cases():
    labels = torch.tensor([0, 1, 0, 1])
    perfect = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], dtype=DT)
    assert expected_calibration_error(perfect, labels) == 0.0
    # confidence 0.9 everywhere, half right: |0.5 - 0.9| = 0.4
    wrong_half = torch.tensor([[0.9, 0.1]] * 4, dtype=DT)
    assert expected_calibration_error(wrong_half, labels) == pytest.approx(0.4)


@pytest.mark.parametrize("n_bins", [1, 10, 15])
def test_ece_matches_a_loop_over_bins(n_bins):
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(500, 4, generator=g, dtype=DT), dim=1)
    labels = torch.randint(0, 4, (500,), generator=g)
    assert expected_calibration_error(probs, labels, n_bins) == pytest.approx(_ece_by_loop(probs, labels, n_bins))


def test_reliability_curve_bins_on_right_closed_edges():
    # confidences 0.5 (bin 1 of 2: (0.5 is the edge) -> bin 0), 0.75 and 1.0 -> bin 1
    probs = torch.tensor([[0.5, 0.5], [0.75, 0.25], [1.0, 0.0]], dtype=DT)
    curve = reliability_curve(probs, torch.tensor([1, 0, 0]), n_bins=2)
    assert curve.count.tolist() == [1, 2]
    assert curve.confidence.tolist() == pytest.approx([0.5, 0.875])
    assert curve.accuracy.tolist() == pytest.approx([0.0, 1.0])  # argmax of a tie is class 0


def test_empty_bins_are_nan_and_do_not_count():
    probs = torch.tensor([[0.95, 0.05]] * 3, dtype=DT)
    curve = reliability_curve(probs, torch.tensor([0, 0, 1]), n_bins=10)
    assert int(curve.count.sum()) == 3 and torch.isnan(curve.confidence[:9]).all()
    assert curve.expected_calibration_error == pytest.approx(abs(2 / 3 - 0.95))


def test_nll():
    probs = torch.tensor([[0.25, 0.75], [0.5, 0.5]], dtype=DT)
    assert negative_log_likelihood(probs, torch.tensor([1, 0])) == pytest.approx(-(math.log(0.75) + math.log(0.5)) / 2)


@pytest.mark.parametrize("probs, labels", [(torch.ones(3), torch.zeros(3)), (torch.ones(3, 2), torch.zeros(2))])
def test_shapes_are_checked(probs, labels):
    with pytest.raises(ValueError, match="must be"):
        expected_calibration_error(probs, labels.long())
