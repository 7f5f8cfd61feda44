"""Construction and fitting of the GP surrogate on encoded data.

``SingleTaskGP`` or ``MixedSingleTaskGP`` when the space has categorical columns (BoTorch's
defaults). Inputs are already in the unit cube (categoricals hold indices), so there is no
input transform; outcomes are standardised; known noise variances become ``train_Yvar``
(fixed-noise likelihood).

``SingleTaskGP`` (``continuous_gp``) keeps BoTorch's RBF ARD kernel and dimension-scaled
lengthscale prior, but puts it in a ``ScaleKernel`` (a learned output scale instead of 1) and,
for inferred noise, uses a nearly flat noise prior with a floor of ``MIN_NOISE`` instead of
BoTorch's default (log-normal prior with median ~0.018 and floor 1e-4, standardised units).
Why, measured on Hartmann6 (60 evaluations, 12 initial, seeds 0-4, in process):

* noise: on this deterministic objective the default kept the fitted noise at 2e-3 .. 3e-4 of
  the outcome variance (n = 20 .. 60), a noise sd of 0.03 .. 0.06 in Hartmann's units, the
  size of the differences near an optimum. The GP explained them as noise, rated a column that
  matters there (x5) as irrelevant (lengthscale 2.5 .. 5) and the acquisition pinned it to a
  bound: runs stalled at -3.13 beside the local optimum -3.20 and at 3e-3 .. 9e-3 regret
  beside the global one.
* output scale: BoTorch's default fixes the prior variance of the standardised outcome to 1;
  learned, it came out at 0.5 .. 1.1 on these runs, and one more seed of five (seed 1) reached
  the global basin (its early steps climbed another initial point). This is measured on the
  trajectory, not derived: which basin a run commits to in its first steps is fragile (Optuna's
  GPSampler started from the same 12 initial points also ends at the local optimum on seeds 0, 3).

Median regret: 0.123 (BoTorch defaults), 0.121 (noise only), 0.0019 (output scale only),
0.00016 (both; 3 of 5 seeds at the global optimum, the other 2 at the local one, -3.2032);
on seeds 5-9, not used to choose this, 0.0090 before and 0.0001 after (5 of 5 global). Cost:
the acquisition optimisation takes longer on the sharper model, p50 CPU 0.085 -> 0.124 s per
Hartmann6 suggest (fit unchanged); no change measured on Ackley-10.

Kernel (``GPOptions.kernel``): the RBF above (measured above with it), or ``"matern52"``: an ARD
Matern-5/2 with a Gamma(3, 6) lengthscale prior (mean 0.5 on the unit cube; BoTorch's default before
0.12) up to 6 columns and a proportionally longer mean above (``matern_lengthscale_prior``), the
default since 2026-12-04 (measured in ``docs/benchmarks.md``, "The kernel of the default GP" and "The
Matern prior in more than six dimensions"); in a mixed space either is the kernel of the
non-categorical columns.

Fitting: the continuous GP (either kernel) with inferred noise (the common case) is fitted by the closed-form
``gp_map_fit`` (GPyTorch's objective and coordinates, ~10x cheaper per step); mixed and fixed-noise
models and the ``safe`` retry by ``fit_gpytorch_mll``.

Speed: hyperparameters are warm-started from the previous fit of the same study and
L-BFGS-B is capped (``WARM_FIT_MAXITER`` when warm; ``WARM_FIT_TOLERANCES`` holds extra
stopping options, empty: looser ones stalled a Hartmann6 run); an unchanged data set skips fitting,
and above ``REFIT_MIN_N`` observations the hyperparameters are re-optimised only once
the data grew by ``REFIT_GROWTH`` since the last optimisation (in between, the GP is
conditioned on all data with the previous hyperparameters: exact, only their MAP is
slightly stale). At n = 500 one marginal-likelihood evaluation costs ~35 ms on 2 cores.
``safe=True`` is the retry configuration after a failure: fresh hyperparameters, a
larger noise floor and more Cholesky jitter.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, get_args

import gpytorch
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import GammaPrior, LogNormalPrior
from torch import Tensor

from service.optimizers.gp_map_fit import GPHyperparameters, MapPriors, fit_map, lengthscale_prior
from service.optimizers.gp_options import DEFAULT_MIN_NOISE, GPKernel
from service.optimizers.stationary_kernels import kernel_name
from service.optimizers.surrogate_state import (
    SurrogateState,
    data_fingerprint,
    load_parameters,
    snapshot_parameters,
)
from service.space.search_space import SearchSpace

FIT_MAXITER = 75  # L-BFGS-B iterations from default hyperparameters
WARM_FIT_MAXITER = 20  # ... from the previous fit's hyperparameters (a small correction)
FIT_RETRY_SEED = 20_261_204  # plus n: the prior draws of fit_gpytorch_mll's retries (fit_gp)
WARM_FIT_TOLERANCES: dict[str, float] = {}  # looser ftol 1e-6 / gtol 1e-3 stalled Hartmann6 seed 4 at -1.66
REFIT_MIN_N = 200  # above this size hyperparameters are re-optimised only when the data grew
REFIT_GROWTH = 0.05  # ... by this fraction since the last optimisation
SAFE_MIN_NOISE = 1e-3  # noise floor (standardised units) of the retry configuration
MIN_NOISE = DEFAULT_MIN_NOISE  # floor of the inferred noise variance (standardised units) unless a caller passes one
INITIAL_NOISE = 1e-4  # inferred noise variance where a cold fit starts
# Gamma(concentration, rate) priors (standardised units): with concentration 1.1 the noise prior is
# nearly flat near 0 (1e-6 costs ~0.9 nats against 1e-2), so the data decide; the output-scale
# prior (mean 13) only keeps the scale away from 0 and infinity.
NOISE_PRIOR = (1.1, 0.05)
OUTPUTSCALE_PRIOR = (2.0, 0.15)
SAFE_YVAR_JITTER = 1e-4  # added to standardised fixed noise in the retry configuration
KERNELS = tuple(k for k in get_args(GPKernel) if k not in ("auto", "evidence"))  # continuous_gp's kernels (module docstring)
MATERN_LENGTHSCALE_PRIOR = (3.0, 6.0)  # Gamma(concentration, rate) on unit-cube lengthscales: mean 0.5 ...
MATERN_PRIOR_FULL_DIM = 6  # ... up to this many kernel columns; above, the mean grows in proportion (matern_lengthscale_prior)


@dataclass(frozen=True)
class GPData:
    """Cleaned training data.

    Attributes:
        X: ``(n, D)`` encoded inputs.
        y: ``(n,)`` maximisation-oriented outcomes (finite).
        y_var: ``(n,)`` known noise variances (``>= 0``) or None.
    """

    X: Tensor
    y: Tensor
    y_var: Tensor | None

    @classmethod
    def from_request(cls, X: Tensor, y: Tensor, y_var: Tensor | None) -> "GPData":
        """Drop rows with non-finite ``y``; ignore ``y_var`` when any entry is not finite."""
        keep = torch.isfinite(y)
        if y_var is not None and not bool(torch.isfinite(y_var[keep]).all()):
            y_var = None
        return cls(
            X=X[keep],
            y=y[keep],
            y_var=None if y_var is None else y_var[keep].clamp_min(0.0),
        )

    @property
    def n(self) -> int:
        """Number of observations."""
        return int(self.X.shape[0])


def model_kind(space: SearchSpace, data: GPData, safe: bool, kernel: str = "rbf", min_noise: float = MIN_NOISE) -> str:
    """Tag of the model structure; warm-start state only transfers within a kind."""
    base = "mixed" if space.categorical_dims else "single-scaled"
    if kernel != "rbf":
        base = f"{base}-{kernel}"
    if min_noise != MIN_NOISE:
        base = f"{base}-floor{min_noise:g}"
    noise = "fixed" if data.y_var is not None else "inferred"
    return f"{base}-{noise}-{'safe' if safe else 'std'}-d{space.dim}"


def build_gp(space: SearchSpace, data: GPData, safe: bool = False, kernel: str = "rbf",
             min_noise: float = MIN_NOISE) -> SingleTaskGP:
    """An unfitted GP for ``data`` (see module docstring); ``safe`` = retry configuration;
    ``kernel`` one of ``KERNELS`` (in a mixed space, the kernel of the continuous columns);
    ``min_noise`` the floor of the inferred noise variance of a continuous space's GP."""
    train_Y = data.y.unsqueeze(-1)
    train_Yvar = None
    if data.y_var is not None:
        train_Yvar = data.y_var.unsqueeze(-1)
        if safe:
            scale = data.y.var() if data.n > 1 else torch.ones((), dtype=data.y.dtype)
            scale = scale if bool(scale > 0) else torch.ones_like(scale)
            train_Yvar = train_Yvar + SAFE_YVAR_JITTER * scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if space.categorical_dims:
            model = MixedSingleTaskGP(
                data.X, train_Y, cat_dims=space.categorical_dims, train_Yvar=train_Yvar,
                outcome_transform=Standardize(m=1),
                cont_kernel_factory=None if kernel == "rbf" else matern_kernel,
            )
        else:
            model = continuous_gp(data.X, train_Y, train_Yvar, kernel, min_noise)
    if safe and train_Yvar is None:
        noise_covar = model.likelihood.noise_covar
        noise_covar.register_constraint("raw_noise", GreaterThan(SAFE_MIN_NOISE))
        noise_covar.noise = torch.full_like(noise_covar.noise, 10 * SAFE_MIN_NOISE)
    return model


