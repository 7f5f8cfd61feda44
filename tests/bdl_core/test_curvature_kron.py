"""K-FAC blocks: exactness cases (single layer, deep linear expand/reduce), conv, EF, accumulation.

Reference GGNs come from a brute-force ``torch.autograd.functional.jacobian`` of the
WHOLE model output (every output row is one data point) w.r.t. the flat parameters.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.curvature import KronCurvature, ParameterLayout, full_efisher, full_ggn, kron_ggn

DT = torch.float64


def brute_ggn_regression(model: nn.Module, X: torch.Tensor, layout: ParameterLayout) -> torch.Tensor:
    """sum over output rows of J^T J (unit-noise Gaussian), J from autograd on all outputs."""
    theta = layout.vector()

    def outputs(t: torch.Tensor) -> torch.Tensor:
        params = {g.name: t[g.slice].reshape(g.shape) for g in layout.groups}
        return torch.func.functional_call(model, params, (X,)).reshape(-1)

    J = torch.autograd.functional.jacobian(outputs, theta)
    return J.T @ J


def block_of(H: torch.Tensor, block) -> torch.Tensor:
    s = slice(block.offset, block.offset + block.n_params)
    return H[s, s]


class PositionwiseDeepLinear(nn.Module):
    """Linear -> Linear -> Linear on (N, R, D); output (N*R, C) (expand) or mean over R (reduce)."""

    def __init__(self, d: int, c: int, reduce: bool) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(d, 4), nn.Linear(4, 3, bias=False), nn.Linear(3, c))
        self.reduce = reduce

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return out.mean(dim=1) if self.reduce else out.reshape(-1, out.shape[-1])


def deep_linear(reduce: bool) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = PositionwiseDeepLinear(d=3, c=2, reduce=reduce).to(DT)
    X = torch.randn(5, 4, 3, dtype=DT)  # N=5, R=4, D=3
    return model, X


@pytest.mark.parametrize("bias", [True, False])
def test_single_linear_regression_kfac_is_exact(bias: bool) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3, bias=bias)).to(DT)
    X, y = torch.randn(7, 4, dtype=DT), torch.randn(7, 3, dtype=DT)
    layout = ParameterLayout(model)
    H = full_ggn(model, X, y, "regression", layout)
    for kfac in ("expand", "reduce"):
        (block,) = kron_ggn(model, X, y, "regression", layout, kfac=kfac)
        assert block.has_bias == bias and block.A.shape == (4 + bias, 4 + bias)
        assert block.param_names == (["0.weight", "0.bias"] if bias else ["0.weight"])
        torch.testing.assert_close(block.to_dense(), H)


def test_single_sample_classification_kfac_is_exact() -> None:
    """With N = 1 sum-of-Kronecker = Kronecker-of-sums, so every layer block is exact."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).to(DT)
    X, y = torch.randn(1, 3, dtype=DT), torch.tensor([2])
    layout = ParameterLayout(model)
    H = full_ggn(model, X, y, "classification", layout)
    EF = full_efisher(model, X, y, "classification", layout)
    ef_curv = KronCurvature(model, layout, "classification", fisher="efisher")
    ef_curv.update(X, y)
    for block, ef_block in zip(kron_ggn(model, X, y, "classification", layout), ef_curv.blocks()):
        torch.testing.assert_close(block.to_dense(), block_of(H, block))
        torch.testing.assert_close(ef_block.to_dense(), block_of(EF, ef_block))


def test_expand_is_exact_for_deep_linear_network_in_expand_setting() -> None:
    model, X = deep_linear(reduce=False)
    layout = ParameterLayout(model)
    y = torch.randn(5 * 4, 2, dtype=DT)
    H = brute_ggn_regression(model, X, layout)
    blocks = kron_ggn(model, X, y, "regression", layout, kfac="expand")
    assert [b.module_name for b in blocks] == ["layers.0", "layers.1", "layers.2"]
    for block in blocks:
        torch.testing.assert_close(block.to_dense(), block_of(H, block))


def test_reduce_is_exact_and_expand_is_not_in_reduce_setting() -> None:
    model, X = deep_linear(reduce=True)
    layout = ParameterLayout(model)
    y = torch.randn(5, 2, dtype=DT)
    H = brute_ggn_regression(model, X, layout)
    torch.testing.assert_close(full_ggn(model, X, y, "regression", layout), H)
    reduce_blocks = kron_ggn(model, X, y, "regression", layout, kfac="reduce")
    expand_blocks = kron_ggn(model, X, y, "regression", layout, kfac="expand")
    for block in reduce_blocks:
        torch.testing.assert_close(block.to_dense(), block_of(H, block))
    exact = block_of(H, expand_blocks[0])
    rel_err = (expand_blocks[0].to_dense() - exact).norm() / exact.norm()
    assert rel_err > 0.1


