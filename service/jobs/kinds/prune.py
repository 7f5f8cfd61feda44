"""Job kind ``prune``: SpaM (Dhahri et al. 2024) accuracy-versus-sparsity curves of a trained network.

The network is trained either by MAP with weight decay (``baseline: "map"``; its Laplace
posterior is then fitted and its prior tuned post hoc by the evidence) or by online
marginal-likelihood training with the chosen prior (``baseline: "marglik"``, via
``bdl_core.marglik.train``). For every criterion and sparsity a copy is pruned (one global
threshold, or per-layer unit removal when ``structured``), optionally fine-tuned with the mask
held, and evaluated on the held-out split.

Result: a table (criterion x sparsity x training) of held-out accuracy / NLL / ECE
(classification) or RMSE / NLL (regression) with parameter and FLOP counts, the log marginal
likelihood of the trained model, and the unpruned network's metrics. Artifacts: ``curves.png``
and, per criterion at ``export_sparsity``, ``pruned-<criterion>.safetensors`` / ``.json`` (dense
with zeros) plus, when structured, ``pruned-<criterion>-small.safetensors`` / ``.json``: the smaller
network, whose metadata holds the declared model with the reduced widths.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator

from service.jobs.context import JobContext
from service.jobs.evaluation import map_metrics
from service.jobs.kinds.laplace import PriorStructure, tune_by_marginal_likelihood
from service.jobs.map_training import train_map
from service.jobs.model_artifacts import save_network
from service.jobs.model_specs import CNNSpec, ModelSpec
from service.jobs.networks import build_network
from service.jobs.registry import JobConfig, JobKind, register

Criterion = Literal["opd", "magnitude", "random", "snip", "grasp"]
DEFAULT_SPARSITIES = [0.2, 0.4, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99]


class PruneJobConfig(JobConfig):
    """Settings of a ``prune`` job (every field defaulted)."""

    prior: PriorStructure = Field(default="unitwise", description="Prior structure of the Laplace evidence "
                                  "('unitwise' is SpaM's sparsity-inducing prior).")
    # Unit-wise priors drive many precisions to extremes; their K-FAC factorisations lose definiteness in
    # float32 (seen on the CNN), so pruning jobs compute in float64 unless asked otherwise.
    dtype: Literal["float32", "float64"] = Field(default="float64", description="Floating-point precision.")
    structure: Literal["diag", "kron"] = Field(default="kron", description="Posterior precision whose diagonal "
                                               "OPD uses.")
    criteria: list[Criterion] = Field(default_factory=lambda: ["opd", "magnitude", "snip"], min_length=1,
                                      max_length=5, description="Pruning criteria compared.")
    sparsities: list[float] = Field(default_factory=lambda: list(DEFAULT_SPARSITIES), min_length=1, max_length=50,
                                    description="Target fractions of prunable weights (or of each hidden layer's "
                                    "units when structured), each strictly between 0 and 1.")
    structured: bool = Field(default=False, description="Remove whole units (Linear rows, conv filters).")
    finetune_epochs: int = Field(default=0, ge=0, le=10_000, description="Fine-tuning epochs after pruning.")
    baseline: Literal["map", "marglik"] = Field(default="marglik", description="Training before pruning: 'map' "
                                                "(weight decay) or 'marglik' (online marginal likelihood).")
    epochs: int = Field(default=100, ge=1, le=100_000)
    batch_size: int = Field(default=128, ge=1, le=1_000_000)
    lr: float = Field(default=1e-3, gt=0.0, description="Adam learning rate (training and fine-tuning).")
    prior_precision: float = Field(default=1.0, gt=0.0, description="MAP weight decay / initial prior precision.")
    tune_steps: int = Field(default=100, ge=0, le=100_000, description="MAP: post-hoc evidence tuning steps.")
    lr_hyper: float = Field(default=0.1, gt=0.0)
    hyper_steps: int = Field(default=10, ge=1, le=10_000)
    marglik_frequency: int = Field(default=5, ge=1)
    burnin_epochs: int = Field(default=10, ge=0)
    kfac: Literal["expand", "reduce"] = "expand"
    prune_output_layer: bool = Field(default=False, description="Unstructured only: the output layer's weights "
                                     "join the global threshold.")
    export_sparsity: float = Field(default=0.9, gt=0.0, lt=1.0, description="Sparsity of the exported weights.")

    @field_validator("criteria")
    @classmethod
    def _distinct(cls, criteria: list[str]) -> list[str]:
        return list(dict.fromkeys(criteria))

    @field_validator("sparsities")
    @classmethod
    def _fractions(cls, sparsities: list[float]) -> list[float]:
        bad = [s for s in sparsities if not 0.0 < s < 1.0]
        if bad:
            raise ValueError(f"every sparsity must be strictly between 0 and 1 (a fraction of the weights); got {bad}")
        return sorted(set(sparsities))

    @field_validator("prune_output_layer")
    @classmethod
    def _output_layer(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("structured"):
            raise ValueError("structured pruning never removes output units (they are the predictions); "
                             "set structured=false to prune output-layer weights")
        return value


def _train(context: JobContext, config: PruneJobConfig, network: torch.nn.Module) -> tuple[Any, dict[str, Any]]:
    """Train ``network`` in place; returns its fitted Laplace and training facts."""
    from bdl_core.laplace import Laplace

    data, started = context.data, time.perf_counter()
    if config.baseline == "map":
        losses = train_map(context, network, data, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
                           prior_precision=config.prior_precision, span=(0.0, 0.4))
        context.progress(0.42, f"fitting the {config.structure} Laplace posterior", force=True)
        la = Laplace(network, likelihood=context.task, structure=config.structure, prior=config.prior,
                     kfac=config.kfac, prior_precision=config.prior_precision).fit(data.x_train, data.y_train)
        if config.tune_steps:
            tune_by_marginal_likelihood(context, la, steps=config.tune_steps, lr=config.lr_hyper, span=(0.42, 0.5))
        return la, {"train_loss": losses, "train_seconds": time.perf_counter() - started}
    from bdl_core.marglik import TrainingCancelled, train

    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.x_train, data.y_train),
                                         batch_size=config.batch_size, shuffle=True, generator=generator)

    def on_epoch(epoch: int, epochs: int, info: dict[str, Any]) -> None:
        value = info.get("log_marginal_likelihood")
        lml = float(value) if isinstance(value, (int, float, torch.Tensor)) else None
        context.progress(0.5 * epoch / epochs, f"marginal-likelihood training: epoch {epoch}/{epochs}", epoch=epoch,
                         log_marglik=lml)

    try:
        la, _ = train(network, loader, likelihood=context.task, structure=config.structure, prior=config.prior,
                      kfac=config.kfac, epochs=config.epochs, lr=config.lr, lr_hyp=config.lr_hyper,
                      n_hypersteps=config.hyper_steps, marglik_frequency=config.marglik_frequency,
                      n_epochs_burnin=config.burnin_epochs, prior_prec_init=config.prior_precision,
                      progress_callback=on_epoch, should_stop=context.should_stop)
    except TrainingCancelled:
        context.check()
        raise
    return la, {"train_seconds": time.perf_counter() - started}


def _scores(context: JobContext, config: PruneJobConfig, network: torch.nn.Module, la: Any) -> dict[str, Any]:
    from bdl_core.pruning import compute_scores

    data = context.data
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    with torch.no_grad():
        precision = la.posterior_precision.diagonal() if "opd" in config.criteria else None
    return {criterion: compute_scores(criterion, network, la.layout, posterior_precision=precision, X=data.x_train,
                                      y=data.y_train, likelihood=context.task, generator=generator,
                                      batch_size=max(config.batch_size, 256))
            for criterion in config.criteria}


def _finetune(context: JobContext, config: PruneJobConfig, la: Any):
    """The fine-tuning step (None without fine-tuning): MAP under the training's prior, mask held."""
    if not config.finetune_epochs:
        return None
    from bdl_core.pruning import finetune_masked

    data = context.data
    if config.baseline == "map":
        prior, sigma = config.prior_precision, 1.0
    else:
        prior = la.prior_diagonal().detach()
        sigma = float(la.sigma_noise) if context.task == "regression" else 1.0

    def finetune(network: torch.nn.Module, mask: Any) -> None:
        context.check()
        generator = torch.Generator(device="cpu").manual_seed(config.seed)
        finetune_masked(network, mask, data.x_train, data.y_train, context.task, config.finetune_epochs,
                        prior_diagonal=prior, sigma_noise=sigma, lr=config.lr, batch_size=config.batch_size,
                        generator=generator)

    return finetune


