"""Acquisition for several outcomes and for linearly constrained spaces.

Used by the model-based policy instead of ``acquisition.propose_batch`` when a study has
several objectives, outcome constraints or linear parameter constraints:

* one objective with outcome constraints: constrained qLogNEI (the constraint slacks of the
  modelled metrics weight the improvement by the probability of feasibility);
* 2-4 objectives: qLogNEHVI (Daulton et al. 2021) with the outcome constraints, reference point
  from the objectives' ``threshold``s or, when absent, inferred from the observed front
  (BoTorch's ``infer_reference_point``);
* linear parameter constraints go to ``optimize_acqf`` as ``inequality_constraints``; its raw
  samples for the starting points are feasible Sobol points (``feasible_starts``).

Outcome constraints enter both acquisitions as smoothed feasibility indicators of each Monte Carlo
sample's slack. BoTorch's default is a heavy-tailed "fatmoid" of temperature ``eta = 1e-3`` in the
metric's own units, whatever they are: a point infeasible by 3e-4 (on a metric of spread ~1) still
counts as ~45 % feasible for a perfect model, and a metric measured in units of 1e-4 is never told
apart from feasible. Converging onto a constraint boundary (ConstrainedGramacy: the optimum lies on
it), runs then spent their last evaluations just across it (slacks -1e-4 .. -3e-3, traced on seed
2). Here each constraint's temperature is ``CONSTRAINT_TEMPERATURE`` times its metric's observed
standard deviation (unit-free) and the indicator is the logistic sigmoid, whose log falls linearly
on the infeasible side (gradients stay informative in log space). Measured in
``docs/benchmarks.md`` ("Sharper constraint indicators").

Categorical columns are optimised on their relaxed index and rounded afterwards, like integers.

Each plain GP outcome model is read through its closed-form ``CachedPosteriorGP`` during the
optimisation (``closed_form_posteriors``), as the single-objective path does: the same posterior,
without GPyTorch's per-call dispatch. Measured with ``benchmarks.policy_latency --outcomes 3`` (one
objective, two constrained metrics, d = 6) in ``docs/benchmarks.md`` ("Constrained suggest latency").

BoTorch compiles an optional fused C++ kernel for qLogNEHVI with ninja and ``-march=native`` the
first time the acquisition is built (about 7 s on a quiet machine, minutes on a loaded 2-core
one) and falls back to its pure PyTorch path when that fails. bdlopt takes the PyTorch path from
the start: a compiler run inside a user's first multi-objective suggest (and again on every
fresh worker or CI machine) costs more than the kernel saves at bdlopt's batch sizes. BoTorch
offers no switch for this, so its load sentinel is set below (a private name, checked to exist).
"""

from __future__ import annotations

import warnings

import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective import logei as multi_objective_logei
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.objective import GenericMCObjective
from botorch.models.model import Model, ModelList
from botorch.optim import optimize_acqf
from botorch.sampling.list_sampler import ListSampler
from botorch.sampling.normal import SobolQMCNormalSampler
from botorch.utils.multi_objective.hypervolume import infer_reference_point
from botorch.utils.multi_objective.pareto import is_non_dominated
from torch import Tensor

from service.optimizers.acquisition import AcquisitionOptions, optimization_bounds
from service.optimizers.acquisition_function import build_qlognei
from service.optimizers.cached_posterior import cached_posterior_model
from service.optimizers.feasible_starts import initial_conditions_generator
from service.optimizers.outcomes import Outcomes
from service.space.linear_constraints import LinearConstraints
from service.space.search_space import SearchSpace

CONSTRAINT_TEMPERATURE = 1e-5  # sigmoid temperature of a constraint's slack, in its metric's observed sds

if hasattr(multi_objective_logei, "_load_attempted"):  # no run-time C++ build (module docstring)
    multi_objective_logei._load_attempted = True


def reference_point(outcomes: Outcomes) -> Tensor:
    """``(k,)`` hypervolume reference point (maximisation-oriented): the thresholds, else inferred.

    Inferred from the non-dominated feasible observations (all observations when none is
    feasible), slightly below the front's nadir, as BoTorch's ``infer_reference_point`` does.
    """
    if outcomes.ref_point is not None:
        return outcomes.ref_point.to(outcomes.Y)
    Y = outcomes.Y[:, : outcomes.n_objectives]
    feasible = outcomes.feasible()
    if bool(feasible.any()):
        Y = Y[feasible]
    return infer_reference_point(Y[is_non_dominated(Y)])


