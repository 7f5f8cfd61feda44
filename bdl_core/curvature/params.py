"""Parameter selection and flat-vector layout for Laplace approximations.

A :class:`ParameterLayout` fixes WHICH parameters of a network the Laplace
approximation treats as random ("all" trainable ones, or only the last
``nn.Linear`` layer) and WHERE each of them lives in the flat parameter vector.
The order is exactly the order of ``torch.nn.utils.parameters_to_vector`` applied
to :meth:`ParameterLayout.parameters`, so every curvature matrix, prior and
posterior in ``bdl_core`` indexes parameters the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

SUBSETS = ("all", "last_layer")


@dataclass(frozen=True)
class ParameterGroup:
    """One parameter tensor inside the flat parameter vector.

    Attributes:
        name: Full name as in ``model.named_parameters()`` (e.g. ``"2.weight"``).
        module_name: Name of the owning module as in ``model.named_modules()``
            (``""`` for the root module).
        shape: Shape of the parameter tensor.
        offset: Start index of the flattened tensor in the (P,) vector.
        numel: Number of scalars, so the tensor occupies ``[offset, offset + numel)``.
        kind: ``"weight"``, ``"bias"`` or ``"other"`` (from the attribute name).
    """

    name: str
    module_name: str
    shape: torch.Size
    offset: int
    numel: int
    kind: str

    @property
    def slice(self) -> slice:
        """Slice of this tensor inside the (P,) parameter vector."""
        return slice(self.offset, self.offset + self.numel)


def _last_parametrised_module(model: nn.Module) -> tuple[str, nn.Module]:
    """The last module in ``model.named_modules()`` order that directly owns parameters."""
    found: tuple[str, nn.Module] | None = None
    for name, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)):
            found = (name, module)
    if found is None:
        raise ValueError("The model has no parameters.")
    return found


class ParameterLayout:
    """Selected parameters of ``model`` and their position in the flat (P,) vector.

    Args:
        model: The network. Its parameters are referenced, not copied, so the layout
            always sees the current values.
        subset: ``"all"``: every parameter with ``requires_grad``, in
            ``model.named_parameters()`` order. ``"last_layer"``: the parameters
            (with ``requires_grad``) of the last module in ``model.modules()`` order
            that directly owns parameters; that module must be an ``nn.Linear``.

    Attributes:
        model: The network.
        subset: The subset name.
        groups: One :class:`ParameterGroup` per selected tensor, in vector order.
        n_params: P, the total number of selected scalars.
    """

    def __init__(self, model: nn.Module, subset: str = "all") -> None:
        if subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}.")
        self.model = model
        self.subset = subset
        if subset == "all":
            module_of = {}
            for mod_name, module in model.named_modules():
                for p_name, _ in module.named_parameters(recurse=False):
                    full = f"{mod_name}.{p_name}" if mod_name else p_name
                    module_of.setdefault(full, (mod_name, p_name))
            selected = [
                (name, p, *module_of[name])
                for name, p in model.named_parameters()
                if p.requires_grad
            ]
        else:
            mod_name, module = _last_parametrised_module(model)
            if not isinstance(module, nn.Linear):
                raise ValueError(
                    "subset='last_layer' needs the last parametrised module to be an "
                    f"nn.Linear, got {type(module).__name__} ({mod_name!r})."
                )
            selected = [
                (f"{mod_name}.{p_name}" if mod_name else p_name, p, mod_name, p_name)
                for p_name, p in module.named_parameters(recurse=False)
                if p.requires_grad
            ]
        if not selected:
            raise ValueError(f"No trainable parameters selected by subset={subset!r}.")

        self._params: list[tuple[str, nn.Parameter]] = []
        self.groups: list[ParameterGroup] = []
        offset = 0
        for name, p, mod_name, p_name in selected:
            kind = p_name if p_name in ("weight", "bias") else "other"
            self.groups.append(
                ParameterGroup(name, mod_name, p.shape, offset, p.numel(), kind)
            )
            self._params.append((name, p))
            offset += p.numel()
        self.n_params: int = offset
        self._module_names = list(dict.fromkeys(g.module_name for g in self.groups))

    def parameters(self) -> list[nn.Parameter]:
        """The selected parameter tensors, in vector order."""
        return [p for _, p in self._params]

    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` pairs of the selected tensors, in vector order."""
        return list(self._params)

    def vector(self) -> Tensor:
        """Current values of the selected parameters as a detached (P,) tensor."""
        return nn.utils.parameters_to_vector(self.parameters()).detach()

    def modules(self) -> list[tuple[str, nn.Module]]:
        """``(name, module)`` of every module owning selected parameters, in vector order."""
        named = dict(self.model.named_modules())
        return [(name, named[name]) for name in self._module_names]

    def group(self, name: str) -> ParameterGroup:
        """The :class:`ParameterGroup` of the parameter called ``name``."""
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    @property
    def dtype(self) -> torch.dtype:
        """dtype of the selected parameters."""
        return self._params[0][1].dtype

    @property
    def device(self) -> torch.device:
        """Device of the selected parameters."""
        return self._params[0][1].device

    def __repr__(self) -> str:
        return (
            f"ParameterLayout(subset={self.subset!r}, n_params={self.n_params}, "
            f"groups={[g.name for g in self.groups]})"
        )
