"""A small, thread-safe, bounded LRU of fitted-model state per study.

Model policies store the fitted hyperparameters (and a fingerprint of the data they
were fitted on) under the study id. The next fit starts from them, which makes the
hyperparameter optimisation converge in a few iterations; when the data did not
change at all (e.g. ``predict`` right after ``suggest``) the fit is skipped.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor

DEFAULT_CAPACITY = 64


@dataclass(frozen=True)
class WarmState:
    """Fitted hyperparameters of one model.

    Attributes:
        kind: a tag of the model structure (hyperparameters only transfer between equal kinds).
        state: parameter name -> tensor (on CPU).
        fingerprint: digest of the training data the state was fitted on.
        n_fitted: number of observations when the hyperparameters were last optimised.
    """

    kind: str
    state: dict[str, Tensor]
    fingerprint: str
    n_fitted: int = 0


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


class WarmStartCache:
    """LRU mapping ``key -> WarmState`` holding at most ``capacity`` entries."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, WarmState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None) -> WarmState | None:
        """The state stored under ``key`` (refreshing its recency) or None."""
        if key is None:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str | None, item: WarmState) -> None:
        """Store ``item`` under ``key`` (no-op for a None key), evicting the oldest entry."""
        if key is None:
            return
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def discard(self, key: str) -> None:
        """Forget ``key`` (e.g. when a study is deleted)."""
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


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
