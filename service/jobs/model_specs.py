"""Declared network architectures of jobs: models are described as data, never uploaded as code.

``{"kind": "mlp", "hidden": [50, 50], "activation": "relu"}`` or ``{"kind": "cnn", ...}`` (a small
LeNet-style network for image-shaped inputs such as the 8x8 digits, so that K-FAC meets weight
sharing) or ``{"kind": "bn_mlp", ...}`` (the batch-normalised MLP with orthogonal weights of Meterez et
al. 2024, ``bdl_core.networks.bn_mlp``). :mod:`service.jobs.networks` builds the ``torch.nn`` module.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.jobs.validation import validate_section
from service.errors import InvalidInputError

Activation = Literal["relu", "tanh", "gelu", "silu"]


class MLPSpec(BaseModel):
    """Fully connected network: inputs -> hidden layers with ``activation`` -> outputs."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["mlp"] = "mlp"
    hidden: list[int] = Field(default_factory=lambda: [50, 50], max_length=8,
                              description="Widths of the hidden layers (empty: a linear model).")
    activation: Activation = "relu"

    @field_validator("hidden")
    @classmethod
    def _widths(cls, widths: list[int]) -> list[int]:
        if any(not 1 <= width <= 8192 for width in widths):
            raise ValueError("every hidden width must be between 1 and 8192")
        return widths


class CNNSpec(BaseModel):
    """LeNet-style network: [conv(k x k, same padding) -> activation -> 2x2 max-pool] per entry of
    ``channels``, then fully connected ``hidden`` layers. Flat inputs are reshaped to
    ``image_shape`` (C, H, W); by default a square single-channel image (64 features -> 1x8x8)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["cnn"] = "cnn"
    channels: list[int] = Field(default_factory=lambda: [16, 32], min_length=1, max_length=4)
    kernel_size: int = Field(default=3, ge=1, le=11)
    hidden: list[int] = Field(default_factory=lambda: [64], max_length=4)
    activation: Activation = "relu"
    image_shape: list[int] | None = Field(default=None, min_length=3, max_length=3,
                                          description="(channels, height, width) of the inputs.")

    @field_validator("channels", "hidden")
    @classmethod
    def _sizes(cls, sizes: list[int]) -> list[int]:
        if any(not 1 <= size <= 4096 for size in sizes):
            raise ValueError("every size must be between 1 and 4096")
        return sizes


class BNMLPSpec(BaseModel):
    """Batch-normalised MLP with bounded gradients at any depth (Meterez et al., ICLR 2024): ``depth`` hidden
    layers ``BN(act_l(W_l h))`` of ``width`` units, W_l orthogonally initialised, BN without learned scale or
    shift, then a linear head. ``activation`` ``"linear"`` is the paper's provable construction; a non-linear
    one is shaped towards the identity with depth (gain ``l ** -shaping_exponent`` in hidden layer l; 0: no
    shaping). Trained with batch statistics; the Laplace approximation and predictions use the running ones."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["bn_mlp"] = "bn_mlp"
    width: int = Field(default=64, ge=1, le=4096)
    depth: int = Field(default=8, ge=1, le=512, description="Number of hidden (linear + batch-norm) layers.")
    activation: Literal["linear", "tanh", "sin", "relu"] = "linear"
    shaping_exponent: float = Field(default=1.0, ge=0.0, le=4.0)


ModelSpec = MLPSpec | CNNSpec | BNMLPSpec

MODEL_SPECS: dict[str, type[BaseModel]] = {"mlp": MLPSpec, "cnn": CNNSpec, "bn_mlp": BNMLPSpec}


def parse_model_spec(value: dict[str, Any] | None, section: str = "model") -> ModelSpec:
    """The architecture described by ``value`` (``None``: the default MLP).

    Raises:
        InvalidInputError: unknown ``kind`` or an invalid field, naming ``section.<field>``.
    """
    if value is None:
        return MLPSpec()
    if not isinstance(value, dict):
        raise InvalidInputError(f"{section}: must be an object such as {{\"kind\": \"mlp\"}}", field=section)
    kind = value.get("kind", "mlp")
    spec_class = MODEL_SPECS.get(kind) if isinstance(kind, str) else None
    if spec_class is None:
        raise InvalidInputError(
            f"{section}.kind: unknown model kind {kind!r}; known: {', '.join(MODEL_SPECS)}", field=f"{section}.kind"
        )
    return validate_section(spec_class, value, section)
