"""LA-NAM on synthetic data with a known additive truth: bands, feature selection, interactions."""

from __future__ import annotations

import pytest
import torch

from bdl_core.nam import (
    AdditiveModel,
    LaNamSettings,
    OnlineMarglikSettings,
    Term,
    extend_with_pairs,
    fit_lanam,
    new_fitted,
    rank_interactions,
    shape_functions,
    term_importances,
    train_online_marglik,
)
from bdl_core.nam.synthetic import make_additive_data
from bdl_core.nam.terms import Feature


@pytest.fixture(scope="module")
def additive_fit():
    data = make_additive_data(n=600, n_noise=2, categorical=True, seed=0)
    settings = LaNamSettings(training=OnlineMarglikSettings(epochs=200, batch_size=64), seed=0)
    return data, fit_lanam(data.X, data.y, data.features, "regression", settings)


def _centred_truth(data, feature: int, grid: torch.Tensor) -> torch.Tensor:
    return data.true_shape(feature, grid) - data.true_shape(feature, data.X[:, feature]).mean()


def test_recovered_shapes_lie_inside_their_95_percent_bands(additive_fit) -> None:
    data, result = additive_fit
    shapes = shape_functions(result.fitted, data.X, grid_size=50)
    for shape in shapes:
        (d,) = shape.features
        truth = _centred_truth(data, d, shape.grids[0])
        inside = ((truth - shape.mean).abs() <= 1.96 * shape.std).double().mean()
        assert inside >= 0.9, f"{shape.label}: truth inside the band on {float(inside):.0%} of the grid"
    # The bands are informative, not trivially wide: well below the signal's spread.
    sin = shapes[0]
    assert float(sin.std.max()) < 0.1 * float(sin.mean.max() - sin.mean.min())


def test_noise_features_get_higher_prior_precision_than_every_true_feature(additive_fit) -> None:
    data, result = additive_fit
    importances = term_importances(result.fitted, data.X)
    true_precisions = [importances[d].prior_precision for d in data.informative]
    for d in data.noise_features:
        assert importances[d].prior_precision > 3 * max(true_precisions), importances[d]
        assert importances[d].share < 0.01
    assert abs(result.fitted.sigma - data.noise_std) < 0.05


def test_categorical_feature_recovers_its_level_effects(additive_fit) -> None:
    data, result = additive_fit
    d = len(data.features) - 1
    assert data.features[d].categorical
    shape = shape_functions(result.fitted, data.X)[d]
    assert shape.grids[0].tolist() == [0.0, 1.0, 2.0]
    truth = _centred_truth(data, d, shape.grids[0])
    assert torch.all((truth - shape.mean).abs() <= 3 * shape.std)
    assert float((truth - shape.mean).abs().max()) < 0.1


def test_true_interaction_ranked_first_and_added_in_the_second_stage() -> None:
    data = make_additive_data(n=600, n_noise=2, interaction=1.5, seed=1)
    settings = LaNamSettings(training=OnlineMarglikSettings(epochs=80, batch_size=64), interactions=1,
                             interaction_epochs=60, ranking="marglik", seed=1)
    result = fit_lanam(data.X, data.y, data.features, "regression", settings)
    assert (result.ranking[0].i, result.ranking[0].j) == data.interaction
    assert result.ranking[0].score > 5 * result.ranking[1].score
    assert result.added_pairs == [data.interaction]
    assert result.fitted.model.terms[-1] == Term(data.interaction)
    assert result.fitted.log_marglik > result.first_stage.log_marglik + 0.1
    assert result.fitted.sigma < 0.8 * result.first_stage.sigma


def test_mutinf_ranks_two_copies_of_a_feature_first() -> None:
    """LA-NAM's mutual information sees subnetworks whose outputs are entangled over the data."""
    g = torch.Generator().manual_seed(3)
    X = torch.randn(400, 4, generator=g)
    X[:, 3] = X[:, 0] + 0.05 * torch.randn(400, generator=g)
    y = torch.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + 0.2 * torch.randn(400, generator=g)
    fitted = new_fitted(AdditiveModel([Feature(f"x{d}") for d in range(4)], seed=0), "regression")
    train_online_marglik(fitted.model, fitted.prior, fitted.log_sigma, X, y, "regression",
                         OnlineMarglikSettings(epochs=40, batch_size=100))
    ranking, matrix = rank_interactions(fitted, X, y, method="mutinf")
    assert (ranking[0].i, ranking[0].j) == (0, 3)
    torch.testing.assert_close(matrix, matrix.T)


def test_extending_with_pairs_keeps_the_fitted_function() -> None:
    features = [Feature("a"), Feature("b"), Feature("c", 3), Feature("d", 4)]
    g = torch.Generator().manual_seed(0)
    X = torch.randn(50, 4, generator=g)
    X[:, 2] = torch.randint(0, 3, (50,), generator=g).float()
    X[:, 3] = torch.randint(0, 4, (50,), generator=g).float()
    fitted = new_fitted(AdditiveModel(features, seed=0), "regression")
    with torch.no_grad():
        fitted.model.table.normal_(generator=g)
        fitted.prior.log_mlp.normal_(generator=g)
    extended = extend_with_pairs(fitted, [(0, 1), (1, 2), (2, 3)], seed=5)
    assert [t.features for t in extended.model.terms[4:]] == [(0, 1), (1, 2), (2, 3)]
    torch.testing.assert_close(extended.model(X), fitted.model(X))
    for t in range(4):  # old terms keep their precisions (MLP layers and tables)
        assert extended.prior.per_term()[t].tolist() == fitted.prior.per_term()[t].tolist()
    for t in range(4, 7):  # new terms start from the default precision 1
        assert extended.prior.per_term()[t].tolist() == [1.0] * len(extended.prior.per_term()[t])


def test_binary_classification_selects_the_informative_features() -> None:
    g = torch.Generator().manual_seed(4)
    U = torch.rand(800, 4, generator=g) * 2 - 1
    logits = 2.5 * torch.sin(torch.pi * U[:, 0]) + 2.0 * U[:, 1]
    y = torch.bernoulli(torch.sigmoid(logits), generator=g)
    features = [Feature(f"x{d}") for d in range(4)]
    settings = LaNamSettings(training=OnlineMarglikSettings(epochs=150, batch_size=100), seed=0)
    result = fit_lanam(U * 3**0.5, y, features, "classification", settings)
    precision = [imp.prior_precision for imp in term_importances(result.fitted, U * 3**0.5)]
    assert min(precision[2:]) > 2 * max(precision[:2])
    probs, logit_var = result.fitted.predict(U * 3**0.5)
    assert torch.all((probs > 0) & (probs < 1)) and torch.all(logit_var > 0)
    true_probs = torch.sigmoid(logits)
    assert float((probs - true_probs).abs().mean()) < 0.08
    assert result.fitted.sigma == 1.0
