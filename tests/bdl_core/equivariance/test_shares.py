"""``equivariant_share`` against brute force: the prior variance of a path's output unit is
sum_p (d f_unit / d theta_p)^2 / delta_p over that path's parameters (exact, the layer is linear in them)."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, jacrev

from bdl_core.curvature import ParameterLayout
from bdl_core.equivariance import TwoPathNetwork, layer_shares, path_precisions

DTYPE = torch.float64


def _brute_force_variance(network: TwoPathNetwork, index: int, path: str, x: torch.Tensor, delta: dict) -> float:
    layer = network.layers[index]
    inputs = network.layer_inputs(x)[index].detach()
    module = getattr(layer, path)
    params = dict(module.named_parameters())

    def out(p):
        return functional_call(module, p, (inputs if path == "conv" else inputs.flatten(1),))

    jac = jacrev(out)(params)
    total = sum(jac[name].pow(2).flatten(start_dim=out(params).dim()).sum(-1) / delta[name] for name in params)
    return float(total.mean().detach())


def test_shares_match_the_brute_force_prior_variances() -> None:
    torch.manual_seed(0)
    network = TwoPathNetwork((2, 4, 5), 3, channels=(3, 2), kernel_size=3).to(DTYPE)
    x = torch.randn(6, 40, dtype=DTYPE)
    layout = ParameterLayout(network)
    values = torch.linspace(0.5, 4.0, len(layout.groups), dtype=DTYPE)
    precisions = path_precisions(layout, values)
    assert set(precisions) == {(0, "conv"), (0, "dense"), (1, "conv"), (1, "dense")}
    assert precisions[(1, "dense")]["bias"] == pytest.approx(float(values[7]))  # layout order: conv w,b, dense w,b
    for share in layer_shares(network, x, precisions):
        variances = {path: _brute_force_variance(network, share.index, path, x, precisions[(share.index, path)])
                     for path in ("conv", "dense")}
        assert share.conv_variance == pytest.approx(variances["conv"], rel=1e-10)
        assert share.dense_variance == pytest.approx(variances["dense"], rel=1e-10)
        assert share.equivariant_share == pytest.approx(variances["conv"] / sum(variances.values()), rel=1e-10)


def test_single_path_networks_have_share_one_or_zero() -> None:
    x = torch.randn(5, 16, dtype=DTYPE)
    for paths, expected in ((("conv",), 1.0), (("dense",), 0.0)):
        network = TwoPathNetwork((1, 4, 4), 2, channels=(2,), paths=paths).to(DTYPE)
        precisions = path_precisions(ParameterLayout(network), torch.tensor(2.0, dtype=DTYPE))
        (share,) = layer_shares(network, x, precisions)
        assert share.equivariant_share == expected and share.output_share == expected
