"""Dense references for the LLA's function-space tests (float64): Jacobians by autodiff and the
per-parameter prior variances that turn them into the tangent kernel ``J diag(v) J^T``."""

from __future__ import annotations

import torch
from torch.func import functional_call, jacrev


def autodiff_jacobian(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(q m, P) Jacobian of the flattened outputs (points outer, outputs inner) by autodiff."""
    params = {k: v.detach() for k, v in net.named_parameters()}
    jac = jacrev(lambda p: functional_call(net, p, (x,)).reshape(-1))(params)
    return torch.cat([jac[k].reshape(jac[k].shape[0], -1) for k in params], dim=1)


def per_parameter(net: torch.nn.Module, variances: torch.Tensor) -> torch.Tensor:
    """(P,) the prior variance of every parameter from one variance per parameter tensor."""
    sizes = [p.numel() for p in net.parameters()]
    return torch.cat([torch.full((s,), float(v), dtype=torch.float64) for s, v in zip(sizes, variances.detach())])
