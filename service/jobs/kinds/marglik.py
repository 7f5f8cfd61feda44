"""Job kind ``marglik``: online marginal-likelihood training (Immer et al., 2021) of several candidates.

Each candidate (an architecture and/or a prior or posterior structure) is trained with
``bdl_core.marglik.train``, which interleaves MAP steps with hyperparameter steps on the Laplace
evidence. The candidate with the highest final log marginal likelihood is chosen; the result
also holds every candidate's history and held-out metrics (MAP and Laplace predictive), so a
user can see whether the evidence picked well, and ``laplace_beats_map`` (with ``advice``) says
whether each candidate's Laplace predictive beat its MAP network. Artifacts: the chosen network's
``weights.safetensors`` and ``weights.json``, ``evidence.png`` (every candidate's evidence
history) and ``reliability.png`` (classification, the chosen candidate).
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.jobs.context import JobContext
from service.jobs.evaluation import laplace_metrics, map_metrics, prior_summary
from service.jobs.kinds.laplace import PriorStructure, Structure
from service.jobs.map_comparison import comparison_report
from service.jobs.model_artifacts import save_network
from service.jobs.model_specs import ModelSpec, parse_model_spec
from service.jobs.networks import build_network
from service.jobs.posterior_predict import save_posterior
from service.jobs.registry import JobConfig, JobKind, register

#: Share of a candidate's progress for its training; the rest covers the final fit and evaluation.
TRAINING_SHARE = 0.9

#: Candidates compared when the request names neither candidates nor a model.
DEFAULT_CANDIDATE_MODELS: list[dict[str, Any]] = [
    {"kind": "mlp", "hidden": [50]},
    {"kind": "mlp", "hidden": [100, 100]},
    {"kind": "mlp", "hidden": [200, 200]},
]


class Candidate(BaseModel):
    """One candidate; omitted fields take the job's model and the config's structure and prior."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str | None = Field(default=None, max_length=128)
    model: dict[str, Any] | None = None
    structure: Structure | None = None
    prior: PriorStructure | None = None

    @field_validator("model")
    @classmethod
    def _model(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            return parse_model_spec(value).model_dump(mode="json")
        except Exception as error:  # InvalidInputError -> pydantic error naming the candidate
            raise ValueError(getattr(error, "message", str(error))) from None


class MarglikJobConfig(JobConfig):
    """Settings of a ``marglik`` job (every field defaulted).

    ``candidates`` empty: the job's model alone when the request names one (its hyperparameters are
    still learned by marginal likelihood), else the three MLPs of ``DEFAULT_CANDIDATE_MODELS``.
    """

    candidates: list[Candidate] = Field(default_factory=list, max_length=32)
    epochs: int = Field(default=100, ge=1, le=100_000)
    batch_size: int = Field(default=128, ge=1, le=1_000_000)
    lr: float = Field(default=1e-3, gt=0.0, description="Adam learning rate of the network parameters.")
    lr_hyper: float = Field(default=0.1, gt=0.0, description="Adam learning rate of the hyperparameters.")
    hyper_steps: int = Field(default=50, ge=1, le=10_000, description="Hyperparameter steps per marglik update.")
    marglik_frequency: int = Field(default=5, ge=1, description="Epochs between marginal-likelihood updates.")
    burnin_epochs: int = Field(default=10, ge=0, description="No marginal-likelihood update before this epoch.")
    early_stopping: bool = Field(default=False, description="Stop when the evidence stops improving and keep the "
                                 "best weights and hyperparameters.")
    structure: Structure = Field(default="kron", description="Posterior structure of the evidence.")
    prior: PriorStructure = Field(default="layerwise", description="Prior precision structure.")
    kfac: Literal["expand", "reduce"] = "expand"
    link: Literal["probit", "mc"] = "probit"
    ece_bins: int = Field(default=15, ge=2, le=100)
    plots: bool = Field(default=True, description="Write the evidence-history and reliability-diagram PNGs.")


def resolve_candidates(context: JobContext, config: MarglikJobConfig) -> list[tuple[str, ModelSpec, str, str]]:
    """``(name, model, structure, prior)`` of each candidate, defaults filled in."""
    if config.candidates:
        chosen = config.candidates
    elif context.model_given:
        chosen = [Candidate()]
    else:
        chosen = [Candidate(model=model) for model in DEFAULT_CANDIDATE_MODELS]
    resolved = []
    for index, candidate in enumerate(chosen):
        model = parse_model_spec(candidate.model) if candidate.model is not None else context.model
        structure = candidate.structure or config.structure
        prior = candidate.prior or config.prior
        name = candidate.name or f"{index}:{_describe(model)}/{structure}/{prior}"
        resolved.append((name, model, structure, prior))
    return resolved


def _describe(model: ModelSpec) -> str:
    if model.kind == "mlp":
        return "mlp-" + "-".join(str(width) for width in model.hidden) if model.hidden else "linear"
    if model.kind == "bn_mlp":
        return f"bn_mlp-{model.width}x{model.depth}-{model.activation}"
    return "cnn-" + "-".join(str(channels) for channels in model.channels)


def _numbers(info: dict[str, Any]) -> dict[str, float]:
    plain = {}
    for key, value in info.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            plain[key] = float(value)
    return plain


def train_candidate(context: JobContext, config: MarglikJobConfig, index: int, total: int,
                    candidate: tuple[str, ModelSpec, str, str]) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """Marginal-likelihood training of one candidate; returns (network, fitted Laplace, history dict)."""
    from bdl_core.marglik import TrainingCancelled, train

    name, model, structure, prior = candidate
    data = context.data
    network = build_network(model, data.n_features, data.n_outputs, dtype=context.dtype, device=context.device,
                            seed=config.seed + index)
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.x_train, data.y_train),
                                         batch_size=config.batch_size, shuffle=True, generator=generator)

    def on_epoch(epoch: int, epochs: int, info: dict[str, Any]) -> None:
        numbers = _numbers(info)
        share = TRAINING_SHARE * epoch / epochs
        context.progress((index + share) / total, f"candidate {index + 1}/{total} ({name}): "
                         f"epoch {epoch}/{epochs}, loss {numbers.get('loss', float('nan')):.4g}", epoch=epoch,
                         log_marglik=numbers.get("log_marginal_likelihood"))

    try:
        la, history = train(network, loader, likelihood=context.task, structure=structure, prior=prior,
                            kfac=config.kfac, epochs=config.epochs, lr=config.lr, lr_hyp=config.lr_hyper,
                            n_epochs_burnin=config.burnin_epochs, marglik_frequency=config.marglik_frequency,
                            n_hypersteps=config.hyper_steps, early_stopping=config.early_stopping,
                            progress_callback=on_epoch, should_stop=context.should_stop)
    except TrainingCancelled:
        context.check()  # raises JobCancelled / JobLost / JobInterrupted
        raise
    return network, la, history.to_dict()


