"""The README is a contract: its examples run verbatim against a served instance."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import build_parser
from service.config import Settings
from tests.live_server import live_server, port_is_free

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DEFAULT_BASE = "127.0.0.1:8000"


def fenced_blocks(section: str, language: str) -> list[str]:
    """Code blocks of ``language`` inside the README section headed ``## section``."""
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", README, flags=re.S | re.M)
    assert match, f"README has no section '{section}'"
    return re.findall(rf"```{language}\n(.*?)```", match.group(1), flags=re.S)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The server on 127.0.0.1:8000 as in the README (another port only if 8000 is taken)."""
    port = 8000 if port_is_free(8000) else None
    database = tmp_path_factory.mktemp("readme") / "readme.db"
    with live_server(f"sqlite:///{database}", port=port) as base_url:
        yield base_url.removeprefix("http://")


def _localise(code: str, base: str) -> str:
    return code.replace(DEFAULT_BASE, base)


def test_sdk_example_runs(served):
    (code,) = fenced_blocks("Python SDK", "python")
    result = subprocess.run([sys.executable, "-c", _localise(code, served)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "'x'" in result.stdout and "'loss'" in result.stdout


def test_conditional_example_runs(served):
    (code,) = fenced_blocks("Search spaces", "python")
    result = subprocess.run([sys.executable, "-c", _localise(code, served)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "enqueued: {'model': 'svm', 'C': 1.0, 'kernel': 'rbf', 'folds': 3}", lines
    held = [line for line in lines if line.startswith("held: ")]
    assert len(held) == 2 and all("'model': 'knn'" in line and "'C'" not in line for line in held), lines
    assert lines[-1].startswith("best: {'model': ") and "'cv_error'" in lines[-1]


def test_curl_example_runs(served):
    (code,) = fenced_blocks("curl", "sh")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", _localise(code, served)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"state":"completed"' in result.stdout.replace(" ", "")
    assert '"val_loss":0.42' in result.stdout.replace(" ", "")


def test_settings_table_matches_settings():
    (table,) = [block for block in README.split("## Settings")[1:2]]
    documented = set(re.findall(r"`(BDLOPT_[A-Z0-9_]+)`", table.split("\n## ")[0]))
    actual = {f"BDLOPT_{name.upper()}" for name in Settings.model_fields}
    assert documented == actual


def test_cli_commands_parse():
    (block,) = fenced_blocks("Command line", "sh")
    parser = build_parser()
    for line in block.strip().splitlines():
        command = line.split("#")[0].strip()
        words = [w for w in shlex.split(command) if not (w.startswith("[") or w.endswith("]"))][1:]
        parser.parse_args(words)


def test_make_targets_named_in_readme_exist():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, flags=re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_jobs_example_runs(served):
    (code,) = fenced_blocks("Background jobs", "python")
    result = subprocess.run([sys.executable, "-c", _localise(code, served)], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "mlp" in result.stdout  # the chosen candidate's name
    assert "%" in result.stderr  # the tqdm progress bar


@pytest.mark.parametrize("section", ["Interpretable additive models (LA-NAM)", "Pruning (SpaM)"])
def test_job_convenience_examples_run(served, section, tmp_path):
    (code,) = fenced_blocks(section, "python")
    result = subprocess.run([sys.executable, "-c", _localise(code, served)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "|" in result.stdout  # a markdown table was printed


TESTED_BLOCKS = {("Python SDK", "python"), ("curl", "sh"), ("Command line", "sh"), ("Background jobs", "python"),
                 ("Interpretable additive models (LA-NAM)", "python"), ("Pruning (SpaM)", "python"),
                 ("Benchmarks", "sh"), ("Run and test", "sh"),
                 # needs a CUDA host and the PyTorch index, which these machines cannot reach
                 ("GPU hosts", "sh")}


def test_every_readme_code_block_is_covered_here():
    found = set()
    for section in re.split(r"^## ", README, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        for language in re.findall(r"^```(\w+)\n", section, flags=re.M):
            found.add((title, language))
    assert found <= TESTED_BLOCKS, found - TESTED_BLOCKS


def test_benchmark_commands_name_real_modules():
    (block,) = fenced_blocks("Benchmarks", "sh")
    import importlib.util

    for module in re.findall(r"-m (benchmarks\.\w+)", block):
        assert importlib.util.find_spec(module) is not None, module