def continuous_gp(X: Tensor, Y: Tensor, Yvar: Tensor | None, kernel: str = "rbf",
                  min_noise: float = MIN_NOISE) -> SingleTaskGP:
    """Unfitted ``SingleTaskGP`` on ``X`` ``(n, D)``, ``Y`` ``(n, 1)`` (known variances ``Yvar`` or None):
    an ARD kernel (``"rbf"`` with the dimension-scaled prior, or ``"matern52"`` with a Gamma prior of
    mean 0.5) with a learned output scale, inferred noise variance at least ``min_noise`` (see module docstring)."""
    base = get_covar_module_with_dim_scaled_prior(ard_num_dims=X.shape[-1]) if kernel == "rbf" else \
        matern_kernel(ard_num_dims=X.shape[-1])
    covar_module = ScaleKernel(base, outputscale_prior=GammaPrior(*OUTPUTSCALE_PRIOR))
    likelihood = None
    if Yvar is None:
        likelihood = GaussianLikelihood(
            noise_prior=GammaPrior(*NOISE_PRIOR),
            noise_constraint=GreaterThan(min_noise, transform=None, initial_value=max(INITIAL_NOISE, min_noise)),
        )
    return SingleTaskGP(X, Y, train_Yvar=Yvar, likelihood=likelihood, covar_module=covar_module,
                        outcome_transform=Standardize(m=1))


