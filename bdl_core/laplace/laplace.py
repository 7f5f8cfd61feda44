"""``LaplacePosterior``: the engine of the Laplace approximation of a trained network.

Users construct a posterior of one structure (``KronLaplace``, ``DiagLaplace``, ``FullLaplace``,
``FunctionLaplace`` in :mod:`.posteriors`, or the ``Laplace(...)`` factory there); all share
this class. Usage::

    la = KronLaplace(model, likelihood="regression", prior="layerwise")
    la.fit(X, y)                       # or la.fit(loader)
    la.optimize_hyperparameters()      # post-hoc, by marginal likelihood
    mean, var = la.predict(X_test)

``fit`` stores theta*, the MAP data fit and the curvature (once); the hyperparameters
(:class:`~bdl_core.hyperparameters.Hyperparameters`) change afterwards without a refit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from bdl_core.curvature import ParameterLayout
from bdl_core.hyperparameters import Hyperparameters
from bdl_core.likelihood import Likelihood
from bdl_core.priors import PriorPrecision

from . import predictive
from .curvature_accumulators import STRUCTURES, make_accumulator
from .data_fit import MapDataFit
from .hyperparameter_tuning import optimize_hyperparameters
from .marginal_likelihood import laplace_log_marginal_likelihood
from .precision import PosteriorPrecision
from .prior_values import prior_diagonal_from_values
from .validation_tuning import optimize_prior_precision_on_validation


class LaplacePosterior:
    """Laplace approximation N(theta*, P^-1) of a trained network's posterior.

    Args:
        model: Trained network (at the MAP) mapping (N, *in_shape) to (N, C); it must
            treat examples independently (eval mode: no dropout / batch-norm updates).
        likelihood: ``"regression"`` (Gaussian, noise sigma) or ``"classification"``
            (softmax over C logits).
        structure: Posterior precision structure ``"full"``, ``"diag"``, ``"kron"``
            (K-FAC) or ``"function"`` (function-space / GP form).
        subset: ``"all"`` parameters or only the ``"last_layer"`` (an ``nn.Linear``).
        kfac: K-FAC flavour for weight sharing, ``"expand"`` or ``"reduce"``.
        prior: Prior precision structure ``"scalar"``, ``"layerwise"``, ``"unitwise"``
            or ``"parameter"`` (see :class:`bdl_core.priors.PriorPrecision`).
        prior_precision: Initial prior precision: float / 0-dim tensor (every
            parameter), or a (n_hyper,) tensor of the prior structure's shape.
        sigma_noise: Initial Gaussian noise std (regression; must be 1 otherwise).
        min_sigma_noise: Floor for sigma in :meth:`optimize_hyperparameters` (None: none).
        kron_dense_limit: ``"kron"`` with a ``"parameter"`` prior: blocks up to this many
            parameters are factorised exactly and densely, larger ones approximated
            (see :mod:`bdl_core.laplace.kron_general_blocks`).
        jacobian_budget: Max number of Jacobian entries (chunk x C x P) held at once
            during prediction; sets the default chunk size.
        fit_batch_size: Examples per batch when :meth:`fit` gets tensors.
        prior_mean: (P,) prior mean of the selected parameters (None: zero mean); the
            evidence then uses ``(theta* - mu)^T P0 (theta* - mu)``.

    Attributes:
        layout: The selected parameters (:class:`ParameterLayout`).
        hypers: The :class:`~bdl_core.hyperparameters.Hyperparameters` (prior precisions,
            prior mean, noise and its floor).
        prior: ``hypers.prior``, the :class:`PriorPrecision` module (log precisions as parameters).
        log_sigma_noise: ``hypers.log_sigma``, () ``nn.Parameter``, log sigma.
        theta_map: (P,) MAP parameters stored by :meth:`fit`.
    """

    def __init__(
        self,
        model: nn.Module,
        likelihood: str = "regression",
        structure: str = "kron",
        subset: str = "all",
        kfac: str = "expand",
        prior: str = "scalar",
        prior_precision: float | Tensor = 1.0,
        sigma_noise: float | Tensor = 1.0,
        min_sigma_noise: float | None = None,
        kron_dense_limit: int = 2048,
        jacobian_budget: int = 2**23,
        fit_batch_size: int = 256,
        prior_mean: Tensor | None = None,
    ) -> None:
        likelihood = Likelihood.of(likelihood)
        if structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}.")
        self.model, self.likelihood, self.structure = model, likelihood, structure
        self.subset, self.kfac = subset, kfac
        self.layout = ParameterLayout(model, subset)
        sigma = torch.as_tensor(sigma_noise, dtype=self.layout.dtype, device=self.layout.device)
        if not likelihood.is_regression and not torch.allclose(sigma, torch.ones_like(sigma)):
            raise ValueError("sigma_noise must be 1 for classification.")
        mean = None if prior_mean is None else torch.as_tensor(prior_mean, dtype=self.layout.dtype,
                                                               device=self.layout.device).reshape(-1)
        if mean is not None and mean.numel() != self.layout.n_params:
            raise ValueError(f"prior_mean must have {self.layout.n_params} entries, got {mean.numel()}.")
        self.hypers = Hyperparameters(PriorPrecision(self.layout, prior, init=prior_precision), sigma,
                                      learn_sigma=likelihood.is_regression, min_sigma=min_sigma_noise,
                                      prior_mean=mean)
        self.kron_dense_limit = kron_dense_limit
        self.jacobian_budget = jacobian_budget
        self.fit_batch_size = fit_batch_size
        self.theta_map: Tensor | None = None
        self._accumulator = None
        self._data_fit: MapDataFit | None = None
        self._cache: tuple[Tensor, Tensor, PosteriorPrecision] | None = None

    # ------------------------------------------------------------ fitting
    def _to_model(self, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        device, dtype = self.layout.device, self.layout.dtype
        X = X.to(device=device, dtype=dtype) if X.is_floating_point() else X.to(device)
        return X, self.likelihood.targets(y, dtype, device)

    def fit(self, data: Tensor | Iterable, y: Tensor | None = None) -> LaplacePosterior:
        """Store theta*, the MAP data fit and the curvature (replaces any earlier fit).

        Args:
            data: (N, *in_shape) inputs with ``y``, or an iterable of ``(X, y)`` batches
                (e.g. a ``DataLoader``).
            y: (N, C) float regression targets or (N,) class indices (with tensor ``data``).

        Returns:
            self.
        """
        if y is not None:
            b = self.fit_batch_size
            batches = [(data[i : i + b], y[i : i + b]) for i in range(0, data.shape[0], b)]
        else:
            batches = data
        self._accumulator = make_accumulator(
            self.structure, self.model, self.layout, self.likelihood,
            chunk_size=None, kfac=self.kfac, dense_limit=self.kron_dense_limit,
        )
        self._data_fit = MapDataFit(self.likelihood)
        for X_b, y_b in batches:
            X_b, y_b = self._to_model(X_b, y_b)
            with torch.no_grad():
                f = self.model(X_b)
            self._data_fit.add_batch(f.reshape(f.shape[0], -1), y_b)
            self._accumulator.add_batch(X_b, y_b)
        if self._data_fit.n_data == 0:
            raise ValueError("fit() got no data.")
        self.theta_map = self.layout.vector().clone()
        self._cache = None
        return self

    def _check_fitted(self) -> None:
        if self._accumulator is None:
            raise RuntimeError("Call fit() first.")

    @property
    def n_data(self) -> int:
        """N, number of training examples seen by :meth:`fit`."""
        self._check_fitted()
        return self._data_fit.n_data

    @property
    def n_outputs(self) -> int:
        """C, number of network outputs."""
        self._check_fitted()
        return self._data_fit.n_outputs

    @property
    def n_params(self) -> int:
        """P, number of parameters in the posterior."""
        return self.layout.n_params

    # ------------------------------------------------------ hyperparameters
    @property
    def prior(self) -> PriorPrecision:
        """The prior precision module (``hypers.prior``)."""
        return self.hypers.prior

    @property
    def log_sigma_noise(self) -> nn.Parameter:
        """() log noise std (``hypers.log_sigma``)."""
        return self.hypers.log_sigma

    @property
    def min_sigma_noise(self) -> float | None:
        """Floor of sigma in :meth:`optimize_hyperparameters` (``hypers.min_sigma``)."""
        return self.hypers.min_sigma

    @property
    def prior_precision(self) -> Tensor:
        """Current prior hyperparameters, detached: () for "scalar", else (n_hyper,)."""
        values = self.prior.hyperparameters().detach()
        return values[0] if self.prior.structure == "scalar" else values

    @prior_precision.setter
    def prior_precision(self, value: float | Tensor) -> None:
        self.prior.set_(value)

    @property
    def sigma_noise(self) -> Tensor:
        """() current noise std, detached."""
        return self.log_sigma_noise.detach().exp()

    @sigma_noise.setter
    def sigma_noise(self, value: float | Tensor) -> None:
        if not self.likelihood.is_regression:
            raise ValueError("sigma_noise is fixed to 1 for classification.")
        with torch.no_grad():
            self.log_sigma_noise.copy_(torch.as_tensor(value, dtype=self.log_sigma_noise.dtype).log())

    def hyperparameters(self) -> list[nn.Parameter]:
        """The log hyperparameters: ``[prior.log_precision]`` plus ``log_sigma_noise`` for regression."""
        return self.hypers.trainable()

    def prior_diagonal(self, prior_precision: float | Tensor | None = None) -> Tensor:
        """(P,) per-parameter prior precisions (differentiable).

        Args:
            prior_precision: None (the stored prior) or values as for ``__init__``.
        """
        if prior_precision is None:
            return self.prior.diagonal()
        return prior_diagonal_from_values(self.prior, prior_precision)

    def _sigma(self, sigma_noise: float | Tensor | None) -> Tensor:
        if sigma_noise is None:
            return self.log_sigma_noise.exp()
        sigma = torch.as_tensor(sigma_noise, dtype=self.layout.dtype, device=self.layout.device)
        if not self.likelihood.is_regression and not torch.allclose(sigma, torch.ones_like(sigma)):
            raise ValueError("sigma_noise must be 1 for classification.")
        return sigma

    def posterior_precision_for(self, prior_precision: float | Tensor | None = None,
                                sigma_noise: float | Tensor | None = None) -> PosteriorPrecision:
        """Posterior precision at given (or the stored) hyperparameters, differentiable in them.

        Args:
            prior_precision: None or values as for ``__init__``.
            sigma_noise: None or () / float noise std (regression).

        Returns:
            A fresh :class:`PosteriorPrecision` (no curvature is recomputed).
        """
        return self._precision(self.prior_diagonal(prior_precision), self._sigma(sigma_noise))

    def _precision(self, prior_diagonal: Tensor, sigma: Tensor) -> PosteriorPrecision:
        self._check_fitted()
        scale = self.likelihood.curvature_scale(sigma)
        return self._accumulator.precision(prior_diagonal, scale, self.prior.structure)

    @property
    def posterior_precision(self) -> PosteriorPrecision:
        """Posterior precision at the current hyperparameters (detached, cached until they change)."""
        self._check_fitted()
        with torch.no_grad():
            prior_diag, sigma = self.prior.diagonal(), self.log_sigma_noise.exp()
        if self._cache is not None:
            c_prior, c_sigma, c_precision = self._cache
            if torch.equal(c_prior, prior_diag) and torch.equal(c_sigma, sigma):
                return c_precision
        with torch.no_grad():
            precision = self._precision(prior_diag, sigma)
        self._cache = (prior_diag, sigma, precision)
        return precision

    # ------------------------------------------------------------ evidence
    def log_marginal_likelihood(self, prior_precision: float | Tensor | None = None,
                                sigma_noise: float | Tensor | None = None) -> Tensor:
        """Laplace log marginal likelihood log p(D | prior, sigma).

        Args:
            prior_precision: None (stored prior, differentiable w.r.t. ``prior.log_precision``)
                or values as for ``__init__`` (differentiable w.r.t. them).
            sigma_noise: None (stored, differentiable w.r.t. ``log_sigma_noise``) or a
                () / float std (regression only).

        Returns:
            () tensor.
        """
        precision = self.posterior_precision_for(prior_precision, sigma_noise)
        log_lik = self._data_fit.log_likelihood(self._sigma(sigma_noise))
        return laplace_log_marginal_likelihood(log_lik, precision, self.hypers.centred(self.theta_map))

    def optimize_hyperparameters(self, n_steps: int = 100, lr: float = 0.1, noise: bool = True,
                                 min_sigma_noise: float | None = None,
                                 callback: Callable[[int, int, float], None] | None = None) -> list[float]:
        """Post-hoc tuning: Adam on the log prior precisions (and log sigma) by evidence.

        Args:
            n_steps: Adam steps.
            lr: Adam learning rate.
            noise: Also tune sigma (regression only).
            min_sigma_noise: Floor for sigma (default: the constructor's ``min_sigma_noise``).
            callback: Called as ``(step, n_steps, log_marginal_likelihood)`` after every step.

        Returns:
            The log marginal likelihood before each step and after the last (n_steps + 1 floats).
        """
        floor = self.min_sigma_noise if min_sigma_noise is None else min_sigma_noise
        return optimize_hyperparameters(self, n_steps=n_steps, lr=lr, noise=noise,
                                        min_sigma_noise=floor, callback=callback)

    def optimize_prior_precision_on_validation(self, X: Tensor, y: Tensor, grid: Tensor | None = None,
                                               link: str = "probit",
                                               progress_callback: Callable[[int, int, float], None] | None = None,
                                               ) -> tuple[Tensor, Tensor]:
        """Post-hoc tuning: the scalar prior precision with the best validation NLL (grid search).

        Args:
            X: (N, *in_shape) held-out inputs.
            y: (N,) class indices or (N, C) regression targets.
            grid: (G,) candidate precisions (default 1e-4 ... 1e6, four per decade).
            link: Classification link, ``"probit"`` or ``"mc"``.
            progress_callback: Called as ``(i, G, nll)`` after the i-th grid value.

        Returns:
            The (G,) grid and (G,) validation NLL per value; the prior is set to the best.
        """
        return optimize_prior_precision_on_validation(self, X, y, grid=grid, link=link,
                                                      progress_callback=progress_callback)

    # ----------------------------------------------------------- prediction
    def _chunk_size(self, chunk_size: int | None) -> int:
        if chunk_size is not None:
            return chunk_size
        return max(1, self.jacobian_budget // (self.n_outputs * self.n_params))

    def functional_distribution(self, X: Tensor, joint: bool = False,
                                chunk_size: int | None = None) -> tuple[Tensor, Tensor]:
        """Linearised (GLM) Gaussian over the network outputs.

        Args:
            X: (N, *in_shape) inputs (differentiable).
            joint: Joint over all inputs instead of per input.
            chunk_size: Inputs per Jacobian evaluation (default: from ``jacobian_budget``).

        Returns:
            ``joint=False``: f_mean (N, C), f_cov (N, C, C).
            ``joint=True``: f_mean (N*C,), f_cov (N*C, N*C), index n*C + c.
        """
        self._check_fitted()
        if X.is_floating_point():
            X = X.to(device=self.layout.device, dtype=self.layout.dtype)
        precision = self.posterior_precision
        if not joint and precision.supports_rank_one_factors():  # kron/diag: no (N, C, P) Jacobians
            size = chunk_size or predictive.rank_one_chunk_size(self.layout, self.n_outputs, self.jacobian_budget)
            fast = predictive.glm_predictive_rank_one(self.layout, precision, X, size)
            if fast is not None:
                return fast
        fn = predictive.glm_joint_predictive if joint else predictive.glm_predictive
        return fn(self.model, self.layout, precision, X, self._chunk_size(chunk_size))

    def predict(self, X: Tensor, joint: bool = False, observation_noise: bool = False,
                method: str = "glm", link: str = "probit", n_samples: int = 100,
                generator: torch.Generator | None = None,
                chunk_size: int | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Posterior predictive.

        Args:
            X: (N, *in_shape) inputs; outputs are differentiable w.r.t. X ("glm").
            joint: Return the joint Gaussian (N*C,), (N*C, N*C) over outputs (for
                classification: over logits).
            observation_noise: Regression: add sigma^2 to the variances.
            method: ``"glm"`` (linearised network) or ``"nn"`` (sample weights from the
                posterior and run the nonlinear network).
            link: Classification with ``"glm"``: ``"probit"`` or ``"mc"``.
            n_samples: Samples for ``link="mc"`` / ``method="nn"``.
            generator: Random generator for the sampling methods.
            chunk_size: Inputs per Jacobian evaluation.

        Returns:
            Regression: mean (N, C) and variance (N, C) (or the joint pair).
            Classification: class probabilities (N, C) (or the joint logit pair).
        """
        if method not in ("glm", "nn"):
            raise ValueError(f"method must be 'glm' or 'nn', got {method!r}.")
        if link not in ("probit", "mc"):
            raise ValueError(f"link must be 'probit' or 'mc', got {link!r}.")
        noise = self.sigma_noise.pow(2) if observation_noise and self.likelihood.is_regression else 0.0
        if method == "nn":
            self._check_fitted()
            if X.is_floating_point():
                X = X.to(device=self.layout.device, dtype=self.layout.dtype)
            f = predictive.sampled_network_outputs(self.model, self.layout, self.theta_map,
                                                   self.posterior_precision, X, n_samples, generator)
            return predictive.summarise_output_samples(f, self.likelihood, joint, noise)
        mean, cov = self.functional_distribution(X, joint=joint, chunk_size=chunk_size)
        if joint:
            return mean, cov + noise * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
        if self.likelihood.is_regression:
            return mean, cov.diagonal(dim1=-2, dim2=-1) + noise
        if link == "probit":
            return predictive.probit_probabilities(mean, cov)
        return predictive.mc_probabilities(mean, cov, n_samples, generator)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(likelihood={self.likelihood.value!r}, structure={self.structure!r}, "
                f"subset={self.subset!r}, prior={self.prior.structure!r}, n_params={self.n_params})")
