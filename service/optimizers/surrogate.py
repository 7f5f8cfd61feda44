"""The surrogate interface: encoded data (and a warm state) in, a fitted BoTorch ``Model`` out.

A surrogate only models; everything else of Bayesian optimisation (initial design, the
acquisition and its optimisation, rounding, de-duplication, fallbacks) belongs to the one
:class:`~service.optimizers.model_policy.ModelBasedPolicy` that every surrogate plugs into.
A new surrogate is one file with a :class:`Surrogate` subclass plus one
``register_surrogate`` line (``service/optimizers/__init__.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel
from torch import Tensor

from service.optimizers.surrogate_state import SurrogateState
from service.space.search_space import SearchSpace

if TYPE_CHECKING:  # BoTorch is imported only by the surrogates that build models
    from botorch.models.model import Model

    from service.optimizers.acquisition import AcquisitionOptions
    from service.optimizers.gp_model import GPData


@dataclass(frozen=True)
class FittedSurrogate:
    """A fitted model and what to keep of it.

    Attributes:
        model: a BoTorch ``Model`` of the maximisation-oriented objective on encoded inputs
            (``posterior(X)`` for ``X`` of shape ``(*batch, q, D)``).
        state: the state the next fit should start from (None: keep the previous one).
        info: diagnostics (``fit_seconds``, ``warm_started``, ``fit_skipped``, ...).
    """

    model: Model
    state: SurrogateState | None
    info: dict[str, Any] = field(default_factory=dict)


class Surrogate(ABC):
    """A probabilistic model of the objective (see module docstring).

    Class attributes:
        name: the name studies use (``surrogate: "<name>"``).
        options_model: the pydantic model of its ``surrogate_options`` (None: it takes none).
    """

    name: ClassVar[str] = "surrogate"
    options_model: ClassVar[type[BaseModel] | None] = None

    def acquisition_options(self) -> AcquisitionOptions:
        """Budget of the acquisition optimisation for this surrogate (default: the shared one)."""
        from service.optimizers.acquisition import AcquisitionOptions

        return AcquisitionOptions()

    def fit_joint(
        self,
        space: SearchSpace,
        X: Tensor,
        Y: Tensor,
        *,
        options: BaseModel | None,
        warm: SurrogateState | None,
        safe: bool,
        seed: int,
    ) -> FittedSurrogate | None:
        """One joint model of several outcomes, or None when the surrogate has none (the default).

        Args:
            X: ``(n, D)`` encoded observations; Y: ``(n, m)`` outcomes (objectives
                maximisation-oriented first). Other arguments as in :meth:`fit`.

        Returns:
            A fitted model with ``m`` outputs, or None: the policy then fits one model per outcome.
        """
        return None

    @abstractmethod
    def fit(
        self,
        space: SearchSpace,
        data: GPData,
        *,
        options: BaseModel | None,
        warm: SurrogateState | None,
        safe: bool,
        seed: int,
    ) -> FittedSurrogate:
        """Fit on ``data`` (``n >= 1`` finite observations, encoded ``(n, D)`` inputs).

        Args:
            space: the search space (encoding, categorical columns).
            data: the observations (maximisation-oriented).
            options: validated ``surrogate_options`` (an ``options_model`` instance or None).
            warm: the state of this study's previous fit, or None. Must be ignored when it
                does not fit (another ``kind``).
            safe: retry configuration after a failure (more regularisation, no warm start).
            seed: the study's seed (reproducible fits).

        Raises:
            Exception: whatever fitting raises; the policy retries with ``safe`` and then
                falls back.
        """