def constraint_temperatures(outcomes: Outcomes) -> Tensor:
    """``(c,)`` temperatures of the constraints' feasibility sigmoids: ``CONSTRAINT_TEMPERATURE`` times
    the observed standard deviation of each constrained metric (1 where it is undefined or 0)."""
    scales = []
    for c in outcomes.constraints:
        values = outcomes.Y[:, c.column]
        values = values[torch.isfinite(values)]
        sd = values.std() if values.numel() > 1 else torch.ones((), dtype=outcomes.Y.dtype, device=outcomes.Y.device)
        scales.append(sd if bool(sd > 0) else torch.ones_like(sd))
    return CONSTRAINT_TEMPERATURE * torch.stack(scales)


def closed_form_posteriors(model: Model) -> Model:
    """``model`` with each plain GP (alone or inside a ``ModelList``) replaced by its ``CachedPosteriorGP``:
    the same posterior at a fraction of GPyTorch's per-call cost (other models are kept)."""
    if isinstance(model, ModelList):
        return ModelList(*[cached_posterior_model(part) or part for part in model.models])
    return cached_posterior_model(model) or model


def build_acquisition(model: Model, X_baseline: Tensor, pending: Tensor, outcomes: Outcomes | None,
                      mc_samples: int, seed: int, max_baseline: int):
    """The acquisition function for the study's outcomes (module docstring)."""
    pending_or_none = pending if pending.shape[0] > 0 else None
    if outcomes is None:
        return build_qlognei(model, X_baseline, pending, mc_samples, seed, max_baseline)
    shape = torch.Size([mc_samples])
    if isinstance(model, ModelList):  # one posterior per outcome model: one sampler each
        sampler = ListSampler(*[SobolQMCNormalSampler(sample_shape=shape, seed=seed + j) for j in range(len(model.models))])
    else:
        sampler = SobolQMCNormalSampler(sample_shape=shape, seed=seed)
    constraints = [lambda Y, c=c: c.slack(Y) for c in outcomes.constraints] or None
    feasibility = {"eta": constraint_temperatures(outcomes), "fat": False} if constraints else {}
    if outcomes.n_objectives == 1:
        return qLogNoisyExpectedImprovement(
            model=model, X_baseline=X_baseline, sampler=sampler,
            objective=GenericMCObjective(lambda Y, X=None: Y[..., 0]),
            X_pending=pending_or_none, constraints=constraints, prune_baseline=True, **feasibility,
        )
    return qLogNoisyExpectedHypervolumeImprovement(
        model=model, ref_point=reference_point(outcomes), X_baseline=X_baseline, sampler=sampler,
        objective=IdentityMCMultiOutputObjective(outcomes=list(range(outcomes.n_objectives))),
        constraints=constraints, X_pending=pending_or_none, prune_baseline=True, **feasibility,
    )


def propose_constrained(
    model: Model,
    space: SearchSpace,
    X_baseline: Tensor,
    pending: Tensor,
    count: int,
    seed: int,
    outcomes: Outcomes | None,
    linear: LinearConstraints | None,
    options: AcquisitionOptions = AcquisitionOptions(),
) -> Tensor:
    """Maximise the study's acquisition for ``count`` points.

    Args:
        model: fitted model; ``m`` outputs in the column order of ``outcomes.Y`` (1 when None).
        space: the search space.
        X_baseline: ``(n, D)`` observed encoded points.
        pending: ``(p, D)`` encoded pending points.
        count: batch size ``q``.
        seed: seeds the sampler and the starting points.
        outcomes: the modelled outcomes (None: a single objective).
        linear: linear parameter constraints (None: none).
        options: optimisation budget.

    Returns:
        ``(count, D)`` optimiser output inside the box (not yet canonicalized).
    """
    dtype, device = X_baseline.dtype, X_baseline.device
    model = closed_form_posteriors(model)
    bounds = optimization_bounds(space, dtype, device)
    inequalities = linear.inequality_constraints(dtype, device) if linear else None
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        acqf = build_acquisition(model, X_baseline, pending.to(X_baseline), outcomes, options.mc_samples, seed,
                                 options.max_baseline)
        candidates, _ = optimize_acqf(
            acq_function=acqf, bounds=bounds, q=count, num_restarts=options.num_restarts,
            raw_samples=options.raw_samples, inequality_constraints=inequalities,
            options={"maxiter": options.maxiter, "batch_limit": options.num_restarts},
            sequential=count > options.joint_max_q,
            ic_generator=initial_conditions_generator(bounds, inequalities, seed),
        )
    return candidates.detach().reshape(-1, space.dim)
