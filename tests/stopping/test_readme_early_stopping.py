"""The README's early-stopping example runs verbatim against a served instance."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.docs.test_readme import DEFAULT_BASE, ROOT, fenced_blocks
from tests.live_server import live_server, port_is_free


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    port = 8107 if port_is_free(8107) else None
    database = tmp_path_factory.mktemp("readme_stopping") / "readme.db"
    # WARNING: live_server pipes the server's output without reading it; a request log per report would fill the pipe
    with live_server(f"sqlite:///{database}", port=port, extra_env={"BDLOPT_LOG_LEVEL": "WARNING"}) as base_url:
        yield base_url.removeprefix("http://")


def test_early_stopping_example_runs(served):
    (code,) = fenced_blocks("Early stopping", "python")
    result = subprocess.run([sys.executable, "-c", code.replace(DEFAULT_BASE, served)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "'early_stopped'" in result.stdout and "'error'" in result.stdout
