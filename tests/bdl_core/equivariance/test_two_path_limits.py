"""The two-path layer nests its two paths: an infinite prior precision on one path gives the other.

The model is one :class:`TwoPathConv2d` with Gaussian outputs, so it is linear in its parameters
and the Laplace approximation is exact: the MAP is a ridge regression and the evidence is the
Bayesian linear-regression marginal likelihood. "Equals" is checked in float64 for both:

* the MAP function of the two-path model with the free (dense) path's precision -> infinity is the
  MAP function of a plain ``nn.Conv2d`` with the same conv precisions (and the dense path's MAP
  weights go to zero); the other way round it is a plain ``nn.Linear`` on the flattened image;
* the Laplace log marginal likelihood (``bdl_core.laplace.Laplace``, full GGN) converges to the
  closed-form evidence of the single-path model, with a gap that shrinks like 1/precision.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from bdl_core.equivariance import TwoPathConv2d, zero_path_
from bdl_core.laplace import Laplace

DTYPE = torch.float64
SHAPE = (1, 4, 4)
SIGMA = 0.5


class Folded(nn.Module):
    """Flat (N, 16) rows -> layer on (N, 1, 4, 4) images -> flat (N, 16) outputs."""

    def __init__(self, layer: nn.Module, image: bool = True) -> None:
        super().__init__()
        self.layer, self.image = layer, image

    def forward(self, x):
        h = x.view(x.shape[0], *SHAPE) if self.image else x
        return self.layer(h).flatten(1)


def _data(seed: int = 0, n: int = 12):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g, dtype=DTYPE)
    # targets from a smooth (convolution-like) map plus noise
    y = torch.roll(x, 1, dims=1) - 0.5 * x + SIGMA * torch.randn(n, 16, generator=g, dtype=DTYPE)
    return x, y


def _features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N*16, P) Jacobian of the (linear-in-parameters) model's outputs, rows per output unit."""
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for _, p in model.named_parameters()])

    def f(vector):
        params, offset = {}, 0
        for name, shape in zip(names, shapes):
            params[name] = vector[offset:offset + math.prod(shape)].view(shape)
            offset += math.prod(shape)
        return functional_call(model, params, (x,))

    return jacrev(f)(theta).reshape(-1, theta.numel())


def _map_and_evidence(model: nn.Module, x, y, precision_per_param: torch.Tensor):
    """Closed-form ridge MAP (loaded into ``model``) and exact log evidence of the linear model."""
    phi = _features(model, x)
    precision = phi.T @ phi / SIGMA**2 + torch.diag(precision_per_param)
    theta = torch.linalg.solve(precision, phi.T @ y.reshape(-1) / SIGMA**2)
    nn.utils.vector_to_parameters(theta, model.parameters())
    covariance = SIGMA**2 * torch.eye(phi.shape[0], dtype=DTYPE) + phi @ torch.diag(1 / precision_per_param) @ phi.T
    evidence = torch.distributions.MultivariateNormal(torch.zeros(phi.shape[0], dtype=DTYPE), covariance)
    return theta, float(evidence.log_prob(y.reshape(-1)))


def _per_param(model: nn.Module, values: list[float]) -> torch.Tensor:
    return torch.cat([torch.full((p.numel(),), v, dtype=DTYPE) for p, v in zip(model.parameters(), values)])


def _two_path() -> Folded:
    torch.manual_seed(0)
    return Folded(TwoPathConv2d(1, 1, (4, 4), kernel_size=3)).to(DTYPE)


def _laplace_evidence(model: nn.Module, x, y, values: list[float]) -> float:
    la = Laplace(model, "regression", structure="full", prior="layerwise",
                 prior_precision=torch.tensor(values, dtype=DTYPE), sigma_noise=SIGMA).fit(x, y)
    with torch.no_grad():
        return float(la.log_marginal_likelihood())


KEPT = {"conv": [2.0, 0.5], "dense": [3.0, 0.7]}  # weight, bias precisions of the surviving path


@pytest.mark.parametrize("kept", ["conv", "dense"])
def test_an_infinite_precision_on_one_path_gives_the_other_path_alone(kept: str) -> None:
    x, y = _data()
    x_test, _ = _data(seed=1)
    if kept == "conv":
        single = Folded(nn.Conv2d(1, 1, 3, padding=1)).to(DTYPE)
    else:
        single = Folded(nn.Linear(16, 16), image=False).to(DTYPE)
    _, single_evidence = _map_and_evidence(single, x, y, _per_param(single, KEPT[kept]))
    assert _laplace_evidence(single, x, y, KEPT[kept]) == pytest.approx(single_evidence, abs=1e-8)

    evidence_gaps, function_gaps = [], []
    for huge in (1e4, 1e6, 1e8, 1e10, 1e12):
        model = _two_path()
        values = KEPT["conv"] + [huge, huge] if kept == "conv" else [huge, huge] + KEPT["dense"]
        _, evidence = _map_and_evidence(model, x, y, _per_param(model, values))
        laplace = _laplace_evidence(model, x, y, values)
        assert laplace == pytest.approx(evidence, abs=1e-6)  # the Laplace evidence is exact here
        evidence_gaps.append(abs(laplace - single_evidence))
        with torch.no_grad():
            function_gaps.append(float((model(x_test) - single(x_test)).abs().max()))
    removed = getattr(model.layer, "dense" if kept == "conv" else "conv")
    assert max(float(p.detach().abs().max()) for p in removed.parameters()) < 1e-9
    # both gaps vanish like 1 / precision (a factor ~100 per step of 100 in the precision)
    for gaps in (evidence_gaps, function_gaps):
        assert gaps[-1] < 1e-8 and all(later < earlier / 30 for earlier, later in zip(gaps, gaps[1:])), gaps


def test_a_zeroed_path_leaves_exactly_the_other_layer() -> None:
    layer = TwoPathConv2d(2, 3, (5, 6), kernel_size=3).to(DTYPE)
    x = torch.randn(4, 2, 5, 6, dtype=DTYPE)
    conv = nn.Conv2d(2, 3, 3, padding=1).to(DTYPE)
    conv.load_state_dict(layer.conv.state_dict())
    zero_path_(layer, "dense")
    assert torch.equal(layer(x), conv(x))


def test_layer_shapes_and_bad_arguments() -> None:
    layer = TwoPathConv2d(2, 3, (5, 6), kernel_size=5, paths=("dense",))
    assert layer.conv is None and layer(torch.randn(4, 2, 5, 6)).shape == (4, 3, 5, 6)
    for bad in (dict(kernel_size=2), dict(paths=()), dict(paths=("conv", "conv")), dict(paths=("rot",))):
        with pytest.raises(ValueError):
            TwoPathConv2d(2, 3, (5, 6), **{"kernel_size": 3, **bad})
