"""Packaging metadata: the SPDX license expression (PEP 639) with a build backend range that reads
it, and peers for benchmarks only in the ``bench`` extra."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_expression_and_setuptools_is_pinned_to_a_range_that_reads_it():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    (backend,) = [Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert not backend.specifier.contains(Version("76.1.0"))  # PEP 639 license strings need 77
    assert backend.specifier.contains(Version("77.0.3"))
    assert any(spec.operator == "<" for spec in backend.specifier)  # a range, not an open bound


def test_benchmark_peers_are_never_runtime_dependencies():
    runtime = {Requirement(r).name for r in PYPROJECT["project"]["dependencies"]}
    bench = {Requirement(r).name for r in PYPROJECT["project"]["optional-dependencies"]["bench"]}
    assert "optuna" in bench and not bench & runtime
