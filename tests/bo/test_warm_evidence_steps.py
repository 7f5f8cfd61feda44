"""Warm LLA fits on many points take fewer function-space evidence steps (each is O(n^3))."""

from __future__ import annotations

import pytest
import torch

import bdl_core.bo.lla_fit as lla_fit
from bdl_core.bo import LLAConfig
from bdl_core.bo.config import WARM_MIN_EVIDENCE_STEPS, WARM_MIN_MAP_STEPS
from bdl_core.bo.input_encoding import InputEncoder


def test_steps_keep_the_time_per_fit_of_the_threshold():
    config = LLAConfig(warm_final_marglik_steps=25, warm_marglik_full_n=400)
    assert [config.warm_evidence_steps(n) for n in (1, 200, 400)] == [25, 25, 25]
    for n in (500, 600, 800, 1000, 4000):
        expected = max(WARM_MIN_EVIDENCE_STEPS, round(25 * (400 / n) ** 3))
        assert config.warm_evidence_steps(n) == min(25, expected)
    steps = [config.warm_evidence_steps(n) for n in range(300, 3000, 50)]
    assert steps == sorted(steps, reverse=True) and steps[-1] == WARM_MIN_EVIDENCE_STEPS


@pytest.mark.parametrize("n, full_n, warm_steps", [(24, 100, 12), (24, 12, 3)])
def test_the_warm_fit_uses_them(monkeypatch, n, full_n, warm_steps):
    config = LLAConfig(width=8, depth=1, epochs=40, warm_epochs=5, final_marglik_steps=2,
                       warm_final_marglik_steps=12, warm_marglik_full_n=full_n)
    calls: list[int] = []
    original = lla_fit.function_space_update

    def spy(*args):
        calls.append(args[-1])
        return original(*args)

    monkeypatch.setattr(lla_fit, "function_space_update", spy)
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    y = torch.sin(3 * X).sum(-1)
    encoder = InputEncoder(2)
    cold = lla_fit.fit_lla_model(X[:-2], y[:-2], encoder, config)
    calls.clear()
    lla_fit.fit_lla_model(X, y, encoder, config, warm=cold)
    assert calls == [config.warm_evidence_steps(n)] == [warm_steps]


def test_warm_map_steps_keep_the_time_per_fit_of_the_threshold():
    config = LLAConfig(warm_epochs=200, warm_marglik_full_n=400)
    assert [config.warm_map_steps(n) for n in (1, 399, 400)] == [200, 200, 200]
    assert [config.warm_map_steps(n) for n in (500, 800, 1000)] == [160, 100, 80]
    assert config.warm_map_steps(100_000) == WARM_MIN_MAP_STEPS
    assert LLAConfig(warm_epochs=10, warm_marglik_full_n=400).warm_map_steps(4000) == 10  # never above warm_epochs
