"""``surrogate_options`` of the LLA surrogate, validated (pydantic) and mapped to ``LLAConfig``.

A study created with ``surrogate: "lla"`` may set any of these fields; unknown fields and
out-of-range values are rejected with a 422 naming the field
(e.g. ``body.surrogate_options.width``). Defaults follow Kristiadi et al. (2023): two
hidden layers of 50 units (GELU: measured better than tanh here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from service.optimizers.trust_region_options import TrustRegionOptions
from service.optimizers.warping_options import OutputWarpingOptions

if TYPE_CHECKING:  # bdl_core.bo loads BoTorch: imported only when a config is built
    from bdl_core.bo import LLAConfig


class LLAOptions(OutputWarpingOptions, TrustRegionOptions):
    """Options of the LLA surrogate (all optional).

    Attributes:
        width: hidden units per layer (2..512).
        depth: hidden layers (1..6).
        activation: ``"tanh"``, ``"gelu"``, ``"silu"`` or ``"relu"``.
        epochs: full-batch Adam steps of a fit from scratch (10..20000).
        warm_epochs: Adam steps of a fit warm-started from the previous one (0..20000,
            at most ``epochs``).
        learning_rate: peak Adam learning rate of a fit from scratch.
        prior: ``"layerwise"`` (one prior precision per weight/bias tensor, tuned by the
            marginal likelihood) or ``"scalar"`` (one for all).
        noise_floor: lower bound of the inferred noise sd, in units of the standard
            deviation of the observed values (keeps the surrogate from interpolating).
        parametric_structure: posterior once the data outnumber the network's parameters:
            ``"kron"`` (K-FAC) or ``"full"`` (dense; ``"kron"`` is used for networks above
            ``LLAConfig.full_max_params`` parameters).
        input_embedding: numeric inputs as ``"circular"`` (cos/sin of pi u: every point of
            the box has the same input norm, which keeps the predictive variance from
            peaking at the corners) or ``"linear"`` (2 u - 1).
        variance_calibration: ``"loo"`` (the predictive covariance scaled by its leave-one-out
            maximum-likelihood factor, one per outcome, ``bdl_core.bo.variance_calibration``) or ``"off"``.
        variance_shape: ``"uniform"`` (the network's tangent kernel rescaled to one prior variance at
            every input, so that the uncertainty grows with the distance from the data and not with
            the size of the network's Jacobian, which peaks at the box's edges:
            ``bdl_core.bo.uniform_variance``) or ``"tangent"`` (as the Laplace posterior gives it).
        stationary_variance: variance of a Matern-5/2 term added to the network's tangent kernel
            (``bdl_core.bo.stationary_term``), in units of that kernel's mean prior variance at the
            data, so that the uncertainty also grows with the distance from the data as a GP's does;
            0 (default) adds none. Single-output networks only (not with ``outcome_networks: "joint"``).
        stationary_lengthscale: that term's length scale in units of ``sqrt(d)``, ``d`` the network's
            input size.
        outcome_networks: a study with several modelled outcomes (objectives, constrained metrics):
            ``"separate"`` (one network and one LLA per outcome, a BoTorch ``ModelList``, as the GP
            does) or ``"joint"`` (one network with an output per outcome and a joint Laplace posterior
            across them, ``bdl_core.bo.multi_output_lla``). Not part of the ``bdl_core`` configuration:
            ``LLASurrogate.fit_joint`` reads it.
        trust_region_side, trust_region_share, trust_region_max_columns: the acquisition's trust region
            (``trust_region_options``), read by the policy, not part of the ``bdl_core`` configuration. The
            LLA's default side is 0.3 at every suggest of a one-objective study with at most 8
            non-categorical columns: without it the LLA keeps proposing the box's corners, where its
            tangent kernel's variance is largest, and its median on three scikit-learn tasks was not
            better than random search's (``docs/benchmarks.md``, "A trust region for the LLA").
    """

    model_config = ConfigDict(extra="forbid")

    width: Annotated[int, Field(ge=2, le=512)] = 50
    depth: Annotated[int, Field(ge=1, le=6)] = 2
    activation: Literal["tanh", "gelu", "silu", "relu"] = "gelu"
    epochs: Annotated[int, Field(ge=10, le=20_000)] = 1000
    warm_epochs: Annotated[int, Field(ge=0, le=20_000)] = 200
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 1e-2
    prior: Literal["layerwise", "scalar"] = "layerwise"
    noise_floor: Annotated[float, Field(ge=1e-6, le=1.0)] = 1e-3
    parametric_structure: Literal["kron", "full"] = "kron"
    input_embedding: Literal["circular", "linear"] = "circular"
    variance_calibration: Literal["loo", "off"] = "loo"
    variance_shape: Literal["uniform", "tangent"] = "tangent"
    stationary_variance: Annotated[float, Field(ge=0.0, le=10.0)] = 0.0
    stationary_lengthscale: Annotated[float, Field(gt=0.0, le=10.0)] = 0.5
    outcome_networks: Literal["separate", "joint"] = "separate"
    trust_region_side: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3

    @field_validator("warm_epochs")
    @classmethod
    def _warm_not_longer(cls, value: int, info: ValidationInfo) -> int:
        epochs = info.data.get("epochs")
        if epochs is not None and value > epochs:
            raise ValueError(f"warm_epochs ({value}) must not exceed epochs ({epochs})")
        return value

    @model_validator(mode="after")
    def _stationary_term_single_output(self) -> "LLAOptions":
        if self.stationary_variance > 0 and self.outcome_networks == "joint":
            raise ValueError('stationary_variance applies to single-output networks; '
                             'it cannot be combined with outcome_networks "joint"')
        return self

    def to_config(self, safe: bool = False) -> "LLAConfig":
        """The ``bdl_core`` configuration; ``safe`` is the retry after a failed fit (10x noise floor)."""
        from bdl_core.bo.config import LLAConfig

        return LLAConfig(
            width=self.width,
            depth=self.depth,
            activation=self.activation,
            epochs=self.epochs,
            warm_epochs=self.warm_epochs,
            lr=self.learning_rate,
            warm_lr=self.learning_rate * 0.3,
            prior=self.prior,
            min_noise_sd=min(1.0, self.noise_floor * (10.0 if safe else 1.0)),
            parametric_structure=self.parametric_structure,
            input_embedding=self.input_embedding,
            variance_calibration=self.variance_calibration,
            variance_shape=self.variance_shape,
            stationary_variance=self.stationary_variance,
            stationary_lengthscale=self.stationary_lengthscale,
        )
