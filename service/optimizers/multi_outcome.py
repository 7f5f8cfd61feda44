"""Several outcomes, one surrogate each: fitting, the combined model and its warm state.

Every modelled outcome column of ``Outcomes.Y`` gets its own fit of the study's surrogate
(independent models, BoTorch's ``ModelList``); the warm state of all of them travels as one
:class:`SurrogateState` whose tensors are prefixed by the outcome index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botorch.models.model import ModelList
from torch import Tensor

from service.optimizers.gp_model import GPData
from service.optimizers.surrogate import FittedSurrogate
from service.optimizers.surrogate_state import SurrogateState, digest_bytes

MULTI_KIND = "multi"


def pack_states(parts: list[SurrogateState | None]) -> SurrogateState | None:
    """One state holding the per-outcome states (None when no outcome has one)."""
    if all(p is None for p in parts):
        return None
    tensors: dict[str, Tensor] = {}
    meta: list[dict[str, Any] | None] = []
    for j, part in enumerate(parts):
        if part is None:
            meta.append(None)
            continue
        tensors.update({f"{j}/{name}": t for name, t in part.tensors.items()})
        meta.append({"kind": part.kind, "fingerprint": part.fingerprint, "n_fitted": part.n_fitted,
                     "meta": part.meta, "token": part.token})
    kind = f"{MULTI_KIND}-{len(parts)}-" + digest_bytes("|".join(str(m and m["kind"]) for m in meta).encode())
    fingerprint = digest_bytes("|".join(str(m and m["fingerprint"]) for m in meta).encode())
    return SurrogateState(kind=kind, tensors=tensors, fingerprint=fingerprint, meta={"parts": meta})


def unpack_states(state: SurrogateState | None, n_outcomes: int) -> list[SurrogateState | None]:
    """The per-outcome states of :func:`pack_states` (all None for another kind or count)."""
    if state is None or not state.kind.startswith(f"{MULTI_KIND}-{n_outcomes}-"):
        return [None] * n_outcomes
    parts: list[SurrogateState | None] = []
    for j, info in enumerate(state.meta.get("parts", [])):
        if info is None:
            parts.append(None)
            continue
        prefix = f"{j}/"
        tensors = {k[len(prefix):]: v for k, v in state.tensors.items() if k.startswith(prefix)}
        parts.append(SurrogateState(kind=info["kind"], tensors=tensors, fingerprint=info["fingerprint"],
                                    n_fitted=int(info["n_fitted"]), meta=info["meta"], token=info["token"]))
    return parts if len(parts) == n_outcomes else [None] * n_outcomes


def fit_outcomes(
    fit_one: Callable[[GPData, SurrogateState | None], FittedSurrogate],
    X: Tensor,
    Y: Tensor,
    warm: SurrogateState | None,
) -> FittedSurrogate:
    """Fit one model per outcome column; the result's model is a ``ModelList`` with ``m`` outputs.

    Args:
        fit_one: fits the surrogate on one outcome's data, from that outcome's warm state.
        X: ``(n, D)`` encoded observations.
        Y: ``(n, m)`` outcomes (objectives maximisation-oriented first).
        warm: the packed state of the previous fit.
    """
    parts = unpack_states(warm, Y.shape[1])
    fits = [fit_one(GPData.from_request(X, Y[:, j], None), parts[j]) for j in range(Y.shape[1])]
    info = {
        "fit_seconds": sum(float(f.info.get("fit_seconds", 0.0)) for f in fits),
        "warm_started": all(bool(f.info.get("warm_started")) for f in fits),
        "fit_skipped": all(bool(f.info.get("fit_skipped")) for f in fits),
    }
    states = [f.state if f.state is not None else parts[j] for j, f in enumerate(fits)]
    return FittedSurrogate(model=ModelList(*[f.model for f in fits]), state=pack_states(states), info=info)
