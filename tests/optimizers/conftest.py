"""Fixtures of the optimizer tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def single_torch_thread() -> Iterator[None]:
    """Run each test with one intra-op thread (restored afterwards).

    The models here are tiny; on a busy 2-core machine a second OpenMP thread makes
    them 5-20x slower through contention, not faster.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
