"""The joint multi-output LLA: one network with an output per outcome, one Laplace posterior.

Several outcomes of one experiment (objectives, constrained metrics) are often driven by the same
features of the inputs. One :class:`MultiOutputMLP` with shared hidden layers models all of them;
its linearised Laplace posterior (GGN, Gaussian likelihood with one noise level per output) is
joint across outputs, so the predictive has cross-output covariances, which independent models
cannot express. The posterior is used in its function-space form (the NTK Gram matrix of all
``n m`` training outputs, :func:`multi_output_kernel`), exact for any ``n m``. The fit is the
single-output one with m outputs: the same MAP training (``map_training.train_map``), the same
function-space evidence (``function_space_evidence``, one noise sd per output) tuning the prior
precisions and the noise levels after training (Immer et al. 2021; as :mod:`lla_fit` does for one
output), with the same :class:`~bdl_core.hyperparameters.Hyperparameters` (log sigma of shape (m,)).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultitaskMultivariateNormal
from torch import Tensor

from bdl_core.hyperparameters import Hyperparameters

from .config import LLAConfig
from .evidence_updates import function_space_update
from .input_encoding import InputEncoder
from .map_training import train_map
from .multi_output_mlp import MultiOutputMLP, MultiTangentFeatures, multi_output_kernel
from .uniform_variance import kernel_diagonal, level_matrix, levels_for_points, output_levels, uniform_kernel
from .variance_calibration import calibrated_output_scales, parameter_offsets, prior_mean_residual

VARIANCE_JITTER = 1e-10  # standardised units


class MultiOutputLLAModel(Model):
    """Fitted joint multi-output LLA (a BoTorch ``Model`` with ``m`` outputs).

    ``posterior(X)`` for ``X`` of shape ``(*batch, q, D)`` is a multitask normal with mean
    ``(*batch, q, m)`` and a joint ``(q m) x (q m)`` covariance over points and outputs, in the
    units of the training targets.

    Args:
        net: the MAP network (frozen).
        encoder: encoded points -> network inputs.
        hypers: tuned hyperparameters (log sigma (m,); frozen here, no gradients).
        train_X: (n, D) encoded training points; train_Y: (n, m) targets.
        config: the configuration of the fit.
        info: diagnostics.
        prior_mean: prior mean per parameter tensor (None: zero).

    Each output's block of the joint covariance (and its noise) is scaled by its entry of
    ``variance_scale`` (m,), the leave-one-out maximum-likelihood scales of the outputs
    (``variance_calibration.loo_output_scales``; cross-output blocks by ``sqrt(c_i c_j)``) unless the
    configuration turns that off.
    """

    def __init__(self, net: MultiOutputMLP, encoder: InputEncoder, hypers: Hyperparameters, train_X: Tensor,
                 train_Y: Tensor, config: LLAConfig, info: dict[str, Any], prior_mean: list[Tensor] | None) -> None:
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.encoder = encoder
        self.hypers = hypers.requires_grad_(False)
        self.train_X = train_X
        self.train_Y = train_Y
        self.config = config
        self.info = info
        self.prior_mean = prior_mean
        self.y_mean, self.y_std = standardisation(train_Y)
        with torch.no_grad():
            self.train_features = net.tangent_features(encoder(train_X)).detach()
            self.variances = hypers.precisions(net.n_groups).reciprocal()
            kernel = multi_output_kernel(self.train_features, self.train_features, self.variances)
            self.uniform = config.variance_shape == "uniform"
            if self.uniform:  # uniform_variance: one prior variance per output at every input
                self.train_variance = kernel_diagonal(kernel)  # (n m,)
                self.levels = output_levels(self.train_variance, net.n_outputs)  # (m,)
                self.train_levels = levels_for_points(self.levels, train_X.shape[0])  # (n m,)
                kernel = uniform_kernel(kernel, self.train_variance, self.train_variance,
                                        level_matrix(self.train_levels, self.train_levels))
            noise = (2.0 * hypers.log_sigma).exp().repeat(train_X.shape[0])
            eye = torch.eye(kernel.shape[0], dtype=kernel.dtype, device=kernel.device)
            chol = torch.linalg.cholesky(kernel + torch.diag(noise))
            self.inverse_factor = torch.linalg.solve_triangular(chol, eye, upper=False)
            self.variance_scale = torch.ones(train_Y.shape[1], dtype=train_X.dtype, device=train_X.device)
            if config.variance_calibration == "loo":
                ys = (train_Y - self.y_mean) / self.y_std
                offsets = parameter_offsets(list(net.parameters()), prior_mean)
                residual = prior_mean_residual(self.train_features, ys, offsets).reshape(-1)  # points outer, outputs inner
                self.variance_scale = calibrated_output_scales(residual, self.inverse_factor, train_X.shape[0],
                                                               train_Y.shape[1])
        self.info["variance_scale"] = self.variance_scale.tolist()

    @property
    def num_outputs(self) -> int:
        """m."""
        return self.net.n_outputs

    @property
    def batch_shape(self) -> torch.Size:
        """Empty: one model."""
        return torch.Size([])

    def standardised_predictive(self, features: MultiTangentFeatures) -> tuple[Tensor, Tensor]:
        """Mean (*batch, q, m) and covariance (*batch, q m, q m) of the latent outputs (standardised)."""
        prior = multi_output_kernel(features, features, self.variances)
        cross = multi_output_kernel(features, self.train_features, self.variances)
        if self.uniform:
            variance = kernel_diagonal(prior)
            levels = levels_for_points(self.levels, variance.shape[-1] // self.net.n_outputs)
            prior = uniform_kernel(prior, variance, variance, level_matrix(levels, levels))
            cross = uniform_kernel(cross, variance, self.train_variance, level_matrix(levels, self.train_levels))
        reduced = cross @ self.inverse_factor.mT
        return features.f, prior - reduced @ reduced.mT

    def posterior(self, X: Tensor, output_indices: list[int] | None = None, observation_noise: bool | Tensor = False,
                  posterior_transform: Any = None, **kwargs: Any) -> GPyTorchPosterior:
        """Joint predictive over the q points and m outputs of each batch.

        Args:
            X: (*batch, q, D) encoded points.
            output_indices: None (all m outputs).
            observation_noise: True adds each output's fitted noise variance.
            posterior_transform: optional BoTorch posterior transform.

        Returns:
            ``GPyTorchPosterior`` of a multitask normal: mean (*batch, q, m), covariance
            (*batch, q m, q m) over points and outputs (interleaved).
        """
        if output_indices is not None and list(output_indices) != list(range(self.num_outputs)):
            raise ValueError("MultiOutputLLAModel predicts all its outputs jointly")
        X = X.to(self.train_X)
        mean, cov = self.standardised_predictive(self.net.tangent_features(self.encoder(X)))
        q, m = X.shape[-2], self.num_outputs
        calibration = self.variance_scale.sqrt().repeat(q)
        cov = cov * calibration.unsqueeze(-1) * calibration + VARIANCE_JITTER * torch.eye(q * m, dtype=X.dtype,
                                                                                             device=X.device)
        scale = self.y_std.repeat(q)
        cov = cov * scale.unsqueeze(-1) * scale
        if observation_noise is True:
            cov = cov + torch.diag((self.variance_scale * (self.hypers.log_sigma.exp() * self.y_std) ** 2).repeat(q))
        posterior = GPyTorchPosterior(MultitaskMultivariateNormal(mean * self.y_std + self.y_mean, cov, interleaved=True))
        return posterior_transform(posterior) if posterior_transform is not None else posterior


def standardisation(Y: Tensor) -> tuple[Tensor, Tensor]:
    """(m,) mean and (m,) sd of the columns of Y (n, m); sd 1 where undefined or zero."""
    mean = Y.mean(0)
    std = Y.std(0) if Y.shape[0] > 1 else torch.ones_like(mean)
    std = torch.where(torch.isfinite(std) & (std > 1e-12), std, torch.ones_like(std))
    return mean, std


def fit_multi_output_lla(train_X: Tensor, train_Y: Tensor, encoder: InputEncoder, config: LLAConfig = LLAConfig(),
                         warm: MultiOutputLLAModel | None = None, seed: int = 0) -> MultiOutputLLAModel:
    """Train the MAP network on all outputs, tune the evidence, factorise the joint posterior.

    Args:
        train_X: (n, D) encoded training points, n >= 1.
        train_Y: (n, m) finite targets.
        encoder: encoded points -> network inputs.
        config: network, schedule and tuning settings (as for the single-output LLA, without a
            stationary kernel term).
        warm: a previous fit of the same architecture and outputs to start from (fewer steps).
        seed: seeds the initial weights (and the prior mean at initialisation).

    Raises:
        ValueError: no data, or a configuration with ``stationary_variance > 0``.
    """
    start = time.perf_counter()
    if train_X.shape[0] == 0:
        raise ValueError("fit_multi_output_lla needs at least one observation")
    if config.stationary_term() is not None:
        raise ValueError("the stationary kernel term (stationary_variance > 0) is for single-output networks only")
    Y = train_Y.to(train_X)
    y_mean, y_std = standardisation(Y)
    ys = (Y - y_mean) / y_std
    inputs = encoder(train_X)
    m = Y.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = MultiOutputMLP(encoder.out_features, m, config.width, config.depth, config.activation,
                             dtype=train_X.dtype, device=train_X.device)
    prior_mean = [p.detach().clone() for p in net.parameters()] if config.prior_mean == "init" else None
    hypers = Hyperparameters.for_network(net, config.prior, config.init_prior_precision, config.init_noise_sd,
                                         n_outputs=m)
    compatible = (warm is not None and warm.num_outputs == m and warm.config.architecture == config.architecture
                  and warm.config.prior == config.prior and warm.encoder.out_features == encoder.out_features)
    steps, lr, final_steps = config.epochs, config.lr, config.final_marglik_steps
    if compatible:
        with torch.no_grad():
            for target, source in zip(net.parameters(), warm.net.parameters()):
                target.copy_(source.to(target))
        hypers, prior_mean = warm.hypers.clone(), warm.prior_mean
        # the evidence factorises an (n m) x (n m) kernel: fewer steps at large n m
        steps, lr, final_steps = config.warm_map_steps(inputs.shape[0]), config.warm_lr, config.warm_evidence_steps(inputs.shape[0] * m)
    net.train()
    train_map(net, inputs, ys, hypers, steps, lr, None, 0, 0, prior_mean=prior_mean)
    hypers = function_space_update(config, prior_mean, net, inputs, ys, hypers, final_steps)
    if not hypers.is_finite():
        raise ValueError("non-finite hyperparameters after tuning")
    info = {"fit_seconds": time.perf_counter() - start, "warm_started": compatible, "steps": steps,
            "regime": "function", "noise_sd": (hypers.sigma.detach() * y_std).tolist()}
    return MultiOutputLLAModel(net, encoder, hypers, train_X, Y, config, info, prior_mean)
