"""Job kind ``equivariance``: layer-wise translation equivariance learned by the Laplace marginal
likelihood (van der Ouderaa, Immer, van der Wilk, NeurIPS 2023), with ``bdl_core.equivariance``.

The dataset's rows are flattened images; ``config.image_shape`` ([H, W] or [C, H, W]; default
[1, 8, 8] for ``sklearn:digits``) folds them. The network is ``[TwoPathConv2d -> activation] x K ->
dense read-out``, each layer the SUM of a convolution (weight-shared, translation-equivariant) and a
dense map of the flattened image (free), then a read-out (``config.readout``: global average pooling,
which is translation-invariant, or a dense map of all values). Every parameter tensor has its own prior precision, learned
by online marginal-likelihood training with K-FAC (``config.kfac``). A conv-only and a dense-only
network (one path per layer) are trained the same way for comparison (``config.baselines``).

``equivariant_share`` of a layer (in [0, 1]) is the convolutional path's share of the layer's PRIOR
FUNCTION VARIANCE under the learned precisions, averaged over the training images and output units:
V_conv / (V_conv + V_dense), with V_conv = mean |patch|^2 / delta_conv_weight + 1 / delta_conv_bias
and V_dense = mean |x|^2 / delta_dense_weight + 1 / delta_dense_bias (x: the layer's input). A
large learned precision switches a path off. ``output_share`` is the conv path's share of the
trained layer's output energy (see :mod:`bdl_core.equivariance.shares`).

Result: ``layers: [{index, equivariant_share, output_share, conv_precision, dense_precision, ...}]``,
the evidence history, held-out accuracy / NLL / ECE (MAP and Laplace predictive) of the learned
network and of the baselines, and their final log marginal likelihoods. Artifacts:
``shares.png``, ``evidence.png``, ``weights.safetensors`` and ``weights.json`` (learned network).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.jobs.context import JobContext
from service.jobs.evaluation import laplace_metrics, map_metrics
from service.jobs.model_artifacts import save_network
from service.jobs.registry import JobConfig, JobKind, register
from service.errors import InvalidInputError

if TYPE_CHECKING:
    from service.jobs.target_facts import TargetFacts

#: Image shape (C, H, W) of the built-in image datasets, used when the config names none.
DEFAULT_IMAGE_SHAPES: dict[str, list[int]] = {"sklearn:digits": [1, 8, 8]}

#: Largest dense path allowed (inputs x outputs of one layer's free map), to keep jobs bounded.
MAX_DENSE_WEIGHTS = 4_000_000

NETWORKS = ("learned", "conv_only", "dense_only")
PATHS_OF = {"learned": ("conv", "dense"), "conv_only": ("conv",), "dense_only": ("dense",)}


class EquivarianceJobConfig(JobConfig):
    """Settings of an ``equivariance`` job (every field defaulted)."""

    image_shape: list[int] | None = Field(default=None, description="[H, W] or [C, H, W] of a flat row; default "
                                          "[1, 8, 8] for sklearn:digits, required for other datasets.")
    channels: list[int] = Field(default_factory=lambda: [8, 8], min_length=1, max_length=6,
                                description="Output channels of each two-path layer (K layers).")
    kernel_size: int = Field(default=3, ge=1, le=11, description="Odd kernel size of the convolutional paths.")
    activation: Literal["relu", "tanh", "gelu", "silu"] = "relu"
    readout: Literal["pool", "flatten"] = Field(default="pool", description="'pool': global average over positions "
                                                "then linear (translation-invariant); 'flatten': linear on all values.")
    epochs: int = Field(default=40, ge=1, le=10_000)
    batch_size: int = Field(default=128, ge=1, le=1_000_000)
    lr: float = Field(default=3e-3, gt=0.0, description="Adam learning rate of the weights.")
    lr_hyper: float = Field(default=0.1, gt=0.0, description="Adam learning rate of the log prior precisions.")
    hyper_steps: int = Field(default=50, ge=1, le=10_000, description="Hyperparameter steps per evidence update.")
    marglik_frequency: int = Field(default=5, ge=1, description="Epochs between evidence updates.")
    burnin_epochs: int = Field(default=5, ge=0, description="No evidence update before this epoch.")
    kfac: Literal["expand", "reduce"] = Field(default="reduce", description="K-FAC flavour of the weight-shared "
                                              "(conv) layers (see the README for the measurement).")
    baselines: bool = Field(default=True, description="Also train the conv-only and dense-only networks.")
    laplace_predictive: bool = Field(default=True, description="Also report the Laplace (probit) predictive.")
    plots: bool = Field(default=True, description="Write shares.png and evidence.png.")
    ece_bins: int = Field(default=15, ge=2, le=100)

    @field_validator("image_shape")
    @classmethod
    def _image_shape(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if len(value) not in (2, 3):
            raise ValueError("must be [height, width] or [channels, height, width]")
        if any(size < 1 or size > 4096 for size in value):
            raise ValueError("every size must be between 1 and 4096")
        return [1, *value] if len(value) == 2 else list(value)

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd (same-padded convolutions)")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[int]) -> list[int]:
        if any(not 1 <= c <= 256 for c in value):
            raise ValueError("every channel count must be between 1 and 256")
        return value


class TwoPathArchitecture(BaseModel):
    """How to rebuild the saved network (``bdl_core.equivariance.TwoPathNetwork``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["two_path"] = "two_path"
    image_shape: list[int]
    channels: list[int]
    kernel_size: int
    activation: str
    readout: str
    paths: list[str]


def image_shape_for(config: EquivarianceJobConfig, dataset_id: str) -> list[int] | None:
    """The configured image shape, else the built-in default of the dataset (None: none known)."""
    return config.image_shape if config.image_shape is not None else DEFAULT_IMAGE_SHAPES.get(dataset_id)


def check_request(config: JobConfig, facts: TargetFacts) -> None:
    """Submit-time checks (422s naming the field): the image shape fits the dataset's pixel columns."""
    if not isinstance(config, EquivarianceJobConfig):  # pragma: no cover - the registry pairs them
        raise TypeError("check_request needs an EquivarianceJobConfig")
    dataset, target = facts.dataset, facts.target
    if facts.model is not None:
        raise InvalidInputError("model: an equivariance job builds its networks from config.channels, "
                                "config.kernel_size and config.activation; omit model", field="model")
    shape = image_shape_for(config, dataset.id)
    if shape is None:
        raise InvalidInputError(f"config.image_shape: required for dataset '{dataset.id}' (no default image "
                                "shape is known for it)", field="config.image_shape")
    pixels = [c for c in dataset.columns if c != target]
    if any(c in dataset.categorical for c in pixels):
        raise InvalidInputError("dataset: an equivariance job needs numeric pixel columns, got categorical ones",
                                field="dataset")
    if math.prod(shape) != len(pixels):
        raise InvalidInputError(f"config.image_shape: {shape} holds {math.prod(shape)} values but dataset "
                                f"'{dataset.id}' has {len(pixels)} feature columns", field="config.image_shape")
    c, h, w = shape
    for c_in, c_out in zip([c, *config.channels], config.channels):
        if c_in * c_out * (h * w) ** 2 > MAX_DENSE_WEIGHTS:
            raise InvalidInputError(f"config.channels: a dense path of {c_in}x{h}x{w} -> {c_out}x{h}x{w} has more "
                                    f"than {MAX_DENSE_WEIGHTS} weights; use fewer channels or a smaller image",
                                    field="config.channels")


def _train_network(context: JobContext, config: EquivarianceJobConfig, name: str, span: tuple[float, float],
                   shape: list[int]) -> tuple[Any, Any, float]:
    """Build and train one network by evidence; returns (la, history, seconds)."""
    from bdl_core.equivariance import EvidenceTraining, TwoPathNetwork, train_by_evidence
    from bdl_core.marglik import TrainingCancelled

    data = context.data
    torch.manual_seed(config.seed)
    network = TwoPathNetwork(shape, data.n_outputs, config.channels, config.kernel_size, PATHS_OF[name],
                             config.activation, config.readout).to(device=context.device, dtype=context.dtype)
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.x_train, data.y_train),
                                         batch_size=config.batch_size, shuffle=True, generator=generator)
    settings = EvidenceTraining(epochs=config.epochs, lr=config.lr, lr_hyper=config.lr_hyper,
                                hyper_steps=config.hyper_steps, marglik_frequency=config.marglik_frequency,
                                burnin_epochs=config.burnin_epochs, kfac=config.kfac)

    def on_epoch(epoch: int, epochs: int, info: dict[str, Any]) -> None:
        lml = info.get("log_marginal_likelihood")
        context.progress(span[0] + (span[1] - span[0]) * epoch / epochs,
                         f"{name}: epoch {epoch}/{epochs}, loss {info['loss']:.4g}", epoch=epoch,
                         log_marglik=lml if lml is not None and math.isfinite(lml) else None)

    started = time.perf_counter()
    try:
        la, history = train_by_evidence(network, loader, settings, likelihood=context.task,
                                        progress_callback=on_epoch, should_stop=context.should_stop)
    except TrainingCancelled:
        context.check()  # raises JobCancelled / JobLost / JobInterrupted
        raise
    return la, history, time.perf_counter() - started


