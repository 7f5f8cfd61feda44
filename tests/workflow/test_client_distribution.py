"""The SDK installs alone: a fresh virtual environment gets only the client distribution (the README's
command), holds no server dependency afterwards, and runs the README's SDK example against a server."""

from __future__ import annotations

import subprocess
import sys
import venv

import pytest

from tests.docs.test_readme import fenced_blocks
from tests.live_server import ROOT, live_server

SERVER_ONLY = ("torch", "botorch", "gpytorch", "sqlalchemy", "celery", "fastapi", "alembic", "service")


@pytest.mark.slow
def test_client_distribution_installs_alone_and_runs_the_readme_example(tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = str(environment / "bin" / "python")
    (install_block,) = fenced_blocks("Python SDK", "sh")
    install = install_block.splitlines()[0].split("#")[0].split()  # pip install ./clients/python
    assert install[:2] == ["pip", "install"]
    result = subprocess.run([python, "-m", *install, "--quiet"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    probe = ("import importlib.util as u, bdlopt_client; "
             f"print([m for m in {SERVER_ONLY!r} if u.find_spec(m)], bdlopt_client.__version__)")
    found = subprocess.run([python, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["[]", "0.1.0"], found.stdout
    (example,) = fenced_blocks("Python SDK", "python")
    with live_server(f"sqlite:///{tmp_path / 'server.db'}") as base_url:
        run = subprocess.run([python, "-c", example.replace("127.0.0.1:8000", base_url.removeprefix("http://"))],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "'x'" in run.stdout and "'loss'" in run.stdout
