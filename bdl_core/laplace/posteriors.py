"""The typed front: one public posterior class per structure, and ``Laplace(...)`` as a factory.

Each class takes only the arguments its structure uses (``KronLaplace`` alone has ``kfac`` and
``kron_dense_limit``); all of them are a :class:`~bdl_core.laplace.laplace.LaplacePosterior`
(fit, evidence, tuning, predictive). ``Laplace(model, likelihood, structure=...)`` picks the
class by name for code that chooses the structure at run time (job configs, benchmarks).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from bdl_core.likelihood import Likelihood

from .laplace import LaplacePosterior


KRON_OPTIONS = ("kfac", "kron_dense_limit")


def _without_kron_options(structure: str, common: dict[str, Any]) -> dict[str, Any]:
    """``common`` unchanged; a K-FAC option among them is a ``TypeError`` (it has no meaning here)."""
    given = [name for name in KRON_OPTIONS if name in common]
    if given:
        raise TypeError(f"{given} apply to KronLaplace only, not to the {structure!r} posterior.")
    return common


class KronLaplace(LaplacePosterior):
    """K-FAC posterior: one Kronecker-factored block per Linear / Conv2d layer.

    Args:
        model, likelihood, subset, prior, prior_precision, sigma_noise, min_sigma_noise,
            jacobian_budget, fit_batch_size, prior_mean: As for :class:`LaplacePosterior`.
        kfac: K-FAC flavour for weight sharing, ``"expand"`` or ``"reduce"``.
        kron_dense_limit: With a ``"parameter"`` prior, blocks up to this many parameters are
            factorised exactly and densely, larger ones approximated.
    """

    def __init__(self, model: nn.Module, likelihood: str | Likelihood = "regression", *, kfac: str = "expand",
                 kron_dense_limit: int = 2048, **common: Any) -> None:
        super().__init__(model, likelihood, structure="kron", kfac=kfac, kron_dense_limit=kron_dense_limit,
                         **common)


class DiagLaplace(LaplacePosterior):
    """Diagonal GGN posterior (every operation elementwise, O(P)).

    Args:
        model, likelihood, **common: As for :class:`LaplacePosterior` (no K-FAC options).
    """

    def __init__(self, model: nn.Module, likelihood: str | Likelihood = "regression", **common: Any) -> None:
        super().__init__(model, likelihood, structure="diag", **_without_kron_options("diag", common))


class FullLaplace(LaplacePosterior):
    """Full GGN posterior (exact, O(P^2) memory; for last layers and small networks).

    Args:
        model, likelihood, **common: As for :class:`LaplacePosterior` (no K-FAC options).
    """

    def __init__(self, model: nn.Module, likelihood: str | Likelihood = "regression", **common: Any) -> None:
        super().__init__(model, likelihood, structure="full", **_without_kron_options("full", common))


class FunctionLaplace(LaplacePosterior):
    """Function-space (GP / NTK) posterior: exact for the GGN, cost in the number of data points.

    Args:
        model, likelihood, **common: As for :class:`LaplacePosterior` (no K-FAC options).
    """

    def __init__(self, model: nn.Module, likelihood: str | Likelihood = "regression", **common: Any) -> None:
        super().__init__(model, likelihood, structure="function", **_without_kron_options("function", common))


POSTERIORS: dict[str, type[LaplacePosterior]] = {
    "kron": KronLaplace, "diag": DiagLaplace, "full": FullLaplace, "function": FunctionLaplace,
}


def Laplace(model: nn.Module, likelihood: str | Likelihood = "regression",  # noqa: N802 - the familiar name
            structure: str = "kron", subset: str = "all", kfac: str = "expand", prior: str = "scalar",
            prior_precision: float | Tensor = 1.0, sigma_noise: float | Tensor = 1.0,
            min_sigma_noise: float | None = None, kron_dense_limit: int = 2048, **common: Any) -> LaplacePosterior:
    """The posterior class of ``structure`` (``"kron"``, ``"diag"``, ``"full"`` or ``"function"``).

    Args:
        model, likelihood, subset, prior, prior_precision, sigma_noise, min_sigma_noise, **common:
            Passed to the class (see :class:`LaplacePosterior`).
        structure: Which class.
        kfac, kron_dense_limit: K-FAC options, used by ``"kron"`` only (other structures ignore them,
            so run-time configs may carry them for any structure).
        prior_precision: float / 0-dim tensor, or a (n_hyper,) tensor of the prior's shape.

    Returns:
        An unfitted :class:`KronLaplace`, :class:`DiagLaplace`, :class:`FullLaplace` or
        :class:`FunctionLaplace`.
    """
    if structure not in POSTERIORS:
        raise ValueError(f"structure must be one of {tuple(POSTERIORS)}, got {structure!r}.")
    common.update(subset=subset, prior=prior, prior_precision=prior_precision, sigma_noise=sigma_noise,
                  min_sigma_noise=min_sigma_noise)
    if structure == "kron":
        return KronLaplace(model, likelihood, kfac=kfac, kron_dense_limit=kron_dense_limit, **common)
    return POSTERIORS[structure](model, likelihood, **common)
