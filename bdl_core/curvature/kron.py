"""K-FAC: Kronecker-factored GGN / empirical Fisher for Linear and Conv2d layers.

Hand-written with forward hooks and ``torch.autograd.grad`` on the layer outputs
(no BackPACK / ASDL dependency). For a layer s = W a (+ b) the exact per-example
curvature contributions are ``(a a^T) (x) (g g^T)`` with g the backpropagated output
direction; K-FAC replaces the sum of Kronecker products by the Kronecker product of
sums: ``A = sum a a^T`` and ``G = sum g g^T / n_points``.

GGN: g runs over the C columns of the output-Hessian square root L_n
(L_n L_n^T = Lambda_n), i.e. C backward passes. Empirical Fisher: g is the
backpropagated NLL gradient (one backward pass).

Weight sharing (Eschenhagen et al. 2023): a Linear may see inputs (N, R, D) (R =
product of all middle dims; Conv2d: R = number of patch positions).

* ``kfac="expand"``: the N*R positions are the batch. A = sum_{n,r} a a^T,
  G = sum_{n,r,k} g g^T / (N R). Exact for deep linear networks when the loss has
  one term per position (outputs (N*R, C)).
* ``kfac="reduce"``: per example, inputs are averaged and output gradients summed
  over R, then A = sum_n abar abar^T, G = sum_{n,k} gsum gsum^T / N. Exact for deep
  linear networks whose output is reduced over R before the loss.

For (N, D) inputs both coincide with standard K-FAC, which is exact for a single
Linear layer with Gaussian likelihood.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bdl_core.likelihood import check_likelihood

from .kron_block import KronBlock
from .likelihoods import nll_gradient_outputs, output_hessian_sqrt
from .params import ParameterLayout

KFAC_TYPES = ("expand", "reduce")
FISHER_TYPES = ("ggn", "efisher")


def _check_kron_module(name: str, module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        if module.groups != 1:
            raise ValueError(f"K-FAC supports Conv2d with groups=1 only ({name!r}).")
        if isinstance(module.padding, str) and module.padding != "valid":
            raise ValueError(f"K-FAC needs numeric Conv2d padding, got {module.padding!r}.")
        if module.padding_mode != "zeros":
            raise ValueError(f"K-FAC supports padding_mode='zeros' only ({name!r}).")
    elif not isinstance(module, nn.Linear):
        raise ValueError(
            f"K-FAC supports nn.Linear and nn.Conv2d only; module {name!r} of type "
            f"{type(module).__name__} holds selected parameters (use a diagonal "
            "approximation for it)."
        )


def _positions(
    module: nn.Module, inp: Tensor, grad_out: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """Reshape a layer's input and output gradient to (N, R, d_in) and (N, R, d_out)."""
    if isinstance(module, nn.Conv2d):
        if inp.dim() != 4:
            raise ValueError("K-FAC needs batched (N, C, H, W) Conv2d inputs.")
        padding = 0 if module.padding == "valid" else module.padding
        patches = F.unfold(
            inp, module.kernel_size, dilation=module.dilation, padding=padding,
            stride=module.stride,
        )  # (N, C_in*kh*kw, R)
        a = patches.transpose(1, 2)
        g = None if grad_out is None else grad_out.flatten(2).transpose(1, 2)
        return a, g
    if inp.dim() < 2:
        raise ValueError("K-FAC needs batched (N, ..., D) Linear inputs.")
    a = inp.reshape(inp.shape[0], -1, inp.shape[-1])
    if grad_out is None:
        return a, None
    return a, grad_out.reshape(grad_out.shape[0], -1, grad_out.shape[-1])


