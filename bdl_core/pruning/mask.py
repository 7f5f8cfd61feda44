"""A pruning mask that stays applied while the network is trained further.

Pruned entries are zeroed in place (parameter names and shapes do not change, so the
Laplace machinery, state dicts and K-FAC see the usual network). While the mask is
*held* (``with mask.held(): ...``):

* a gradient hook on every masked parameter zeroes the gradient of pruned entries, so
  the loss, weight decay or a prior never pull them away from zero;
* a global optimizer step post-hook (``torch.optim.Optimizer`` hooks) re-zeroes them
  after every step of any optimizer that updates one of the masked parameters, so
  momentum, Adam's stale moments or decoupled weight decay cannot revive them either,
  even inside training loops that build their own optimizer (e.g.
  ``bdl_core.marglik.train``).

Parametrisations (``torch.nn.utils.parametrize``) would rename the parameters and
break the layout's module mapping, hence hooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from bdl_core.curvature import ParameterLayout


class PruningMask:
    """Keep-masks of a network's parameters.

    Args:
        layout: The parameters the mask is over (defines names and the (P,) order).
        keep: (P,) bool keep-vector in layout order (False: pruned).

    Attributes:
        layout: The layout.
        keep: (P,) bool keep-vector.
        masks: ``{parameter name: bool tensor of the parameter's shape}`` for every
            parameter with at least one pruned entry.
    """

    def __init__(self, layout: ParameterLayout, keep: Tensor) -> None:
        if keep.shape != (layout.n_params,) or keep.dtype != torch.bool:
            raise ValueError(f"keep must be a ({layout.n_params},) bool tensor.")
        self.layout = layout
        self.keep = keep.to(layout.device)
        self.masks: dict[str, Tensor] = {}
        self._params: dict[str, nn.Parameter] = dict(layout.named_parameters())
        for g in layout.groups:
            part = self.keep[g.slice]
            if not bool(part.all()):
                self.masks[g.name] = part.reshape(g.shape)
        self._handles: list = []

    # ------------------------------------------------------------ queries
    @property
    def n_pruned(self) -> int:
        """Number of pruned entries."""
        return int((~self.keep).sum())

    def sparsity(self) -> float:
        """Pruned fraction of ALL layout parameters."""
        return self.n_pruned / self.layout.n_params

    def dense_state_dict(self) -> dict[str, Tensor]:
        """The model's state dict with pruned entries zeroed (detached copies).

        Returns:
            ``{name: tensor}`` as ``model.state_dict()``.
        """
        state = {name: value.detach().clone() for name, value in self.layout.model.state_dict().items()}
        for name, mask in self.masks.items():
            state[name] = state[name] * mask.to(state[name].dtype)
        return state

    # ------------------------------------------------------------ actions
    @torch.no_grad()
    def apply_(self) -> None:
        """Zero the pruned entries in place."""
        for name, mask in self.masks.items():
            self._params[name].mul_(mask.to(self._params[name].dtype))

    def attach(self) -> None:
        """Apply the mask and keep it applied through training until :meth:`detach`."""
        if self._handles:
            return
        self.apply_()
        for name, mask in self.masks.items():
            param = self._params[name]
            self._handles.append(param.register_hook(self._gradient_hook(mask)))
        watched = {id(self._params[name]) for name in self.masks}

        def after_step(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
            if any(id(p) in watched for group in optimizer.param_groups for p in group["params"]):
                self.apply_()

        self._handles.append(register_optimizer_step_post_hook(after_step))

    def detach(self) -> None:
        """Remove the hooks (the pruned entries are zeroed a last time)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.apply_()

    @contextmanager
    def held(self) -> Iterator[PruningMask]:
        """Context manager: :meth:`attach` on entry, :meth:`detach` on exit."""
        self.attach()
        try:
            yield self
        finally:
            self.detach()

    @staticmethod
    def _gradient_hook(mask: Tensor):
        def hook(grad: Tensor) -> Tensor:
            return grad * mask.to(grad.dtype)
        return hook

    def __repr__(self) -> str:
        return f"PruningMask(n_pruned={self.n_pruned}, n_params={self.layout.n_params})"
