"""``python -m benchmarks.laplace_core`` runs and prints one table row per structure.

A smoke test with tiny settings (the benchmark itself is never timed in the suite); it
also checks that the speed-up column uses a reference measured in the run when given.
"""

from __future__ import annotations

import re

import pytest

from benchmarks import laplace_core


def test_benchmark_prints_a_row_per_structure(capsys):
    laplace_core.main(["--structures", "kron", "diag", "--repeats", "1", "--map-steps", "2", "--threads", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(r"\| (kron|diag) \| all \| 19210 \| 1797 ", line)]
    assert len(rows) == 2, out
    assert "stored 0.3 numbers" in out


def test_speed_up_uses_the_reference_measured_in_the_run():
    row = {"structure": "kron", "subset": "all", "P": 1, "N": 1, "fit": (0.5, 0.5), "tune": (0.25, 0.25),
           "predict": (0.1, 0.1), "memory_mib": 1.0, "working_set_mib": 1.0}
    measured = {("kron", "all"): {"fit": 1.0, "tune": 1.0, "predict": 1.0}}
    assert "2.00x / 4.00x / 10.00x" in laplace_core.render_row(row, measured)
    stored = laplace_core.render_row(row)
    assert f"{0.09 / 0.5:.2f}x" in stored
