"""The README is a contract: its examples run verbatim against a served instance."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
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
        if words == ["--version"]:  # prints the version and exits 0
            with pytest.raises(SystemExit) as info:
                parser.parse_args(words)
            assert info.value.code == 0
            continue
        parser.parse_args(words)


def test_make_targets_named_in_readme_exist():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "clean", "distclean"):
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


def test_resume_example_runs_and_resumes(served, tmp_path):
    (code,) = fenced_blocks("Resume and parallel evaluation", "python")
    runs = [subprocess.run([sys.executable, "-c", _localise(code, served)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    first, second = (r.stdout.splitlines() for r in runs)
    assert "completed" in " ".join(first[:-1]) and "'layers'" in first[-1]  # callbacks, then the best trial
    assert second == [first[-1]]  # the second run finds 12 completed trials: nothing to evaluate
    study = httpx.get(f"http://{served}/v1/studies", params={"name": "mlp-tuning"}).json()["items"][0]
    assert study["trial_counts"]["completed"] == 12 and study["trial_counts"]["pending"] == 0


def test_export_example_runs(served, tmp_path):
    (resume,) = fenced_blocks("Resume and parallel evaluation", "python")
    (code,) = fenced_blocks("Export and import", "python")
    for block in (resume, code):  # the export example reads the study the resume example makes
        result = subprocess.run([sys.executable, "-c", _localise(block, served)], cwd=tmp_path, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    assert "params_lr" in result.stdout and "values_val_loss" in result.stdout
    assert len(json.loads((tmp_path / "mlp-tuning.json").read_text())["trials"]) >= 12


TESTED_BLOCKS = {("Python SDK", "python"), ("curl", "sh"),
                 # run in a fresh virtual environment by tests/workflow/test_client_distribution.py
                 ("Python SDK", "sh"),
                 ("Resume and parallel evaluation", "python"), ("Export and import", "python"), ("Command line", "sh"), ("Background jobs", "python"),
                 ("Interpretable additive models (LA-NAM)", "python"), ("Pruning (SpaM)", "python"),
                 ("Benchmarks", "sh"), ("Run and test", "sh"), ("Deployment (Docker Compose)", "sh"),
                 # run verbatim by tests/stopping/test_readme_early_stopping.py
                 ("Early stopping", "python"),
                 # run verbatim by tests/multiobjective/test_readme_examples.py
                 ("Multi-objective and constrained studies", "python"),
                 # run verbatim by test_conditional_example_runs above
                 ("Search spaces", "python"),
                 # needs a CUDA host and the PyTorch index, which these machines cannot reach
                 ("GPU hosts", "sh")}


def test_every_readme_code_block_is_covered_here():
    found = set()
    for section in re.split(r"^## ", README, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        for language in re.findall(r"^```(\w+)\n", section, flags=re.M):
            found.add((title, language))
    assert found <= TESTED_BLOCKS, found - TESTED_BLOCKS


def test_deployment_commands_name_real_files_and_cli_commands():
    """No Docker engine here: the compose files named must exist (tests/docker runs them as processes),
    the key file must be the one the bootstrap service writes, and every bdlopt command must parse."""
    import yaml

    (block,) = fenced_blocks("Deployment (Docker Compose)", "sh")
    parser = build_parser()
    bootstrap = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["bootstrap"]["command"]
    for line in block.strip().splitlines():
        words = shlex.split(line.split("#")[0])
        assert words[:2] == ["docker", "compose"], line
        for index, word in enumerate(words):
            if word == "-f":
                assert (ROOT / words[index + 1]).is_file(), line
        if "exec" in words and "bdlopt" in words:
            parser.parse_args(words[words.index("bdlopt") + 1:])
        if "cat" in words:
            assert words[-1] == bootstrap[bootstrap.index("--output") + 1]


def test_benchmark_commands_name_real_modules():
    (block,) = fenced_blocks("Benchmarks", "sh")
    import importlib.util

    for module in re.findall(r"-m (benchmarks\.\w+)", block):
        assert importlib.util.find_spec(module) is not None, module


def test_relative_links_name_files_and_anchors_that_exist():
    """Every relative link of the README (and of the docs it links) opens a file; an ``#anchor``
    into a markdown file names one of its headings (GitHub's slug: lower case, spaces to dashes)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve()
            assert linked.exists(), f"{page.name}: link to missing {target}"
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
                slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
                assert anchor in slugs, f"{page.name}: no heading '#{anchor}' in {path}"