def matern_lengthscale_prior(dim: int) -> tuple[float, float]:
    """Gamma(concentration, rate) lengthscale prior of a Matern kernel over ``dim`` unit-cube columns:
    ``MATERN_LENGTHSCALE_PRIOR`` (mean 0.5) up to ``MATERN_PRIOR_FULL_DIM`` columns, above that the
    same concentration with the mean scaled by ``dim / MATERN_PRIOR_FULL_DIM`` (0.83 at 10 columns).

    Why: in 10 dimensions the mean-0.5 prior made the GP reach only its data's immediate
    neighbourhood (its LogEI maximiser sat 0.02-0.08 from the incumbent on Levy-10, against
    0.12-0.20 for the RBF with BoTorch's dimension-scaled prior) and the runs stalled in a local
    basin: Levy-10 median regret 8.68 against the RBF's 1.10 (seeds 0-9). Longer lengthscales with
    growing dimension (Hvarfner et al. 2024 argue for ``sqrt(dim)``) restore the reach: 3.42 with
    ``sqrt(dim / 6)``, 2.81 with ``dim / 6`` (Ackley-10 3.45 and 3.80 against 3.66 before and 4.75 for
    the RBF; ``docs/benchmarks.md``). Up to 6 columns nothing changes (Hartmann6 needs the short prior).
    """
    concentration, rate = MATERN_LENGTHSCALE_PRIOR
    if dim <= MATERN_PRIOR_FULL_DIM:
        return concentration, rate
    return concentration, rate * MATERN_PRIOR_FULL_DIM / dim