def _plots(context: JobContext, config: MarglikJobConfig, reports: list[dict[str, Any]], network: torch.nn.Module,
           la: Any) -> list[str]:
    """``evidence.png`` (every candidate's history) and, for classification, the chosen one's ``reliability.png``."""
    from service.jobs.laplace_plots import evidence_png, save_reliability

    names = []
    histories = {r["name"]: (r["history"]["marglik_epochs"], r["history"]["log_marginal_likelihood"])
                 for r in reports if r["history"]["marglik_epochs"]}
    if histories:
        content = evidence_png(histories, "epoch")
        names.append(context.artifacts.save_bytes("evidence.png", content, "image/png").name)
    if context.task == "classification":
        names.append(save_reliability(context, network, la, link=config.link, n_bins=config.ece_bins))
    return names


def run(context: JobContext) -> dict[str, Any]:
    """Train every candidate, pick by marginal likelihood, evaluate all, save the chosen network."""
    config: MarglikJobConfig = context.config  # type: ignore[assignment]
    candidates = resolve_candidates(context, config)
    data = context.data
    reports, fitted, posteriors = [], [], []
    for index, candidate in enumerate(candidates):
        started = time.perf_counter()
        network, la, history = train_candidate(context, config, index, len(candidates), candidate)
        context.progress((index + TRAINING_SHARE) / len(candidates),
                         f"candidate {index + 1}/{len(candidates)}: evaluating on the test split", force=True)
        with torch.no_grad():
            lml = float(la.log_marginal_likelihood())
        name, model, structure, prior = candidate
        reports.append({
            "name": name, "model": model.model_dump(mode="json"), "structure": structure, "prior": prior,
            "log_marginal_likelihood": lml, "n_params": int(la.n_params),
            "prior_precision": prior_summary(la.prior_precision),
            "sigma_noise": float(la.sigma_noise) if context.task == "regression" else None,
            "map": map_metrics(network, data, context.task, ece_bins=config.ece_bins),
            "laplace": laplace_metrics(la, data, context.task, ece_bins=config.ece_bins, link=config.link),
            "history": history, "train_seconds": time.perf_counter() - started,
        })
        reports[-1].update(comparison_report(reports[-1]["map"], reports[-1]["laplace"], context.task, "marglik"))
        posteriors.append(la)
        fitted.append(network)
        context.progress((index + 1) / len(candidates), f"candidate {index + 1}/{len(candidates)} done",
                         log_marglik=lml, force=True)
    best = max(range(len(reports)), key=lambda i: reports[i]["log_marginal_likelihood"])
    chosen = reports[best]
    metric = "accuracy" if context.task == "classification" else "rmse"
    pick = max if context.task == "classification" else min
    best_on_test = pick(range(len(reports)), key=lambda i: reports[i]["laplace"][metric])
    artifacts = save_network(context, fitted[best], candidates[best][1], extra={
        "marglik": {"candidate": chosen["name"], "structure": chosen["structure"], "prior": chosen["prior"],
                    "log_marginal_likelihood": chosen["log_marginal_likelihood"],
                    "prior_precision": chosen["prior_precision"], "sigma_noise": chosen["sigma_noise"],
                    "kfac": config.kfac, "subset": "all", "n_train": int(data.x_train.shape[0])}})
    artifacts.append(save_posterior(context, posteriors[best]))
    if config.plots:
        artifacts += _plots(context, config, reports, fitted[best], posteriors[best])
    return {
        "chosen": chosen["name"],
        "chosen_index": best,
        "laplace_beats_map": chosen["laplace_beats_map"],
        "advice": chosen["advice"],
        "best_on_test": reports[best_on_test]["name"],
        "selection_metric": metric,
        "candidates": reports,
        "n_train": int(data.x_train.shape[0]),
        "n_test": int(data.x_test.shape[0]),
        "device": context.info.get("device"),
        "artifacts": artifacts,
    }


KIND = register(JobKind(name="marglik", config=MarglikJobConfig, run=run,
                        summary="online marginal-likelihood training and selection over candidates"))
