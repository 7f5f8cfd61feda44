"""Held-out metrics reported in job results: the definitions of ``bdl_core.calibration``.

Means over test points, natural logarithms, ECE with 15 equal-width, right-closed confidence
bins. Re-exported under the names the job kinds use, so job results and the core's benchmarks
share one definition.
"""

from __future__ import annotations

from bdl_core.calibration import accuracy, auroc, expected_calibration_error, rmse
from bdl_core.calibration import gaussian_negative_log_likelihood as gaussian_nll
from bdl_core.calibration import negative_log_likelihood as categorical_nll

__all__ = ["accuracy", "auroc", "categorical_nll", "expected_calibration_error", "gaussian_nll", "rmse"]
