"""``python -m benchmarks.laplace_calibration`` prints its table and writes the PNG.

A smoke test with tiny settings (5 training steps, 2 seeds); the numbers themselves are
checked by test_digits_calibration.py.
"""

from __future__ import annotations

import re

import pytest

from benchmarks import laplace_calibration


def test_benchmark_prints_rows_and_writes_the_plot(capsys, tmp_path):
    plot = tmp_path / "calibration.png"
    laplace_calibration.main(["--setups", "weight-decay", "--seeds", "2", "--steps", "5",
                              "--variants", "kron-last-layer/validation,kron-last-layer/marglik",
                              "--plot", str(plot)])
    out = capsys.readouterr().out
    for name in ("MAP", "kron-last-layer/validation", "kron-last-layer/marglik"):
        assert re.search(rf"^\| {re.escape(name)} \| \d+\.\d{{4}} ± \d+\.\d{{4}} \|", out, re.M), out
    assert re.search(r"kron-last-layer/validation \|.*\| [0-2] / 2 \|", out), out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_variants_are_refused():
    with pytest.raises(SystemExit):
        laplace_calibration.main(["--variants", "kron-everything/magic"])
