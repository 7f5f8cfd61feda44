"""The constrained acquisition reads each GP outcome model through its closed-form posterior.

``constrained_acquisition.closed_form_posteriors`` swaps every plain ``SingleTaskGP`` of a ``ModelList``
for a ``CachedPosteriorGP``. The swap must not change what is optimised: the joint posterior of every
outcome and the constrained qLogNEI built on it equal the GPyTorch ones in float64; models it cannot
read stay as they are."""

from __future__ import annotations

import warnings

import torch
from botorch.models import GenericDeterministicModel, ModelList, SingleTaskGP
from botorch.models.transforms.outcome import Standardize

from service.optimizers.cached_posterior import CachedPosteriorGP
from service.optimizers.constrained_acquisition import build_acquisition, closed_form_posteriors
from service.optimizers.outcomes import OutcomeBound, Outcomes

F64 = torch.float64


def _fitted_gp(X: torch.Tensor, y: torch.Tensor, lengthscales: list[float], noise: float) -> SingleTaskGP:
    model = SingleTaskGP(X, y.unsqueeze(-1), outcome_transform=Standardize(m=1))
    model.covar_module.lengthscale = torch.tensor(lengthscales, dtype=F64)
    model.likelihood.noise = noise
    model.eval()
    return model


def _study() -> tuple[torch.Tensor, Outcomes, ModelList]:
    generator = torch.Generator().manual_seed(3)
    X = torch.rand(15, 2, generator=generator, dtype=F64)
    objective = -(X - 0.3).pow(2).sum(-1)
    metric = torch.sin(3 * X[:, 0]) + X[:, 1] - 0.9  # feasible where <= 0
    outcomes = Outcomes(Y=torch.stack([objective, metric], dim=-1), names=("f", "c"), n_objectives=1,
                        constraints=(OutcomeBound(column=1, op="<=", bound=0.0),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = ModelList(_fitted_gp(X, objective, [0.3, 0.5], 1e-4), _fitted_gp(X, metric, [0.4, 0.2], 1e-3))
    return X, outcomes, models


def test_every_gp_of_a_model_list_is_swapped() -> None:
    _, _, models = _study()
    swapped = closed_form_posteriors(models)
    assert isinstance(swapped, ModelList)
    assert all(isinstance(part, CachedPosteriorGP) for part in swapped.models)
    assert isinstance(closed_form_posteriors(models.models[0]), CachedPosteriorGP)


def test_joint_posterior_is_unchanged() -> None:
    _, _, models = _study()
    swapped = closed_form_posteriors(models)
    X = torch.rand(4, 3, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    with torch.no_grad():
        for before, after in zip(models.models, swapped.models):
            p, q = before.posterior(X), after.posterior(X)
            torch.testing.assert_close(q.mean, p.mean, atol=1e-9, rtol=1e-7)
            torch.testing.assert_close(q.mvn.covariance_matrix, p.mvn.covariance_matrix, atol=1e-8, rtol=1e-6)


def test_constrained_acquisition_values_are_unchanged() -> None:
    X, outcomes, models = _study()
    pending = torch.zeros(0, 2, dtype=F64)
    candidates = torch.rand(8, 1, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    values = []
    for model in (models, closed_form_posteriors(models)):
        acquisition = build_acquisition(model, X, pending, outcomes, mc_samples=64, seed=5, max_baseline=64)
        with torch.no_grad():
            values.append(acquisition(candidates))
    assert bool(torch.isfinite(values[0]).all())
    torch.testing.assert_close(values[1], values[0], atol=1e-5, rtol=1e-6)


def test_models_it_cannot_read_are_kept() -> None:
    _, _, models = _study()
    other = GenericDeterministicModel(lambda X: X.sum(-1, keepdim=True))
    swapped = closed_form_posteriors(ModelList(models.models[0], other))
    assert isinstance(swapped.models[0], CachedPosteriorGP)
    assert swapped.models[1] is other
