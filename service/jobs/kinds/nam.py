"""Job kind ``nam``: a Laplace-approximated neural additive model (LA-NAM, ``bdl_core.nam``).

One small MLP per numerical feature (the job's ``model`` sets all of them; default one hidden
layer of 64 GELU units) and an embedding per categorical feature, trained by online marginal
likelihood with a prior precision per layer of every feature's subnetwork; regression or binary
classification. With ``interactions = k`` the k best-ranked feature pairs are added as
two-input subnetworks and training continues from the first stage.

Result: held-out metrics (regression: RMSE and NLL; classification: AUROC, NLL, accuracy, ECE),
feature importances (learned prior precision, share of the fitted variance), every shape
function on a grid with its 95% credible band (original feature units, target units or logits),
and the interaction ranking. Artifacts: ``shape-<k>-<name>.png`` per term, ``importances.png``,
``nam.safetensors`` (weights and log prior precisions) and ``nam.json`` (how to rebuild it).

The job framework hands over standardised inputs with categorical columns one-hot encoded
(``column=level``); the categorical columns are recovered from those blocks so that each gets
one embedding rather than one subnetwork per level.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import Field

from service.jobs import metrics
from service.jobs.context import JobContext
from service.jobs.data import DataSplits
from service.errors import InvalidInputError
from service.jobs.registry import JobConfig, JobKind, register
from service.jobs.target_facts import TargetFacts

DEFAULT_HIDDEN = [64]
DEFAULT_ACTIVATION = "gelu"


class NamJobConfig(JobConfig):
    """Settings of a ``nam`` job (every field defaulted)."""

    interactions: int = Field(default=0, ge=0, le=50, description="Top-ranked feature pairs added as two-input "
                              "subnetworks in a second stage (0: additive model only).")
    ranking: Literal["mutinf", "marglik"] = Field(default="marglik", description="Pair ranking: 'marglik' "
                                                  "(evidence gain of an interaction term) or 'mutinf' (LA-NAM's "
                                                  "posterior mutual information of two subnetworks).")
    epochs: int = Field(default=200, ge=1, le=100_000, description="Training epochs of the first stage.")
    interaction_epochs: int | None = Field(default=None, ge=1, le=100_000, description="Second-stage epochs "
                                           "(default: epochs).")
    batch_size: int = Field(default=128, ge=1, le=1_000_000)
    lr: float = Field(default=0.03, gt=0.0, description="Adam learning rate of the weights (cosine-decayed).")
    lr_hyper: float = Field(default=0.1, gt=0.0, description="Adam learning rate of the log hyperparameters.")
    hyper_steps: int = Field(default=20, ge=1, le=10_000, description="Hyperparameter steps per evidence update.")
    marglik_frequency: int = Field(default=2, ge=1, description="Epochs between evidence updates.")
    burnin_epochs: int = Field(default=20, ge=0, description="Epochs before the first evidence update.")
    grid_size: int = Field(default=100, ge=5, le=2000, description="Grid points per numerical shape function.")
    pair_grid_size: int = Field(default=25, ge=5, le=200, description="Grid points per axis of a pair term.")
    ranked_pairs: int = Field(default=20, ge=1, le=10_000, description="Pairs listed in the result's ranking.")
    plots: bool = Field(default=True, description="Write the PNG artifacts.")


@dataclass
class NamInputs:
    """Model-ready inputs: numerical columns standardised, categorical ones as codes."""

    features: list[Any]
    x_train: torch.Tensor
    x_test: torch.Tensor
    scale: list[tuple[float, float] | None]  # (mean, std) of a numerical feature, None for categorical
    levels: list[list[str] | None]


def nam_inputs(data: DataSplits) -> NamInputs:
    """Group the one-hot blocks of ``data`` back into categorical features (see module docstring)."""
    from bdl_core.nam import Feature

    names, groups, j = data.feature_names, [], 0
    while j < len(names):
        column, sep, _ = names[j].rpartition("=")
        k = j
        while sep and k + 1 < len(names) and names[k + 1].rpartition("=")[0] == column:
            k += 1
        groups.append((column if sep else names[j], list(range(j, k + 1)), bool(sep)))
        j = k + 1
    features, train_cols, test_cols, scale, levels = [], [], [], [], []
    for name, columns, is_block in groups:
        raw = [_raw(data, split, columns) for split in ("train", "test")]
        onehot = is_block and all(torch.all(((r - r.round()).abs() < 1e-3) & ((r.round() == 0) | (r.round() == 1)))
                                  and torch.all(r.round().sum(1) == 1) for r in raw)
        if onehot:
            features.append(Feature(name, len(columns)))
            train_cols.append(raw[0].argmax(1).to(data.x_train.dtype))
            test_cols.append(raw[1].argmax(1).to(data.x_test.dtype))
            scale.append(None)
            levels.append([names[c].rpartition("=")[2] for c in columns])
            continue
        for c in columns:
            features.append(Feature(names[c]))
            train_cols.append(data.x_train[:, c])
            test_cols.append(data.x_test[:, c])
            scale.append((data.x_mean[c], data.x_std[c]))
            levels.append(None)
    return NamInputs(features, torch.stack(train_cols, 1), torch.stack(test_cols, 1), scale, levels)


def _raw(data: DataSplits, split: str, columns: list[int]) -> torch.Tensor:
    x = data.x_train if split == "train" else data.x_test
    mean = torch.tensor([data.x_mean[c] for c in columns], dtype=x.dtype, device=x.device)
    std = torch.tensor([data.x_std[c] for c in columns], dtype=x.dtype, device=x.device)
    return x[:, columns] * std + mean


def _metrics(context: JobContext, fitted: Any, inputs: NamInputs) -> dict[str, dict[str, float]]:
    data = context.data
    with torch.no_grad():
        if context.task == "regression":
            mean, var = fitted.predict(inputs.x_test)
            y = data.y_test[:, 0] * data.y_std + data.y_mean
            mean = mean * data.y_std + data.y_mean
            out = {"rmse": metrics.rmse(mean, y), "nll": metrics.gaussian_nll(mean, var * data.y_std**2, y)}
            map_var = torch.full_like(mean, fitted.sigma**2 * data.y_std**2)
            return {"laplace": out, "map": {"rmse": out["rmse"], "nll": metrics.gaussian_nll(mean, map_var, y)}}
        report = {}
        p_laplace, _ = fitted.predict(inputs.x_test)
        p_map = torch.sigmoid(fitted.model(inputs.x_test))
        for name, p in (("laplace", p_laplace), ("map", p_map)):
            probs = torch.stack([1 - p, p], 1).clamp(1e-12, 1.0)
            report[name] = {"auroc": metrics.auroc(p, data.y_test), "nll": metrics.categorical_nll(probs, data.y_test),
                            "accuracy": metrics.accuracy(probs, data.y_test),
                            "ece": metrics.expected_calibration_error(probs, data.y_test)}
        return report


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:60] or "term"


def _display_grid(inputs: NamInputs, feature: int, grid: torch.Tensor) -> list[float]:
    scale = inputs.scale[feature]
    values = grid if scale is None else grid * scale[1] + scale[0]
    return [float(v) for v in values]


def _shape_records(context: JobContext, fitted: Any, inputs: NamInputs, config: NamJobConfig) -> list[dict]:
    from bdl_core.nam import shape_functions

    unit = context.data.y_std if context.task == "regression" else 1.0
    records = []
    for shape in shape_functions(fitted, inputs.x_train, config.grid_size, config.pair_grid_size):
        mean, std = shape.mean * unit, shape.std * unit
        record = {"term": shape.term, "label": shape.label, "features": list(shape.features),
                  "kind": "pair" if len(shape.features) == 2 else
                  ("categorical" if inputs.levels[shape.features[0]] else "numerical"),
                  "grids": [_display_grid(inputs, d, g) for d, g in zip(shape.features, shape.grids)],
                  "levels": [inputs.levels[d] for d in shape.features],
                  "mean": mean.tolist(), "std": std.tolist(),
                  "lower": (mean - 1.96 * std).tolist(), "upper": (mean + 1.96 * std).tolist()}
        records.append(record)
    return records


def _plots(context: JobContext, inputs: NamInputs, shapes: list[dict], importances: list[dict]) -> list[str]:
    from bdl_core.nam.plots import plot_importances, plot_pair, plot_shape

    ylabel = "contribution to the target" if context.task == "regression" else "contribution to the logit"
    names = []
    for record, importance in zip(shapes, importances):
        name = f"shape-{record['term']:02d}-{_safe(record['label'])}.png"
        if record["kind"] == "pair":
            i, j = record["features"]
            content = plot_pair(inputs.features[i].name, inputs.features[j].name, record["grids"][0],
                                record["grids"][1], record["mean"], record["std"], ylabel=ylabel)
        else:
            d = record["features"][0]
            data = _display_grid(inputs, d, inputs.x_train[:, d])
            content = plot_shape(record["label"], record["grids"][0], record["mean"], record["lower"],
                                 record["upper"], data=data, levels=record["levels"][0], ylabel=ylabel,
                                 note=f"prior precision {importance['prior_precision']:.3g}")
        names.append(context.artifacts.save_bytes(name, content, "image/png").name)
    importances_png = plot_importances([r["label"] for r in importances], [r["prior_precision"] for r in importances],
                                       [r["share"] for r in importances])
    names.append(context.artifacts.save_bytes("importances.png", importances_png, "image/png").name)
    return names


def _save_model(context: JobContext, fitted: Any, inputs: NamInputs, settings: Any) -> list[str]:
    state = {f"model.{k}": v for k, v in fitted.model.state_dict().items()}
    state.update({"prior.log_mlp": fitted.prior.log_mlp.detach(), "prior.log_table": fitted.prior.log_table.detach(),
                  "log_sigma": fitted.log_sigma.detach().reshape(1)})
    weights = context.artifacts.save_tensors("nam.safetensors", state, metadata={"job_id": context.job_id})
    data = context.data
    info = context.artifacts.save_json("nam.json", {
        "job_id": context.job_id, "task": context.task, "likelihood": fitted.likelihood,
        "features": [{"name": f.name, "n_categories": f.n_categories, "levels": lv}
                     for f, lv in zip(inputs.features, inputs.levels)],
        "terms": [list(t.features) for t in fitted.model.terms], "hidden": list(settings.hidden),
        "activation": settings.activation, "x_scale": inputs.scale, "y_mean": data.y_mean, "y_std": data.y_std,
        "classes": data.classes, "dtype": str(context.dtype).removeprefix("torch."),
        "intercept_precision": fitted.prior.intercept_precision,
    })
    return [weights.name, info.name]


def _architecture(context: JobContext) -> tuple[list[int], str]:
    if not context.model_given:
        return list(DEFAULT_HIDDEN), DEFAULT_ACTIVATION
    if context.model.kind != "mlp" or not context.model.hidden:
        raise ValueError("a nam job's model must be an mlp with at least one hidden layer; it sets every feature "
                         "subnetwork, e.g. {\"kind\": \"mlp\", \"hidden\": [64], \"activation\": \"gelu\"}")
    return list(context.model.hidden), context.model.activation


def run(context: JobContext) -> dict[str, Any]:
    """Fit the LA-NAM, evaluate it on the held-out split, describe and plot it (see the module docstring)."""
    from bdl_core.nam import LaNamSettings, OnlineMarglikSettings, TrainingCancelled, fit_lanam, term_importances

    config: NamJobConfig = context.config  # type: ignore[assignment]
    data = context.data
    if context.task == "classification" and data.n_outputs != 2:
        raise ValueError(f"nam jobs handle regression and binary classification; the target has "
                         f"{data.n_outputs} classes")
    hidden, activation = _architecture(context)
    inputs = nam_inputs(data)
    y = data.y_train[:, 0] if context.task == "regression" else data.y_train.to(context.dtype)
    training = OnlineMarglikSettings(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                                     lr_hyper=config.lr_hyper, hyper_steps=config.hyper_steps,
                                     marglik_frequency=config.marglik_frequency, burnin_epochs=config.burnin_epochs)
    settings = LaNamSettings(hidden=tuple(hidden), activation=activation, training=training,
                             interactions=config.interactions, ranking=config.ranking,
                             interaction_epochs=config.interaction_epochs, seed=config.seed)
    share = 0.9 if config.interactions == 0 else 0.45

    def progress(stage: str, epoch: int, epochs: int, info: dict[str, Any]) -> None:
        start = 0.0 if stage == "stage1" else 0.45
        lml = info.get("log_marglik")
        context.progress(start + share * epoch / epochs, f"{stage}: epoch {epoch}/{epochs}", epoch=epoch,
                         log_marglik=None if lml is None or not math.isfinite(lml) else lml * len(y))

    try:
        result = fit_lanam(inputs.x_train, y, inputs.features, context.task, settings, progress=progress,
                           should_stop=context.should_stop)
    except TrainingCancelled:
        context.check()
        raise
    fitted = result.fitted
    context.progress(0.92, "describing the model", force=True)
    n_train = inputs.x_train.shape[0]
    unit = data.y_std**2 if context.task == "regression" else 1.0
    importances = [{"term": imp.term, "label": imp.label, "features": list(fitted.model.terms[imp.term].features),
                    "prior_precision": imp.prior_precision, "layer_precisions": imp.layer_precisions,
                    "variance": imp.variance * unit, "share": imp.share}
                   for imp in term_importances(fitted, inputs.x_train)]
    shapes = _shape_records(context, fitted, inputs, config)
    ranking = [{"features": [p.i, p.j], "labels": [inputs.features[p.i].name, inputs.features[p.j].name],
                "score": p.score} for p in result.ranking[: config.ranked_pairs]]
    artifacts = _plots(context, inputs, shapes, importances) if config.plots else []
    artifacts += _save_model(context, fitted, inputs, settings)
    return {
        "metrics": _metrics(context, fitted, inputs),
        "log_marginal_likelihood": fitted.log_marglik * n_train,
        "first_stage_log_marginal_likelihood": result.first_stage.log_marglik * n_train,
        "sigma_noise": fitted.sigma * data.y_std if context.task == "regression" else None,
        "features": [{"name": f.name, "categorical": f.categorical, "levels": lv}
                     for f, lv in zip(inputs.features, inputs.levels)],
        "importances": importances,
        "shapes": shapes,
        "interaction_ranking": {"method": config.ranking, "pairs": ranking},
        "added_interactions": [list(p) for p in result.added_pairs],
        "architecture": {"hidden": hidden, "activation": activation},
        "history": result.history,
        "n_train": n_train,
        "n_test": int(inputs.x_test.shape[0]),
        "device": context.info.get("device"),
        "artifacts": artifacts,
    }


def check_target(config: JobConfig, facts: TargetFacts) -> None:
    """A nam job handles regression and binary classification: a multiclass target is a 422 at submission."""
    if facts.task == "classification" and facts.n_classes() != 2:
        raise InvalidInputError(f"target: nam jobs handle regression and binary classification; target "
                                f"'{facts.target}' has {facts.n_classes()} classes", field="target")


KIND = register(JobKind(name="nam", config=NamJobConfig, run=run,
                        summary="Laplace-approximated neural additive model: shape functions with credible "
                                "bands, feature selection and interaction ranking by marginal likelihood",
                        check=check_target))
