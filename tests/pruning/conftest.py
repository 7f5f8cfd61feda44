"""Fixtures of the pruning tests: one torch thread per test, and the job-API fixtures of tests/jobs."""

from collections.abc import Iterator

import pytest
import torch

from tests.jobs.conftest import job_client, job_settings  # noqa: F401


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest single-threaded (and far faster on a busy shared machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