def matern_kernel(ard_num_dims: int, batch_shape: torch.Size | None = None,
                  active_dims: list[int] | None = None) -> MaternKernel:
    """ARD Matern-5/2 with the Gamma lengthscale prior of ``matern_lengthscale_prior(ard_num_dims)``
    (mean 0.5 on the unit cube up to 6 columns); the signature of ``MixedSingleTaskGP``'s
    ``cont_kernel_factory``."""
    return MaternKernel(nu=2.5, ard_num_dims=ard_num_dims, batch_shape=batch_shape or torch.Size(),
                        active_dims=active_dims, lengthscale_prior=GammaPrior(*matern_lengthscale_prior(ard_num_dims)))


@contextmanager
def numerical_settings(safe: bool) -> Iterator[None]:
    """gpytorch settings for fitting/predicting: more Cholesky jitter when ``safe``."""
    jitter = 1e-4 if safe else 1e-6
    with gpytorch.settings.cholesky_jitter(float_value=jitter, double_value=jitter), \
            gpytorch.settings.cholesky_max_tries(6 if safe else 3):
        yield


def fit_gp(
    space: SearchSpace,
    data: GPData,
    warm: SurrogateState | None = None,
    safe: bool = False,
    maxiter: int | None = None,
    kernel: str = "rbf",
    min_noise: float = MIN_NOISE,
) -> tuple[SingleTaskGP, SurrogateState, dict]:
    """Build and fit a GP, warm-started from ``warm`` when it fits this model kind.

    Args:
        space: the search space.
        data: training data with ``n >= 1``.
        warm: a previous fit's state (ignored when the kind differs or ``safe``).
        safe: retry configuration (fresh hyperparameters, more regularisation).
        maxiter: L-BFGS-B iteration cap (default: ``FIT_MAXITER`` cold, ``WARM_FIT_MAXITER`` warm).
        kernel: one of ``KERNELS`` (continuous spaces).
        min_noise: floor of the inferred noise variance (standardised units; continuous spaces).

    Returns:
        ``(model, state, info)``: the fitted model in eval mode, its state for the next
        warm start, and ``{"fit_seconds", "warm_started", "fit_skipped"}``.

    Raises:
        Exception: whatever fitting raises (e.g. ``ModelFittingError``); callers decide.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS}")
    start = time.perf_counter()
    kind = model_kind(space, data, safe, kernel, min_noise)
    fingerprint = data_fingerprint(data.X, data.y, data.y_var)
    model = build_gp(space, data, safe=safe, kernel=kernel, min_noise=min_noise)
    warm_started = False
    if warm is not None and warm.kind == kind and not safe:
        warm_started = load_parameters(model, warm.tensors)
    n_fitted = data.n
    skipped = False
    if warm_started and warm is not None:
        stale_ok = warm.n_fitted >= REFIT_MIN_N and data.n <= warm.n_fitted * (1 + REFIT_GROWTH)
        skipped = warm.fingerprint == fingerprint or stale_ok
        if skipped:
            n_fitted = warm.n_fitted
    if maxiter is None:
        maxiter = WARM_FIT_MAXITER if warm_started else FIT_MAXITER
    if not skipped and hand_fit_applies(space, data, safe, kernel):
        fit_map_into(model, maxiter, min_noise)
    elif not skipped:
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        # A failed attempt is retried from hyperparameters drawn from their priors with torch's global
        # generator: seeded by the data size here, so a fit depends on the study's history only, not
        # on what else the process drew before (the same data gave different mixed-space runs).
        with numerical_settings(safe), warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            torch.manual_seed(FIT_RETRY_SEED + data.n)
            fit_gpytorch_mll(
                mll,
                optimizer_kwargs={"options": {"maxiter": maxiter, **(WARM_FIT_TOLERANCES if warm_started else {})}},
                max_attempts=3 if safe else 2,
            )
    model.eval()
    _check_finite(model)
    state = SurrogateState(
        kind=kind, tensors=snapshot_parameters(model), fingerprint=fingerprint, n_fitted=n_fitted
    )
    info = {
        "fit_seconds": time.perf_counter() - start,
        "warm_started": warm_started,
        "fit_skipped": skipped,
    }
    return model, state, info


def hand_fit_applies(space: SearchSpace, data: GPData, safe: bool, kernel: str = "rbf") -> bool:
    """Whether the model is a ``continuous_gp`` with inferred noise (``gp_map_fit`` fits it)."""
    return kernel in KERNELS and not space.categorical_dims and data.y_var is None and not safe


def fit_map_into(model: SingleTaskGP, maxiter: int, min_noise: float = MIN_NOISE) -> None:
    """Fit a ``continuous_gp`` with inferred noise (floor ``min_noise``, as it was built with) by
    ``gp_map_fit.fit_map`` from its current hyperparameters (same objective as ``fit_gpytorch_mll``)
    and write the MAP into it."""
    kernel = model.covar_module
    start = GPHyperparameters(
        lengthscale=kernel.base_kernel.lengthscale.detach().reshape(-1),
        outputscale=kernel.outputscale.detach().reshape(()),
        noise=model.likelihood.noise.detach().reshape(()),
        constant=model.mean_module.constant.detach().reshape(()),
    )
    X, y = model.train_inputs[0].detach(), model.train_targets.detach()
    fitted = fit_map(X, y, start, map_priors(kernel.base_kernel, min_noise), maxiter)
    with torch.no_grad():
        kernel.base_kernel.lengthscale = fitted.lengthscale.reshape(kernel.base_kernel.lengthscale.shape)
        kernel.outputscale = fitted.outputscale
        model.likelihood.noise = fitted.noise.reshape(model.likelihood.noise.shape)
        model.mean_module.constant = fitted.constant


def map_priors(base_kernel: torch.nn.Module, min_noise: float = MIN_NOISE) -> MapPriors:
    """The ``gp_map_fit`` priors of ``continuous_gp`` with this base kernel (RBF or Matern-5/2), read off
    its lengthscale prior (a Gamma, or BoTorch's dimension-scaled LogNormal), and its noise floor."""
    kernel = kernel_name(base_kernel)
    if kernel is None:
        raise ValueError(f"no closed-form fit for {type(base_kernel).__name__}")
    prior = getattr(base_kernel, "lengthscale_prior", None)
    if isinstance(prior, GammaPrior):
        return MapPriors(OUTPUTSCALE_PRIOR, NOISE_PRIOR, min_noise, (float(prior.concentration), float(prior.rate)), kernel)
    mu0, s0 = lengthscale_prior(int(base_kernel.ard_num_dims))
    if not isinstance(prior, LogNormalPrior) or abs(float(prior.loc) - mu0) > 1e-6 or abs(float(prior.scale) - s0) > 1e-6:
        raise ValueError("the closed-form fit knows a Gamma or BoTorch's dimension-scaled LogNormal lengthscale prior")
    return MapPriors(OUTPUTSCALE_PRIOR, NOISE_PRIOR, min_noise, None, kernel)


def _check_finite(model: torch.nn.Module) -> None:
    """Raise ``ValueError`` when a fitted hyperparameter is NaN or infinite."""
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise ValueError(f"non-finite hyperparameter {name} after fitting")