class KronCurvature:
    """Accumulates K-FAC factors over mini-batches for the layout's Linear/Conv2d layers.

    Args:
        model: Network mapping (N, *in_shape) to (M, C) outputs; each of the M output
            rows is one likelihood term (M = N normally, M = N*R in the expand setting).
        layout: Selected parameters. Every module owning selected parameters must be an
            ``nn.Linear`` or ``nn.Conv2d`` (groups=1) whose weight is selected;
            otherwise ``ValueError``.
        likelihood: ``"regression"`` (unit noise) or ``"classification"``.
        kfac: ``"expand"`` or ``"reduce"`` (see module docstring).
        fisher: ``"ggn"`` (exact output-Hessian square root, C backward passes per batch)
            or ``"efisher"`` (per-example NLL gradients, one backward pass).
    """

    def __init__(
        self,
        model: nn.Module,
        layout: ParameterLayout,
        likelihood: str,
        kfac: str = "expand",
        fisher: str = "ggn",
    ) -> None:
        check_likelihood(likelihood)
        if kfac not in KFAC_TYPES:
            raise ValueError(f"kfac must be one of {KFAC_TYPES}, got {kfac!r}.")
        if fisher not in FISHER_TYPES:
            raise ValueError(f"fisher must be one of {FISHER_TYPES}, got {fisher!r}.")
        self.model, self.layout = model, layout
        self.likelihood, self.kfac, self.fisher = likelihood, kfac, fisher
        self._modules: list[tuple[str, nn.Module]] = []
        self._meta: dict[str, tuple[list[str], bool, int]] = {}
        for name, module in layout.modules():
            _check_kron_module(name, module)
            groups = [g for g in layout.groups if g.module_name == name]
            kinds = [g.kind for g in groups]
            if kinds not in (["weight"], ["weight", "bias"]):
                raise ValueError(
                    f"K-FAC needs the weight (and optionally the bias) of {name!r} "
                    f"selected, got {[g.name for g in groups]}."
                )
            if len(groups) == 2 and groups[1].offset != groups[0].offset + groups[0].numel:
                raise ValueError(f"Weight and bias of {name!r} are not adjacent in the layout.")
            self._modules.append((name, module))
            self._meta[name] = ([g.name for g in groups], len(groups) == 2, groups[0].offset)
        self.reset()

    def reset(self) -> None:
        """Drop all accumulated statistics."""
        self._A: dict[str, Tensor] = {}
        self._G: dict[str, Tensor] = {}
        self._count: dict[str, int] = {}
        self.n_data: int = 0

    def _output_directions(self, f: Tensor, y: Tensor) -> list[Tensor]:
        """(M, C) output cotangents to backpropagate: columns of L_n, or NLL gradients."""
        f = f.detach()
        if self.fisher == "efisher":
            return [nll_gradient_outputs(f, y, self.likelihood)]
        L = output_hessian_sqrt(f, self.likelihood)
        return [L[:, :, k] for k in range(f.shape[1])]

    def update(self, X: Tensor, y: Tensor) -> None:
        """Add one mini-batch to the factors.

        Args:
            X: (N, *in_shape) inputs.
            y: (M, C) regression targets or (M,) class indices (used by ``"efisher"``).
        """
        inputs: dict[str, Tensor] = {}
        outputs: dict[str, Tensor] = {}

        def make_hook(name: str):
            def hook(module: nn.Module, args: tuple, out: Tensor) -> None:
                if name in outputs:
                    raise ValueError(
                        f"K-FAC: module {name!r} is called more than once per forward pass."
                    )
                inputs[name] = args[0].detach()
                outputs[name] = out

            return hook

        handles = [m.register_forward_hook(make_hook(n)) for n, m in self._modules]
        try:
            with torch.enable_grad():
                f = self.model(X.detach())
        finally:
            for h in handles:
                h.remove()
        if f.dim() == 1:
            f = f.unsqueeze(-1)
        if f.dim() != 2:
            raise ValueError(f"K-FAC expects (M, C) model outputs, got {tuple(f.shape)}.")

        names = [n for n, _ in self._modules]
        missing = [n for n in names if n not in outputs]
        if missing:
            raise ValueError(f"K-FAC: modules {missing} were not called in the forward pass.")
        out_list = [outputs[n] for n in names]
        directions = self._output_directions(f, y)

        # Input factors (independent of the output direction).
        acts: dict[str, Tensor] = {}
        for name, module in self._modules:
            a, _ = _positions(module, inputs[name], None)
            if self._meta[name][1]:
                a = torch.cat([a, torch.ones_like(a[..., :1])], dim=-1)
            if self.kfac == "reduce":
                a_stat, count = a.mean(dim=1), a.shape[0]
            else:
                a_stat, count = a.reshape(-1, a.shape[-1]), a.shape[0] * a.shape[1]
            acts[name] = a_stat
            self._accumulate(self._A, name, a_stat.T @ a_stat)
            self._count[name] = self._count.get(name, 0) + count

        for i, direction in enumerate(directions):
            grads = torch.autograd.grad(
                f, out_list, grad_outputs=direction,
                retain_graph=i < len(directions) - 1, allow_unused=True,
            )
            for (name, module), out, g_out in zip(self._modules, out_list, grads):
                if g_out is None:
                    g_out = torch.zeros_like(out)
                _, g = _positions(module, inputs[name], g_out.detach())
                g_stat = g.sum(dim=1) if self.kfac == "reduce" else g.reshape(-1, g.shape[-1])
                self._accumulate(self._G, name, g_stat.T @ g_stat)
        self.n_data += X.shape[0]

    @staticmethod
    def _accumulate(store: dict[str, Tensor], name: str, value: Tensor) -> None:
        store[name] = value if name not in store else store[name] + value

    def blocks(self) -> list[KronBlock]:
        """The accumulated K-FAC blocks, one per layer in the layout's module order.

        Returns:
            List of :class:`KronBlock` with ``A`` summed over data points and ``G``
            divided by the number of data points (positions for expand, examples for
            reduce), so ``kron(A, G)`` approximates the summed curvature.
        """
        if not self._A:
            raise RuntimeError("KronCurvature.blocks() called before any update().")
        out = []
        for name, _ in self._modules:
            param_names, has_bias, offset = self._meta[name]
            out.append(
                KronBlock(
                    module_name=name,
                    param_names=list(param_names),
                    A=self._A[name].clone(),
                    G=self._G[name] / self._count[name],
                    has_bias=has_bias,
                    offset=offset,
                )
            )
        return out


def kron_ggn(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    likelihood: str,
    layout: ParameterLayout,
    kfac: str = "expand",
) -> list[KronBlock]:
    """K-FAC GGN blocks from a single batch (see :class:`KronCurvature`).

    Args:
        model: Network; X: (N, *in_shape) inputs; y: (M, C) targets or (M,) labels.
        likelihood: ``"regression"`` or ``"classification"``.
        layout: Selected parameters (Linear / Conv2d layers only).
        kfac: ``"expand"`` or ``"reduce"``.

    Returns:
        One :class:`KronBlock` per layer in the layout's module order.
    """
    curvature = KronCurvature(model, layout, likelihood, kfac=kfac, fisher="ggn")
    curvature.update(X, y)
    return curvature.blocks()