def _report(context: JobContext, config: EquivarianceJobConfig, la: Any, history: Any, seconds: float) -> dict:
    data = context.data
    with torch.no_grad():
        lml = float(la.log_marginal_likelihood())
    report = {"log_marginal_likelihood": lml, "n_params": int(la.n_params), "train_seconds": seconds,
              "map": map_metrics(la.model, data, context.task, ece_bins=config.ece_bins),
              "history": history.to_dict()}
    if config.laplace_predictive:
        report["laplace"] = laplace_metrics(la, data, context.task, ece_bins=config.ece_bins)
    return report


def run(context: JobContext) -> dict[str, Any]:
    """Train the learned network (and the baselines), report shares, metrics and plots."""
    from bdl_core.equivariance import learned_shares
    from bdl_core.equivariance.plots import plot_evidence, plot_shares

    config: EquivarianceJobConfig = context.config  # type: ignore[assignment]
    shape = image_shape_for(config, context.info.get("dataset", ""))
    if shape is None or math.prod(shape) != context.data.n_features:
        raise ValueError(f"config.image_shape {shape} does not fit the {context.data.n_features} input features")
    names = list(NETWORKS if config.baselines else NETWORKS[:1])
    reports, layers, fitted = {}, [], {}
    for i, name in enumerate(names):
        la, history, seconds = _train_network(context, config, name, (i / len(names), (i + 0.9) / len(names)), shape)
        context.progress((i + 0.9) / len(names), f"{name}: evaluating on the test split", force=True)
        reports[name] = _report(context, config, la, history, seconds)
        fitted[name] = la
        if name == "learned":
            layers = [share.to_dict() for share in learned_shares(la, context.data.x_train)]
    artifacts = []
    if config.plots:
        shares_png = plot_shares({"learned": [[layer["equivariant_share"] for layer in layers]]},
                                 title="equivariant share per layer")
        evidence_png = plot_evidence({name: (r["history"]["marglik_epochs"], r["history"]["log_marginal_likelihood"])
                                      for name, r in reports.items()}, title="evidence during training")
        artifacts += [context.artifacts.save_bytes("shares.png", shares_png, "image/png").name,
                      context.artifacts.save_bytes("evidence.png", evidence_png, "image/png").name]
    architecture = TwoPathArchitecture(image_shape=shape, channels=config.channels, kernel_size=config.kernel_size,
                                       activation=config.activation, readout=config.readout,
                                       paths=list(PATHS_OF["learned"]))
    artifacts += save_network(context, fitted["learned"].model, architecture, extra={
        "prior_precision": fitted["learned"].prior_precision.tolist(),
        "prior_groups": [group.name for group in fitted["learned"].layout.groups]})
    return {
        "layers": layers,
        "equivariant_share_definition": "conv path's share of the layer's prior function variance under the "
                                        "learned precisions (see the job kind's docs)",
        "log_marginal_likelihood": reports["learned"]["log_marginal_likelihood"],
        "evidence_history": {"epochs": reports["learned"]["history"]["marglik_epochs"],
                             "log_marginal_likelihood": reports["learned"]["history"]["log_marginal_likelihood"]},
        "networks": reports,
        "image_shape": shape,
        "kfac": config.kfac,
        "n_train": int(context.data.x_train.shape[0]),
        "n_test": int(context.data.x_test.shape[0]),
        "device": context.info.get("device"),
        "artifacts": artifacts,
    }


KIND = register(JobKind(name="equivariance", config=EquivarianceJobConfig, run=run, check=check_request,
                        summary="layer-wise translation equivariance learned by the Laplace marginal likelihood, "
                                "against conv-only and dense-only networks"))
