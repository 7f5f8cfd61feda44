"""Calibration of the linearised Laplace predictive against the MAP on scikit-learn's digits.

In distribution (the acceptance check of issue 3): the setup of
``benchmarks.laplace_calibration`` called ``interpolating``, i.e. a 64-64-64-10 ReLU MLP
trained with Adam and no weight decay to a training loss of ~1e-4 on 30 % of the digits
(80 % of that for training, 20 % held out), scored on the other 70 %. Its MAP is
overconfident. A K-FAC Laplace approximation of the last layer, with the scalar prior
precision chosen by the validation NLL (Laplace Redux's grid search), has lower test
NLL and ECE than the MAP, on average over seeds 0-3 and in NLL on every one of them
(the benchmark: 8 of 8 seeds on both metrics, pooled ECE 0.028 -> 0.006).

What does NOT hold, and is documented rather than tested: with the prior tuned by the
marginal likelihood the Laplace predictive is underconfident on digits, both for this
interpolating MAP (GGN ~0 on the fitted points, so the evidence picks a broad prior:
test ECE ~0.63) and for a MAP trained with weight decay, which is already calibrated
(ECE ~0.015; Laplace ~0.12). laplace-torch 0.3 (installed by hand, not a dependency)
reproduces the latter case to three digits (tuned prior 1.674 vs 1.660, NLL 0.1983 vs
0.1981, ECE 0.1089 vs 0.1087): it is the method on this data, not this code.

Under dataset shift (Gaussian pixel noise on the test inputs), where the weight-decay
MAP becomes overconfident, the marglik-tuned Laplace predictive wins on both metrics.
"""

from __future__ import annotations

import pytest
import torch

from bdl_core.calibration import expected_calibration_error, negative_log_likelihood
from bdl_core.laplace import Laplace
from benchmarks.laplace_calibration import SETUPS, evaluate_seed, split_digits, train_map


@pytest.fixture(scope="module")
def digits_fit():
    setup = SETUPS["weight-decay"]
    data = split_digits(0, setup)
    model, _ = train_map(data, 0, setup)
    la = Laplace(model, "classification", structure="kron", subset="last_layer", prior="scalar")
    la.fit(data.X_train, data.y_train)
    trace = la.optimize_hyperparameters(n_steps=100, lr=0.1)
    assert trace[-1] > trace[0]  # the tuning did something
    return model, la, data.X_test, data.y_test


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


VARIANT = "kron-last-layer/validation"
SEEDS = range(4)


@pytest.fixture(scope="module")
def interpolating_runs():
    return [evaluate_seed(seed, SETUPS["interpolating"], [VARIANT]) for seed in SEEDS]


def test_interpolating_map_is_overconfident(interpolating_runs):
    for run in interpolating_runs:
        assert run["MAP"]["train_loss"] < 1e-3, run["MAP"]["train_loss"]  # fitted to interpolation
        probs, labels = run["MAP"]["probs"], run["MAP"]["labels"]
        confidence = float(probs.max(dim=1).values.mean())
        assert confidence > run["MAP"]["accuracy"] + 0.01, (confidence, run["MAP"]["accuracy"])


def test_laplace_beats_map_in_distribution(interpolating_runs):
    def mean(name, metric):
        return sum(run[name][metric] for run in interpolating_runs) / len(interpolating_runs)

    summary = {f"{name} {metric}": round(mean(name, metric), 4)
               for name in ("MAP", VARIANT) for metric in ("nll", "ece", "accuracy")}
    assert mean("MAP", "accuracy") > 0.9, summary
    assert mean(VARIANT, "nll") < mean("MAP", "nll"), summary
    assert mean(VARIANT, "ece") < mean("MAP", "ece"), summary
    for run in interpolating_runs:
        assert run[VARIANT]["nll"] < run["MAP"]["nll"], summary


@pytest.mark.parametrize("noise", [1.5, 2.0])
def test_laplace_beats_map_under_pixel_noise(digits_fit, noise):
    model, la, X_test, y_test = digits_fit
    shifted = X_test + noise * torch.randn(X_test.shape, dtype=X_test.dtype,
                                           generator=torch.Generator().manual_seed(0))
    s = _scores(model, la, shifted, y_test)
    assert s["map_ece"] > 0.15, s  # the MAP is overconfident on shifted inputs
    assert s["la_nll"] < s["map_nll"], s
    assert s["la_ece"] < s["map_ece"], s
