"""Building qLogNEHVI never starts BoTorch's run-time C++ build (a compiler inside a suggest)."""

from __future__ import annotations

import torch.utils.cpp_extension as cpp_extension
from botorch.acquisition.multi_objective import logei as multi_objective_logei

import service.optimizers.constrained_acquisition  # noqa: F401  (sets the sentinel on import)


def test_the_fused_kernel_is_never_compiled(monkeypatch):
    builds: list[tuple] = []
    monkeypatch.setattr(cpp_extension, "load", lambda *args, **kwargs: builds.append(args))
    multi_objective_logei._try_load_fused_kernel()
    assert builds == []
