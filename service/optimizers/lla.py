"""The linearised-Laplace (LLA) surrogate (``surrogate: "lla"``): a neural network as a GP.

Fitting is ``bdl_core.bo.fit_lla_model`` (MAP training with marginal-likelihood tuning, then
the linearised Laplace posterior; Kristiadi et al. 2023). What is kept between calls
(:class:`SurrogateState`) is the whole fitted model in compact form: network weights, tuned
hyperparameters, prior mean and the training data it saw. From it:

* when the observations are unchanged (a suggest with new pending trials only, or ``predict``
  after ``suggest``) the model is restored without training
  (``bdl_core.bo.assemble_lla_model``: bit-identical to the fitted one, so every process gives
  the same answer); a process keeps restored models in a small cache keyed by the state's token;
* when the observations only grew (every fitted row is still there) the new fit is
  warm-started from it (``warm_epochs`` Adam steps instead of ``epochs``);
* otherwise (other data, other options, ``safe``) the fit starts cold.

Several outcomes (objectives, constrained metrics) are modelled by one network and LLA each (the
default, ``outcome_networks: "separate"``: :meth:`LLASurrogate.fit_joint` returns None and the
policy fits the outcomes one by one, ``multi_outcome``) or, with ``outcome_networks: "joint"``, by ONE
network with an output per outcome and a joint Laplace posterior across them
(``bdl_core.bo.multi_output_lla``), kept and warm-started the same way. The separate networks are the
default because the joint one stayed at ConstrainedGramacy's local solution where separate ones
found the global one (``docs/benchmarks.md``, "Separate LLA networks per outcome").

Categorical columns are one-hot encoded inside the model (``InputEncoder``); on conditional
spaces the inputs of inactive parameters are masked and activity indicators added
(``activity_inputs``); integer columns are relaxed to the unit interval and rounded by the shared acquisition code. Known
observation-noise variances are not used: the LLA infers one homoskedastic noise level by the
marginal likelihood (with a floor).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict

import torch
from pydantic import BaseModel
from torch import Tensor

from bdl_core.bo import InputEncoder, LLAConfig, LLAModel, TangentMLP, assemble_lla_model, fit_lla_model
from bdl_core.bo.multi_output_lla import MultiOutputLLAModel, fit_multi_output_lla
from bdl_core.hyperparameters import Hyperparameters
from bdl_core.bo.multi_output_mlp import MultiOutputMLP

from service.optimizers.activity_inputs import ActivityInputs
from service.optimizers.gp_model import GPData
from service.optimizers.lla_options import LLAOptions
from service.optimizers.surrogate import FittedSurrogate, Surrogate
from service.optimizers.surrogate_state import SurrogateState, data_fingerprint, digest_bytes
from service.space.search_space import SearchSpace

RESTORED_CACHE_SIZE = 16


def only_grew(old_X: Tensor, old_y: Tensor, X: Tensor, y: Tensor) -> bool:
    """True when every row of (old_X, old_y) occurs in (X, y) (as a multiset, any order).

    Args:
        old_X: (m, D), old_y: (m,) or (m, k) the data of the previous fit.
        X: (n, D), y: (n,) or (n, k) the current data.
    """
    if old_X.shape[0] > X.shape[0] or old_X.shape[1] != X.shape[1]:
        return False

    def rows(A: Tensor, b: Tensor) -> Counter:
        table = torch.cat([A, b.reshape(A.shape[0], -1).to(A)], dim=1).detach().cpu().contiguous()
        return Counter(bytes(r.numpy().tobytes()) for r in table)

    old, new = rows(old_X, old_y), rows(X, y)
    return all(new[r] >= c for r, c in old.items())


class LLASurrogate(Surrogate):
    """LLA of an MLP (see module docstring); options: :class:`LLAOptions`."""

    name = "lla"
    options_model = LLAOptions

    def __init__(self) -> None:
        self._restored: OrderedDict[str, LLAModel] = OrderedDict()
        self._lock = threading.Lock()

    def fit(self, space: SearchSpace, data: GPData, *, options: BaseModel | None,
            warm: SurrogateState | None, safe: bool, seed: int) -> FittedSurrogate:
        """See :meth:`Surrogate.fit`."""
        options = options if isinstance(options, LLAOptions) else LLAOptions()
        config = options.to_config(safe=safe)
        encoder = input_encoder(space, config)
        layout = repr((config, space.dim, tuple(sorted(space.n_choices.items())), tuple(space.conditional_dims)))
        kind = f"lla-{digest_bytes(layout.encode())}"
        fingerprint = data_fingerprint(data.X, data.y)
        previous = None
        if warm is not None and warm.kind == kind and not safe:
            previous = self.restore(warm, config, encoder)
            if warm.fingerprint == fingerprint:
                info = {"fit_seconds": 0.0, "fit_skipped": True, "warm_started": False,
                        "regime": previous.info["regime"]}
                return FittedSurrogate(model=previous, state=warm, info=info)
            if not only_grew(previous.train_X, previous.train_Y.reshape(-1), data.X, data.y):
                previous = None
        model = fit_lla_model(data.X, data.y, encoder, config, warm=previous, seed=seed + (1 if safe else 0))
        info = {key: model.info[key] for key in ("fit_seconds", "warm_started", "regime", "noise_sd")}
        info["fit_skipped"] = False
        if safe:
            return FittedSurrogate(model=model, state=None, info=info)
        state = to_state(model, kind, fingerprint)
        self.remember(state.token, model)
        return FittedSurrogate(model=model, state=state, info=info)

    def fit_joint(self, space: SearchSpace, X: Tensor, Y: Tensor, *, options: BaseModel | None,
                  warm: SurrogateState | None, safe: bool, seed: int) -> FittedSurrogate | None:
        """One network with an output per outcome and a joint Laplace posterior (``bdl_core.bo.multi_output_lla``);
        None (one LLA per outcome, fitted by the policy) unless ``outcome_networks`` is ``"joint"``."""
        options = options if isinstance(options, LLAOptions) else LLAOptions()
        if options.outcome_networks != "joint":
            return None
        config = options.to_config(safe=safe)
        encoder = InputEncoder(space.dim, space.n_choices, config.input_embedding)
        layout = repr(("joint", Y.shape[1], config, space.dim, tuple(sorted(space.n_choices.items()))))
        kind = f"lla-joint-{digest_bytes(layout.encode())}"
        fingerprint = data_fingerprint(X, Y)
        previous = None
        if warm is not None and warm.kind == kind and not safe:
            previous = joint_from_state(warm, config, encoder)
            if warm.fingerprint == fingerprint:
                return FittedSurrogate(model=previous, state=warm, info={"fit_seconds": 0.0, "fit_skipped": True,
                                                                         "warm_started": False, "regime": "joint"})
            if not only_grew(previous.train_X, previous.train_Y, X, Y):
                previous = None
        model = fit_multi_output_lla(X, Y, encoder, config, warm=previous, seed=seed + (1 if safe else 0))
        info = {"fit_seconds": model.info["fit_seconds"], "warm_started": model.info["warm_started"],
                "fit_skipped": False, "regime": "joint", "noise_sd": model.info["noise_sd"]}
        state = None if safe else joint_to_state(model, kind, fingerprint)
        return FittedSurrogate(model=model, state=state, info=info)

    def restore(self, state: SurrogateState, config: LLAConfig, encoder: InputEncoder) -> LLAModel:
        """The model a state describes (from this process's cache when restored before)."""
        with self._lock:
            model = self._restored.get(state.token)
            if model is not None:
                self._restored.move_to_end(state.token)
                return model
        model = from_state(state, config, encoder)
        self.remember(state.token, model)
        return model

    def remember(self, token: str, model: LLAModel) -> None:
        """Keep a fitted or restored model under its state's token (bounded LRU)."""
        with self._lock:
            self._restored[token] = model
            self._restored.move_to_end(token)
            while len(self._restored) > RESTORED_CACHE_SIZE:
                self._restored.popitem(last=False)


def input_encoder(space: SearchSpace, config: LLAConfig) -> InputEncoder | ActivityInputs:
    """The network inputs: the column embedding, activity-aware on conditional spaces."""
    encoder = InputEncoder(space.dim, space.n_choices, config.input_embedding)
    return ActivityInputs(encoder, space) if space.is_conditional else encoder


def to_state(model: LLAModel, kind: str, fingerprint: str) -> SurrogateState:
    """The compact state of a fitted model."""
    tensors: dict[str, Tensor] = {f"net.{k}": v for k, v in model.net.state_dict().items()}
    tensors["hypers.log_prior"] = model.hypers.log_prior
    tensors["hypers.log_sigma"] = model.hypers.log_sigma.reshape(1)
    tensors["train_X"] = model.train_X
    tensors["train_Y"] = model.train_Y
    for i, mean in enumerate(model.prior_mean or []):
        tensors[f"prior_mean.{i}"] = mean
    meta = {"fit_seconds": model.info.get("fit_seconds"), "warm_started": model.info.get("warm_started"),
            "steps": model.info.get("steps")}
    return SurrogateState(kind=kind, tensors={k: v.detach().cpu().clone() for k, v in tensors.items()},
                          fingerprint=fingerprint, n_fitted=int(model.train_X.shape[0]), meta=meta)


def from_state(state: SurrogateState, config: LLAConfig, encoder: InputEncoder) -> LLAModel:
    """Restore the ``LLAModel`` that :func:`to_state` saved (no training; bit-identical)."""
    t = state.tensors
    train_X = t["train_X"]
    with torch.random.fork_rng(devices=[]):
        net = TangentMLP(encoder.out_features, config.width, config.depth, config.activation,
                         dtype=train_X.dtype, device=train_X.device)
    net.load_state_dict({k.removeprefix("net."): v for k, v in t.items() if k.startswith("net.")})
    hypers = Hyperparameters.for_network(net, config.prior, t["hypers.log_prior"], t["hypers.log_sigma"].reshape(()))
    n_means = sum(1 for k in t if k.startswith("prior_mean."))
    prior_mean = [t[f"prior_mean.{i}"].clone() for i in range(n_means)] or None
    return assemble_lla_model(net, encoder, hypers, train_X, t["train_Y"], config, dict(state.meta), prior_mean)


def joint_to_state(model: MultiOutputLLAModel, kind: str, fingerprint: str) -> SurrogateState:
    """The compact state of a fitted joint multi-output model."""
    tensors: dict[str, Tensor] = {f"net.{k}": v for k, v in model.net.state_dict().items()}
    tensors.update({"hypers.log_prior": model.hypers.log_prior, "hypers.log_sigma": model.hypers.log_sigma,
                    "train_X": model.train_X, "train_Y": model.train_Y})
    for i, mean in enumerate(model.prior_mean or []):
        tensors[f"prior_mean.{i}"] = mean
    return SurrogateState(kind=kind, tensors={k: v.detach().cpu().clone() for k, v in tensors.items()},
                          fingerprint=fingerprint, n_fitted=int(model.train_X.shape[0]),
                          meta={"fit_seconds": model.info.get("fit_seconds")})


def joint_from_state(state: SurrogateState, config: LLAConfig, encoder: InputEncoder) -> MultiOutputLLAModel:
    """Restore the model :func:`joint_to_state` saved (no training)."""
    t = state.tensors
    train_X, train_Y = t["train_X"], t["train_Y"]
    with torch.random.fork_rng(devices=[]):
        net = MultiOutputMLP(encoder.out_features, train_Y.shape[1], config.width, config.depth, config.activation,
                             dtype=train_X.dtype, device=train_X.device)
    net.load_state_dict({k.removeprefix("net."): v for k, v in t.items() if k.startswith("net.")})
    hypers = Hyperparameters.for_network(net, config.prior, t["hypers.log_prior"], t["hypers.log_sigma"].reshape(-1))
    n_means = sum(1 for k in t if k.startswith("prior_mean."))
    prior_mean = [t[f"prior_mean.{i}"].clone() for i in range(n_means)] or None
    return MultiOutputLLAModel(net, encoder, hypers, train_X, train_Y, config, dict(state.meta), prior_mean)
