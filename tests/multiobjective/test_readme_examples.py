"""The README's multi-objective and constrained examples run verbatim against a served instance."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.docs.test_readme import ROOT, _localise, fenced_blocks
from tests.live_server import live_server

SECTION = "Multi-objective and constrained studies"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    database = tmp_path_factory.mktemp("readme-mo") / "readme.db"
    with live_server(f"sqlite:///{database}") as base_url:
        yield base_url.removeprefix("http://")


def _run(code: str, served: str) -> str:
    result = subprocess.run([sys.executable, "-c", _localise(code, served)], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_multi_objective_example_prints_a_front(served) -> None:
    code, _ = fenced_blocks(SECTION, "python")
    out = _run(code, served)
    count = int(out.split()[0])
    assert count >= 1 and "trials on the front" in out and "'error'" in out and "'cost'" in out


def test_constrained_example_respects_both_constraints(served) -> None:
    _, code = fenced_blocks(SECTION, "python")
    params_text, values_text = _run(code, served).strip().split("} {")
    params, values = ast.literal_eval(params_text + "}"), ast.literal_eval("{" + values_text)
    assert params["lr"] + 0.1 * params["layers"] <= 1.2 + 1e-9
    assert values["latency"] <= 0.5