def shrunk_spec(spec: ModelSpec, small: torch.nn.Module) -> ModelSpec:
    """The declared architecture of a structurally pruned network (its reduced widths)."""
    convs = [m.out_channels for m in small if isinstance(m, torch.nn.Conv2d)]
    hidden = [m.out_features for m in small if isinstance(m, torch.nn.Linear)][:-1]
    if isinstance(spec, CNNSpec):
        return spec.model_copy(update={"channels": convs, "hidden": hidden})
    return spec.model_copy(update={"hidden": hidden})


def _export(context: JobContext, config: PruneJobConfig, criterion: str, pruned: Any) -> list[str]:
    info = {"pruning": {"criterion": criterion, "sparsity": config.export_sparsity, "structured": config.structured,
                        "training": config.baseline, "prior": config.prior, "structure": config.structure}}
    names = save_network(context, pruned.network, context.model, prefix=f"pruned-{criterion}", extra=info)
    if pruned.small is not None:
        names += save_network(context, pruned.small, shrunk_spec(context.model, pruned.small),
                              prefix=f"pruned-{criterion}-small", extra=info)
    return names


def run(context: JobContext) -> dict[str, Any]:
    """Train, score, prune at every sparsity, evaluate, plot and export (see the module docstring)."""
    from bdl_core.pruning import network_cost, plot_pruning_curves, prune_copy, pruning_curve

    config: PruneJobConfig = context.config  # type: ignore[assignment]
    data = context.data
    network = build_network(context.model, data.n_features, data.n_outputs, dtype=context.dtype,
                            device=context.device, seed=config.seed)
    la, training = _train(context, config, network)
    network.eval()
    with torch.no_grad():
        lml = float(la.log_marginal_likelihood())
    context.progress(0.5, "computing pruning scores", log_marglik=lml, force=True)
    scores = _scores(context, config, network, la)
    finetune = _finetune(context, config, la)
    metric = "accuracy" if context.task == "classification" else "rmse"
    n_rows, done = len(scores) * len(config.sparsities), [0]
    exported: dict[str, Any] = {}

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        return map_metrics(model, data, context.task)

    def on_pruned(criterion: str, sparsity: float, pruned: Any) -> None:
        done[0] += 1
        if sparsity == config.export_sparsity:
            exported[criterion] = pruned
        context.progress(0.55 + 0.4 * done[0] / n_rows, f"pruned by {criterion} at {sparsity:.0%}")

    example = data.x_train[:1]
    started = time.perf_counter()
    rows = pruning_curve(network, scores, config.sparsities, evaluate, example, structured=config.structured,
                         include_output=config.prune_output_layer, finetune=finetune, on_pruned=on_pruned)
    for row in rows:
        row["training"] = config.baseline
    artifacts: list[str] = []
    for criterion, criterion_scores in scores.items():
        pruned = exported[criterion] if criterion in exported else prune_copy(
            network, criterion_scores, config.export_sparsity, structured=config.structured,
            include_output=config.prune_output_layer, finetune=finetune)
        artifacts += _export(context, config, criterion, pruned)
    curves = {criterion: ([r["sparsity"] for r in rows if r["criterion"] == criterion],
                          [r[metric] for r in rows if r["criterion"] == criterion], None) for criterion in scores}
    title = f"{config.baseline} training, {config.prior} prior, {config.structure}" + \
        (", structured" if config.structured else "")
    curves_png = plot_pruning_curves(curves, metric, title)
    artifacts.insert(0, context.artifacts.save_bytes("curves.png", curves_png, "image/png").name)
    return {
        "training": config.baseline,
        "prior": config.prior,
        "structure": config.structure,
        "structured": config.structured,
        "metric": metric,
        "log_marginal_likelihood": lml,
        "dense": {**evaluate(network), **network_cost(network, example).as_dict()},
        "table": rows,
        "criteria": list(scores),
        "sparsities": config.sparsities,
        "export_sparsity": config.export_sparsity,
        "n_train": int(data.x_train.shape[0]),
        "n_test": int(data.x_test.shape[0]),
        "train_loss": training.get("train_loss"),
        "timings": {"train_seconds": training["train_seconds"], "pruning_seconds": time.perf_counter() - started},
        "device": context.info.get("device"),
        "artifacts": artifacts,
    }


KIND = register(JobKind(name="prune", config=PruneJobConfig, run=run,
                        summary="SpaM pruning: accuracy-versus-sparsity curves per criterion, pruned weights"))
