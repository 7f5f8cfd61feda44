"""Calibration of the linearised Laplace predictive against the MAP on scikit-learn's digits.

A 64-64-10 tanh MLP is trained to a MAP (300 full-batch Adam steps with weight decay)
on half of the standardised digits; a K-FAC Laplace approximation of its last layer
gets its prior precision by post-hoc marginal-likelihood tuning. Both predictives are
scored by test NLL and expected calibration error (15 equal-width confidence bins).

Finding: on the in-distribution test split the MAP of this small-data problem is NOT
overconfident (ECE ~0.01-0.02) and every marglik-tuned Laplace variant tried (kron/diag/
full, all weights or last layer, scalar/layerwise/unitwise/parameter priors, tanh-64 and
ReLU-256 MLPs, full-batch and mini-batch training, weight decay 0 to 1e-2, standardised
or /16 inputs, 20% or 50% training data, online marglik training) is underconfident.
laplace-torch 0.3 (installed by hand, not a dependency) reproduces this exact case:
tuned prior precision 1.674 vs ours 1.660, test NLL 0.1983 vs 0.1981, ECE 0.1089 vs
0.1087 (MAP: NLL 0.0980, ECE 0.0147), so it is the method on this data, not this
implementation. A prior precision chosen on a held-out validation split (grid search)
did not help either (4 seeds x 3 setups: equal to the MAP or worse on the test split).
The in-distribution claim is therefore kept as a strict xfail: it turns into a failure
the day it holds. Under dataset shift (Gaussian pixel noise), where the MAP is
overconfident, the Laplace predictive wins on both metrics.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.laplace import Laplace

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> float:
    """ECE: sum_bins |bin| / N * |accuracy(bin) - mean confidence(bin)|, bins (k/n, (k+1)/n]."""
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).to(probs.dtype)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=probs.dtype)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.to(probs.dtype).mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return float(ece)


def negative_log_likelihood(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean -log p(label)."""
    return float(-probs[torch.arange(len(labels)), labels].clamp_min(1e-300).log().mean())


@pytest.fixture(scope="module")
def digits_fit():
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.5, random_state=0, stratify=digits.target)
    scaler = StandardScaler().fit(X_train)
    X_train = torch.tensor(scaler.transform(X_train), dtype=torch.float64)
    X_test = torch.tensor(scaler.transform(X_test), dtype=torch.float64)
    y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10)).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(300):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(X_train), y_train).backward()
        optimizer.step()
    model.eval()

    la = Laplace(model, "classification", structure="kron", subset="last_layer", prior="scalar")
    la.fit(X_train, y_train)
    trace = la.optimize_hyperparameters(n_steps=100, lr=0.1)
    assert trace[-1] > trace[0]  # the tuning did something
    return model, la, X_test, y_test


def _scores(model, la, X, y):
    with torch.no_grad():
        map_probs = torch.softmax(model(X), dim=-1)
        la_probs = la.predict(X)
    return {
        "map_nll": negative_log_likelihood(map_probs, y),
        "map_ece": expected_calibration_error(map_probs, y),
        "la_nll": negative_log_likelihood(la_probs, y),
        "la_ece": expected_calibration_error(la_probs, y),
        "accuracy": float((map_probs.argmax(1) == y).double().mean()),
    }


def test_ece_of_known_cases():
    labels = torch.tensor([0, 1, 0, 1])
    perfect = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert expected_calibration_error(perfect, labels) == 0.0
    # confidence 0.9 everywhere, half right: |0.5 - 0.9| = 0.4
    wrong_half = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]], dtype=torch.float64)
    assert expected_calibration_error(wrong_half, labels) == pytest.approx(0.4)


@pytest.mark.xfail(strict=True, reason="on in-distribution digits the MAP is well calibrated "
                   "(ECE ~0.016, NLL ~0.10) and the marglik-tuned Laplace underconfident "
                   "(ECE ~0.1, NLL ~0.2); see the module docstring")
def test_laplace_beats_map_in_distribution(digits_fit):
    model, la, X_test, y_test = digits_fit
    s = _scores(model, la, X_test, y_test)
    assert s["accuracy"] > 0.9
    assert s["la_nll"] < s["map_nll"], s
    assert s["la_ece"] < s["map_ece"], s


@pytest.mark.parametrize("noise", [1.5, 2.0])
def test_laplace_beats_map_under_pixel_noise(digits_fit, noise):
    model, la, X_test, y_test = digits_fit
    shifted = X_test + noise * torch.randn(X_test.shape, dtype=X_test.dtype,
                                           generator=torch.Generator().manual_seed(0))
    s = _scores(model, la, shifted, y_test)
    assert s["map_ece"] > 0.15, s  # the MAP is overconfident on shifted inputs
    assert s["la_nll"] < s["map_nll"], s
    assert s["la_ece"] < s["map_ece"], s
