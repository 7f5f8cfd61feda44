"""The fitted state of a surrogate: what its next fit starts from, as compact bytes.

A :class:`SurrogateState` holds a model's fitted tensors (GP hyperparameters; an LLA
network's weights and hyperparameters), a tag of the model structure they belong to, and a
fingerprint of the data they were fitted on. The suggest engine keeps it in the study
database (``model_states``), so every API process warm-starts from the same state and gives
the same suggestion for the same history. It is serialised with safetensors (tensors plus a
small JSON header), never with pickle.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import Tensor


@dataclass(frozen=True)
class SurrogateState:
    """Fitted tensors of one model.

    Attributes:
        kind: a tag of the model structure (state only transfers between equal kinds).
        tensors: name -> tensor (CPU, contiguous).
        fingerprint: digest of the training data the state was fitted on.
        n_fitted: number of observations when the hyperparameters were last optimised.
        meta: small JSON-serialisable extras (diagnostics, counters).
        token: unique id of this state; equal tokens mean equal contents, so a process may
            cache objects derived from a state (e.g. a factorised posterior) under it.
    """

    kind: str
    tensors: dict[str, Tensor]
    fingerprint: str
    n_fitted: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_bytes(self) -> bytes:
        """safetensors bytes (tensors and a JSON header with the other fields)."""
        header = {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "n_fitted": str(self.n_fitted),
            "meta": json.dumps(self.meta, sort_keys=True),
            "token": self.token,
        }
        tensors = {name: t.detach().to("cpu").contiguous() for name, t in self.tensors.items()}
        return save_tensors(tensors, metadata=header)

    @classmethod
    def from_bytes(cls, payload: bytes) -> SurrogateState:
        """Inverse of :meth:`to_bytes`.

        Raises:
            ValueError: the bytes are not a serialised state.
        """
        try:
            tensors = load_tensors(payload)
            header = _header(payload)
            return cls(
                kind=header["kind"],
                tensors=tensors,
                fingerprint=header["fingerprint"],
                n_fitted=int(header["n_fitted"]),
                meta=json.loads(header["meta"]),
                token=header["token"],
            )
        except (KeyError, ValueError, RuntimeError) as error:
            raise ValueError(f"not a serialised surrogate state: {error}") from error


def _header(payload: bytes) -> dict[str, str]:
    """The ``__metadata__`` of safetensors bytes (8-byte little-endian length, then JSON)."""
    size = int.from_bytes(payload[:8], "little")
    return json.loads(payload[8 : 8 + size].decode("utf-8"))["__metadata__"]


def digest_bytes(payload: bytes) -> str:
    """A 32-hex-digit digest of some bytes."""
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def data_fingerprint(*tensors: Tensor | None) -> str:
    """A digest identifying the exact contents (shape, dtype, values) of some tensors."""
    digest = hashlib.blake2b(digest_size=16)
    for t in tensors:
        if t is None:
            digest.update(b"none")
            continue
        c = t.detach().to("cpu").contiguous()
        digest.update(f"{tuple(c.shape)}{c.dtype}".encode())
        digest.update(c.numpy().tobytes())
    return digest.hexdigest()


def snapshot_parameters(module: torch.nn.Module) -> dict[str, Tensor]:
    """CPU copies of a module's trainable parameters (no data-dependent buffers)."""
    return {name: p.detach().to("cpu").clone() for name, p in module.named_parameters()}


def load_parameters(module: torch.nn.Module, state: dict[str, Tensor]) -> bool:
    """Copy ``state`` into ``module``'s parameters when every name and shape matches.

    Returns:
        True when loaded, False (module untouched) otherwise.
    """
    params = dict(module.named_parameters())
    if set(params) != set(state) or any(params[k].shape != v.shape for k, v in state.items()):
        return False
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name]))
    return True
