"""Train/test splits, declared model specs and the networks built from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from service.datasets.table import Table
from service.jobs.data import make_splits
from service.jobs.model_specs import parse_model_spec
from service.jobs.networks import build_network
from service.errors import InvalidInputError


def _table() -> Table:
    # columns: a numeric, colour categorical (levels blue, red), label integer target
    values = np.array([[1.5, 0, 3], [2.0, 1, 5], [3.0, 0, 3], [4.0, 1, 5], [5.0, 0, 7]])
    return Table(columns=["a", "colour", "label"], values=values, categories={"colour": ["blue", "red"]})


def test_classification_splits_one_hot_standardise_and_index_classes() -> None:
    splits = make_splits(_table(), "label", "classification", test_fraction=0.4, seed=0, dtype=torch.float64,
                         device="cpu")
    assert splits.feature_names == ["a", "colour=blue", "colour=red"]
    assert splits.classes == ["3", "5", "7"] and splits.n_outputs == 3
    assert splits.x_train.shape == (3, 3) and splits.x_test.shape == (2, 3)
    assert splits.y_train.dtype == torch.long
    torch.testing.assert_close(splits.x_train.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    # every row is recovered exactly from the standardisation that was recorded
    raw = torch.cat([splits.x_train, splits.x_test]) * torch.tensor(splits.x_std) + torch.tensor(splits.x_mean)
    assert sorted(raw[:, 0].tolist()) == pytest.approx([1.5, 2, 3, 4, 5])
    assert torch.all((raw[:, 1] + raw[:, 2]).round() == 1)
    labels = sorted(torch.cat([splits.y_train, splits.y_test]).tolist())
    assert labels == [0, 0, 1, 1, 2]


def test_regression_targets_are_standardised_with_training_statistics() -> None:
    splits = make_splits(_table(), "a", "regression", test_fraction=0.2, seed=1, dtype=torch.float64, device="cpu")
    assert splits.classes is None and splits.y_train.shape == (4, 1) and splits.y_test.shape == (1, 1)
    restored = splits.y_train[:, 0] * splits.y_std + splits.y_mean
    assert splits.y_mean == pytest.approx(float(restored.mean()))
    assert float(splits.y_train.mean()) == pytest.approx(0.0, abs=1e-12)


def test_classification_refuses_a_fractional_target() -> None:
    with pytest.raises(ValueError, match="integer-valued"):
        make_splits(_table(), "a", "classification", test_fraction=0.2, seed=0, dtype=torch.float32, device="cpu")


def test_model_specs_default_and_name_the_bad_field() -> None:
    assert parse_model_spec(None).hidden == [50, 50]
    assert parse_model_spec({"kind": "cnn"}).channels == [16, 32]
    with pytest.raises(InvalidInputError) as error:
        parse_model_spec({"kind": "mlp", "hidden": [0]})
    assert error.value.field == "model.hidden"
    with pytest.raises(InvalidInputError) as error:
        parse_model_spec({"kind": "transformer"})
    assert error.value.field == "model.kind" and "mlp, cnn" in error.value.message
    with pytest.raises(InvalidInputError) as error:
        parse_model_spec({"kind": "mlp", "layers": 3})
    assert error.value.field == "model.layers" and "unknown field" in error.value.message


def test_networks_map_flat_inputs_to_outputs_in_the_requested_dtype() -> None:
    mlp = build_network(parse_model_spec({"hidden": [7, 5], "activation": "tanh"}), 4, 3, dtype=torch.float64, seed=0)
    assert [m.out_features for m in mlp if isinstance(m, torch.nn.Linear)] == [7, 5, 3]
    assert mlp(torch.randn(6, 4, dtype=torch.float64)).shape == (6, 3)
    cnn = build_network(parse_model_spec({"kind": "cnn", "channels": [4], "hidden": [8]}), 64, 10, seed=0)
    assert isinstance(cnn[1], torch.nn.Conv2d) and cnn(torch.randn(2, 64)).shape == (2, 10)
    shaped = build_network(parse_model_spec({"kind": "cnn", "image_shape": [3, 4, 4]}), 48, 2)
    assert shaped(torch.randn(5, 48)).shape == (5, 2)
    with pytest.raises(ValueError, match="square image"):
        build_network(parse_model_spec({"kind": "cnn"}), 10, 2)


def test_seeded_networks_are_reproducible() -> None:
    spec = parse_model_spec({"hidden": [5]})
    first, second = build_network(spec, 3, 2, seed=4), build_network(spec, 3, 2, seed=4)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_results_are_made_json_safe() -> None:
    from service.jobs.runner import json_safe

    value = {"a": float("nan"), "b": [np.float32(1.5), torch.tensor([1.0, float("inf")])], 3: (np.int64(2),)}
    assert json_safe(value) == {"a": None, "b": [1.5, [1.0, None]], "3": [2]}


def test_map_training_minimises_the_negative_log_joint_of_a_linear_model() -> None:
    """Ridge regression: the MAP of a linear network is (X^T X + lambda I)^-1 X^T y in closed form."""
    from types import SimpleNamespace

    from service.jobs.data import DataSplits
    from service.jobs.map_training import train_map

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, dtype=torch.float64, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + 0.1 * torch.randn(40, 1, generator=generator,
                                                                                         dtype=torch.float64)
    data = DataSplits(x_train=x, y_train=y, x_test=x[:2], y_test=y[:2], feature_names=["a", "b", "c"], classes=None,
                      x_mean=[0.0] * 3, x_std=[1.0] * 3)
    network = torch.nn.Linear(3, 1, bias=False).double()
    reports = []
    context = SimpleNamespace(task="regression", config=SimpleNamespace(seed=0),
                              progress=lambda fraction, *args, **kwargs: reports.append(fraction))
    prior_precision = 5.0
    train_map(context, network, data, epochs=3000, lr=0.05, batch_size=40, prior_precision=prior_precision)
    # full batch: minimise 1/2 mean (f - y)^2 + lambda / (2 N) |w|^2  <=>  (X^T X + lambda I) w = X^T y
    expected = torch.linalg.solve(x.T @ x + prior_precision * torch.eye(3, dtype=torch.float64), x.T @ y)
    torch.testing.assert_close(network.weight.detach().T, expected, atol=1e-5, rtol=0)
    assert reports[-1] == 1.0 and len(reports) == 3000
