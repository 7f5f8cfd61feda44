"""Job kind ``laplace``: train a MAP network, fit a Laplace posterior, tune prior and noise post hoc.

Prior tuning ``marglik`` (default) maximises the Laplace evidence; ``validation`` holds out
``validation_fraction`` of the training rows from the MAP and the posterior, and picks the scalar
prior precision with the lowest validation NLL on a grid (Laplace Redux's grid search; for
regression the noise is tuned by the evidence first). The second suits networks trained to
interpolation without weight decay, whose evidence prefers a prior so broad that the predictive
is underconfident (``benchmarks.laplace_calibration``).

Prior tuning ``auto`` tunes by the evidence, then compares the Laplace predictive with the MAP
network on the held-out training rows: unless it is better by a standard error, it switches to the
validation grid, and unless the grid's best is better by a standard error, to the grid's largest
precision, at which the predictive is the MAP network's (so ``auto`` is never worse than the MAP
by more than noise).

Result: the log marginal likelihood, the tuned hyperparameters, the held-out NLL / accuracy /
ECE (classification) or NLL / RMSE (regression) of the MAP network and of the linearised Laplace
predictive, ``laplace_beats_map`` (per metric) and ``advice`` when the Laplace predictive loses.
Artifacts: ``weights.safetensors`` and ``weights.json`` (enough to rebuild the posterior for
``POST /v1/jobs/{id}/predict``), ``reliability.png`` (classification) and ``evidence.png``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

import torch
from pydantic import Field

from service.jobs.context import JobContext
from service.jobs.data import DataSplits
from service.jobs.evaluation import laplace_metrics, map_metrics, map_predictive, prior_summary
from service.jobs.map_comparison import comparison_report
from service.jobs.map_training import train_map
from service.jobs.model_artifacts import save_network
from service.jobs.networks import build_network
from service.jobs.posterior_predict import save_posterior
from service.jobs.registry import JobConfig, JobKind, register

Structure = Literal["full", "diag", "kron", "function"]
PriorStructure = Literal["scalar", "layerwise", "unitwise", "parameter"]


class LaplaceJobConfig(JobConfig):
    """Settings of a ``laplace`` job (every field defaulted)."""

    epochs: int = Field(default=100, ge=1, le=100_000, description="MAP training epochs.")
    batch_size: int = Field(default=128, ge=1, le=1_000_000)
    lr: float = Field(default=1e-3, gt=0.0, description="Adam learning rate of MAP training.")
    structure: Structure = Field(default="kron", description="Posterior precision structure.")
    subset: Literal["all", "last_layer"] = "all"
    kfac: Literal["expand", "reduce"] = Field(default="expand", description="K-FAC flavour for weight sharing.")
    prior: PriorStructure = Field(default="layerwise", description="Prior precision structure.")
    prior_precision: float = Field(default=1.0, gt=0.0, description="Initial prior precision (also MAP weight decay).")
    sigma_noise: float = Field(default=1.0, gt=0.0, description="Initial noise std of standardised targets.")
    tune_hyperparameters: bool = Field(default=True, description="Tune prior (and noise) after the fit.")
    prior_tuning: Literal["marglik", "validation", "auto"] = Field(
        default="marglik", description="Choose the prior by marginal likelihood, by the NLL of held-out "
        "training rows (grid of scalar precisions 1e-4..1e6), or 'auto': by marginal likelihood, switching to the "
        "validation grid when the held-out rows say the Laplace predictive is worse than the MAP network.")
    validation_fraction: float = Field(default=0.2, gt=0.0, lt=1.0, description="Share of training rows held out "
                                       "when prior_tuning is 'validation' or 'auto'.")
    min_sigma_noise: float = Field(default=1e-3, gt=0.0, description="Floor of the tuned noise std (standardised "
                                   "targets; regression).")
    tune_steps: int = Field(default=100, ge=0, le=100_000)
    tune_lr: float = Field(default=0.1, gt=0.0)
    link: Literal["probit", "mc"] = Field(default="probit", description="Classification predictive link.")
    ece_bins: int = Field(default=15, ge=2, le=100)
    plots: bool = Field(default=True, description="Write the reliability-diagram and evidence-history PNGs.")


def tune_by_marginal_likelihood(context: JobContext, la: Any, *, steps: int, lr: float,
                                span: tuple[float, float], min_sigma_noise: float | None = None) -> list[float]:
    """The engine's evidence tuning (``la.optimize_hyperparameters``: log prior precisions, and log sigma
    above ``min_sigma_noise`` for regression), reporting each step's log marginal likelihood as progress.

    Returns:
        The log marginal likelihood before each step (length ``steps``).
    """

    def report(step: int, n_steps: int, lml: float) -> None:
        fraction = span[0] + (span[1] - span[0]) * step / n_steps
        context.progress(fraction, f"tuning hyperparameters: step {step}/{n_steps}", log_marglik=lml)

    return la.optimize_hyperparameters(n_steps=steps, lr=lr, min_sigma_noise=min_sigma_noise, callback=report)[:-1]


def fit_laplace(network: torch.nn.Module, context: JobContext, config: LaplaceJobConfig, *, structure: str,
                prior: str, data: DataSplits | None = None) -> Any:
    """A bdl_core Laplace of ``network`` fitted on the training split of ``data`` (default: the job's)."""
    from bdl_core.laplace import Laplace

    data = context.data if data is None else data
    la = Laplace(network, likelihood=context.task, structure=structure, subset=config.subset, kfac=config.kfac,
                 prior=prior, prior_precision=config.prior_precision,
                 sigma_noise=config.sigma_noise if context.task == "regression" else 1.0)
    return la.fit(data.x_train, data.y_train)


def hold_out_validation(data: DataSplits, fraction: float) -> tuple[DataSplits, torch.Tensor, torch.Tensor]:
    """The last ``fraction`` of the (already shuffled) training rows as validation data.

    Returns:
        The splits with the remaining training rows, and the validation X (V, D) and y.

    Raises:
        ValueError: fewer than 2 training rows would remain, or no validation row.
    """
    n = int(data.x_train.shape[0])
    n_val = int(round(fraction * n))
    if n_val < 1 or n - n_val < 2:
        raise ValueError(f"config.validation_fraction {fraction} leaves {n - n_val} training and {n_val} "
                         f"validation rows of {n}; at least 2 and 1 are needed")
    kept = dataclasses.replace(data, x_train=data.x_train[: n - n_val], y_train=data.y_train[: n - n_val])
    return kept, data.x_train[n - n_val:], data.y_train[n - n_val:]


def tune_on_validation(context: JobContext, la: Any, x_val: torch.Tensor, y_val: torch.Tensor, *,
                       span: tuple[float, float]) -> dict[str, list[float]]:
    """Grid search of the scalar prior precision by validation NLL, reporting progress per value."""

    def report(i: int, n: int, nll: float) -> None:
        context.progress(span[0] + (span[1] - span[0]) * i / n, f"prior by validation NLL: {i}/{n}")

    grid, losses = la.optimize_prior_precision_on_validation(x_val, y_val, progress_callback=report)
    return {"grid": grid.tolist(), "nll": losses.tolist()}


def _hyperparameters(la: Any) -> dict[str, Any]:
    return {"prior_precision": prior_summary(la.prior_precision),
            "sigma_noise": float(la.sigma_noise) if la.likelihood == "regression" else None}


def map_validation_nlls(network: torch.nn.Module, data: DataSplits, x_val: torch.Tensor, y_val: torch.Tensor,
                         task: str) -> torch.Tensor:
    """(V,) NLL of each validation row under the MAP network's predictive (as in ``map_metrics``)."""
    from bdl_core.calibration import gaussian_negative_log_likelihoods, negative_log_likelihoods

    predictive = map_predictive(network, data, x_val, task)
    if task == "classification":
        return negative_log_likelihoods(predictive, y_val)
    mean, variance = predictive
    return gaussian_negative_log_likelihoods(mean, variance, y_val.reshape(mean.shape)).sum(dim=1)


def significantly_worse(laplace: torch.Tensor, map_: torch.Tensor) -> bool:
    """Whether the Laplace predictive is not better than the MAP's on these rows by one standard error."""
    difference = (laplace - map_).double()
    se = float(difference.std() / difference.numel() ** 0.5) if difference.numel() > 1 else 0.0
    return float(difference.mean()) + se > 0.0


def tune_auto(context: JobContext, la: Any, network: torch.nn.Module, data: DataSplits, x_val: torch.Tensor,
              y_val: torch.Tensor, config: LaplaceJobConfig) -> dict[str, Any]:
    """``prior_tuning: "auto"`` after the evidence tuning: keep the evidence's prior if its predictive beats the
    MAP network's on the validation rows by a standard error; else the validation grid's best prior, if that
    does; else the grid's largest precision, whose predictive is the MAP network's (never worse than it)."""
    from bdl_core.laplace import validation_negative_log_likelihoods

    map_nlls = map_validation_nlls(network, data, x_val, y_val, context.task)
    marglik_nlls = validation_negative_log_likelihoods(la, x_val, y_val, config.link)
    report: dict[str, Any] = {"validation_nll_map": float(map_nlls.mean()),
                              "validation_nll_marglik": float(marglik_nlls.mean()),
                              "switched_to_validation": significantly_worse(marglik_nlls, map_nlls),
                              "fell_back_to_map": False}
    if report["switched_to_validation"]:
        report["validation"] = {"n_validation": int(x_val.shape[0]),
                                **tune_on_validation(context, la, x_val, y_val, span=(0.78, 0.9))}
        grid_nlls = validation_negative_log_likelihoods(la, x_val, y_val, config.link)
        report["validation_nll_grid"] = float(grid_nlls.mean())
        if significantly_worse(grid_nlls, map_nlls):
            la.prior_precision = max(report["validation"]["grid"])
            report["fell_back_to_map"] = True
    return report


def _plots(context: JobContext, la: Any, network: torch.nn.Module, data: DataSplits, trace: list[float],
           config: LaplaceJobConfig) -> list[str]:
    from service.jobs.laplace_plots import evidence_png, save_reliability

    names = []
    if context.task == "classification":
        names.append(save_reliability(context, network, la, link=config.link, n_bins=config.ece_bins))
    if trace:
        content = evidence_png({"evidence tuning": (list(range(1, len(trace) + 1)), trace)}, "tuning step")
        names.append(context.artifacts.save_bytes("evidence.png", content, "image/png").name)
    return names


def run(context: JobContext) -> dict[str, Any]:
    """Train, fit, tune, evaluate and save (see the module docstring)."""
    config: LaplaceJobConfig = context.config  # type: ignore[assignment]
    data = context.data
    holds_out = config.tune_hyperparameters and config.prior_tuning in ("validation", "auto")
    train_data, x_val, y_val = hold_out_validation(data, config.validation_fraction) if holds_out else (
        data, None, None)
    network = build_network(context.model, data.n_features, data.n_outputs, dtype=context.dtype,
                            device=context.device, seed=config.seed)
    started = time.perf_counter()
    losses = train_map(context, network, train_data, epochs=config.epochs, lr=config.lr,
                       batch_size=config.batch_size, prior_precision=config.prior_precision, span=(0.0, 0.6))
    train_seconds = time.perf_counter() - started
    map_result = map_metrics(network, data, context.task, ece_bins=config.ece_bins)
    context.progress(0.62, f"fitting the {config.structure} Laplace posterior", force=True)
    started = time.perf_counter()
    la = fit_laplace(network, context, config, structure=config.structure, prior=config.prior, data=train_data)
    fit_seconds = time.perf_counter() - started
    context.check()
    initial_lml = float(la.log_marginal_likelihood().detach())
    trace: list[float] = []
    validation: dict[str, Any] | None = None
    auto: dict[str, Any] | None = None
    by_validation = holds_out and config.prior_tuning == "validation"
    evidence_steps = config.tune_steps if not by_validation or context.task == "regression" else 0
    if config.tune_hyperparameters and evidence_steps:
        trace = tune_by_marginal_likelihood(context, la, steps=evidence_steps, lr=config.tune_lr,
                                            span=(0.65, 0.78 if holds_out else 0.9),
                                            min_sigma_noise=config.min_sigma_noise)
    if holds_out and config.prior_tuning == "auto":
        auto = tune_auto(context, la, network, train_data, x_val, y_val, config)
    if by_validation:
        validation = {"n_validation": int(x_val.shape[0]),
                      **tune_on_validation(context, la, x_val, y_val, span=(0.78, 0.9))}
    with torch.no_grad():
        lml = float(la.log_marginal_likelihood())
    context.progress(0.92, "evaluating the Laplace predictive", log_marglik=lml, force=True)
    laplace_result = laplace_metrics(la, data, context.task, ece_bins=config.ece_bins, link=config.link)
    prior_tuning = config.prior_tuning if config.tune_hyperparameters else "none"
    hyper = _hyperparameters(la)
    artifacts = save_network(context, network, context.model, extra={
        "laplace": {"structure": config.structure, "subset": config.subset, "kfac": config.kfac,
                    "prior": config.prior, "log_marginal_likelihood": lml, "n_train": int(train_data.x_train.shape[0]),
                    **hyper}})
    artifacts.append(save_posterior(context, la))
    if config.plots:
        artifacts += _plots(context, la, network, data, trace, config)
    return {
        "log_marginal_likelihood": lml,
        "log_marginal_likelihood_before_tuning": initial_lml,
        "tuning_trace": trace,
        "prior_tuning": prior_tuning,
        "validation": validation,
        "auto": auto,
        **hyper,
        "map": map_result,
        "laplace": laplace_result,
        **comparison_report(map_result, laplace_result, context.task, prior_tuning),
        "train_loss": losses,
        "n_train": int(train_data.x_train.shape[0]),
        "n_test": int(data.x_test.shape[0]),
        "n_params": int(la.n_params),
        "structure": config.structure,
        "model": context.model.model_dump(mode="json"),
        "timings": {"map_training_s": train_seconds, "laplace_fit_s": fit_seconds},
        "device": context.info.get("device"),
        "artifacts": artifacts,
    }


KIND = register(JobKind(name="laplace", config=LaplaceJobConfig, run=run,
                        summary="MAP training, Laplace posterior, post-hoc tuning by marginal likelihood or validation"))