def test_single_conv_layer_expand_is_exact_per_position() -> None:
    """One Conv2d whose every output position is a data point: K-FAC-expand is exact."""
    torch.manual_seed(3)
    conv = nn.Conv2d(2, 3, kernel_size=2, stride=1, padding=1).to(DT)

    class PerPosition(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = conv

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.conv(x)  # (N, 3, H', W')
            return out.permute(0, 2, 3, 1).reshape(-1, out.shape[1])

    model = PerPosition()
    X = torch.randn(3, 2, 3, 3, dtype=DT)
    layout = ParameterLayout(model)
    (block,) = kron_ggn(model, X, torch.zeros(3 * 16, 3, dtype=DT), "regression", layout, kfac="expand")
    assert block.A.shape == (2 * 2 * 2 + 1, 2 * 2 * 2 + 1) and block.G.shape == (3, 3)
    torch.testing.assert_close(block.to_dense(), brute_ggn_regression(model, X, layout))


@pytest.mark.parametrize("kfac", ["expand", "reduce"])
def test_conv_network_blocks_have_right_shapes_and_are_psd(kfac: str) -> None:
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 2, stride=2, bias=False),
        nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5),
    ).to(DT)
    X, y = torch.randn(6, 2, 8, 8, dtype=DT), torch.randint(0, 5, (6,))
    layout = ParameterLayout(model)
    blocks = kron_ggn(model, X, y, "classification", layout, kfac=kfac)
    shapes = [(b.A.shape[0], b.G.shape[0], b.has_bias) for b in blocks]
    assert shapes == [(2 * 9 + 1, 3, True), (3 * 4, 4, False), (65, 5, True)]
    assert sum(b.n_params for b in blocks) == layout.n_params
    assert [b.offset for b in blocks] == [0, 57, 105]
    for b in blocks:
        dense = b.to_dense()
        torch.testing.assert_close(dense, dense.T)
        assert torch.linalg.eigvalsh(dense).min() > -1e-10
        assert dense.diagonal().max() > 0


def test_permutation_maps_kron_eigenvectors_to_vector_order() -> None:
    model, X = deep_linear(reduce=True)
    block = kron_ggn(model, X, torch.zeros(5, 2, dtype=DT), "regression", ParameterLayout(model))[0]
    perm = block.permutation()
    assert sorted(perm.tolist()) == list(range(block.n_params))
    # Weight (4, 3) entry [i, j] sits at vector index i*3 + j and kron index j*4 + i; bias i at 12 + i.
    assert perm[1 * 3 + 2].item() == 2 * 4 + 1 and perm[12 + 3].item() == 3 * 4 + 3
    evals_a, vecs_a = torch.linalg.eigh(block.A)
    evals_g, vecs_g = torch.linalg.eigh(block.G)
    v_kron = torch.kron(vecs_a[:, -1], vecs_g[:, -1])
    lam = evals_a[-1] * evals_g[-1]
    torch.testing.assert_close(block.to_dense() @ v_kron[perm], lam * v_kron[perm])


def test_minibatch_accumulation_equals_single_batch() -> None:
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).to(DT)
    X, y = torch.randn(8, 3, dtype=DT), torch.randint(0, 3, (8,))
    layout = ParameterLayout(model)
    whole = kron_ggn(model, X, y, "classification", layout)
    curv = KronCurvature(model, layout, "classification")
    curv.update(X[:3], y[:3])
    curv.update(X[3:], y[3:])
    assert curv.n_data == 8
    for a, b in zip(whole, curv.blocks()):
        torch.testing.assert_close(a.A, b.A)
        torch.testing.assert_close(a.G, b.G)


def test_last_layer_kron_and_unsupported_layers() -> None:
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)).to(DT)
    X, y = torch.randn(4, 3, dtype=DT), torch.randn(4, 2, dtype=DT)
    last = ParameterLayout(model, "last_layer")
    (block,) = kron_ggn(model, X, y, "regression", last)
    assert block.offset == 0 and block.module_name == "2"
    with pytest.raises(ValueError, match="LayerNorm"):
        KronCurvature(model, ParameterLayout(model), "regression")
    with pytest.raises(ValueError):
        KronCurvature(model, last, "regression", kfac="mean")
    with pytest.raises(RuntimeError):
        KronCurvature(model, last, "regression").blocks()
