"""Numeric ranges shared by the float and int kinds: bounds, log scale, step grids.

Encoding of a range into ``[0, 1]``:

* a float without ``step``: ``u = (x - low) / (high - low)`` (of ``log x`` when ``log``);
* a grid of ``K + 1`` values ``low + k * step`` (an int, step 1 unless given, or a float with a
  ``step``): value ``k`` owns the cell ``[k / (K+1), (k+1) / (K+1)]`` and is encoded at its
  centre, so a uniform ``u`` gives every value equal probability;
* an int with ``log``: the widened interval ``[low - 0.5, high + 0.5]`` in log space, integer
  ``n`` owning ``[n - 0.5, n + 0.5]`` and encoded at the image of ``n``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from pydantic import ValidationInfo, field_validator
from torch import Tensor

from service.space.param_base import ParamBase, reject_bool

# Beyond 2**53 steps a float64 grid can no longer hold every value exactly.
MAX_GRID_STEPS = 2.0**53
GRID_TOLERANCE = 1e-9


def _is_number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def tidy(x: float) -> float:
    """15 significant digits hide last-bit noise of the affine/log map (1e-3, not 0.0010000000000000002)."""
    return float(f"{x:.15g}")


class RangeParam(ParamBase):
    """``low < high``, no booleans, ``log`` needs ``low > 0``, ``step`` excludes ``log`` and divides ``high - low``."""

    integral: ClassVar[bool] = False
    can_be_parent: ClassVar[bool] = False

    @field_validator("low", "high", "step", mode="before", check_fields=False)
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        return reject_bool(value)

    @field_validator("low", "high", check_fields=False)
    @classmethod
    def _finite(cls, value: float, info: ValidationInfo) -> float:
        if not math.isfinite(value):
            raise ValueError(f"{info.field_name} must be finite")
        return value

    @field_validator("high", check_fields=False)
    @classmethod
    def _high_above_low(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and not value > low:
            raise ValueError("high must be greater than low (a single value is `type: \"fixed\"`)")
        return value

    @field_validator("log", check_fields=False)
    @classmethod
    def _log_needs_positive_low(cls, value: bool, info: ValidationInfo) -> bool:
        low = info.data.get("low")
        if value and low is not None and not low > 0:
            raise ValueError("log=True needs low > 0")
        return value

    @field_validator("step", check_fields=False)
    @classmethod
    def _step(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return value
        if not (math.isfinite(value) and value > 0):
            raise ValueError("step must be a positive finite number")
        if info.data.get("log"):
            raise ValueError("step cannot be combined with log=True")
        low, high = info.data.get("low"), info.data.get("high")
        if low is not None and high is not None:
            k = (high - low) / value
            if not (math.isfinite(k) and k <= MAX_GRID_STEPS):
                raise ValueError(f"step ({value}) is too small for high - low ({high - low}): at most 2**53 steps")
            if abs(k - round(k)) > GRID_TOLERANCE * max(1.0, abs(k)):
                raise ValueError(f"high - low ({high - low}) must be a multiple of step ({value})")
        return value


    # ------------------------------------------------------------------ scale
    @property
    def column(self) -> str:
        return "grid" if self.is_grid else "continuous"

    @property
    def is_grid(self) -> bool:
        """Whether the values are finitely many (ints, stepped floats)."""
        return self.integral or self.step is not None

    @property
    def grid_step(self) -> float:
        return float(self.step) if self.step is not None else 1.0

    @property
    def n_values(self) -> int:
        """Number of values of a grid (``K + 1``)."""
        return int(round((self.high - self.low) / self.grid_step)) + 1

    def _log_int(self) -> bool:
        return self.integral and bool(self.log)

    def _log_scale(self) -> tuple[float, float]:
        lo, hi = float(self.low), float(self.high)
        if self.integral:
            lo, hi = lo - 0.5, hi + 0.5
        return math.log(lo), math.log(hi)

    def grid_value(self, k: int) -> Any:
        """The ``k``-th value of a grid (``0 <= k < n_values``), without building the grid."""
        if self.integral:
            return int(self.low + k * int(self.grid_step))
        return min(tidy(self.low + k * self.grid_step), float(self.high))

    def grid_values(self) -> list:
        """All values of a grid, ascending (only for small grids: ``n_values`` entries)."""
        return [self.grid_value(k) for k in range(self.n_values)]

    def grid_encodings(self, dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> Tensor:
        """Encodings of ``grid_values()``, shape ``(n_values,)``, ascending."""
        if self._log_int():
            lo, hi = self._log_scale()
            values = torch.arange(self.low, self.high + 1, dtype=torch.float64)
            return ((values.log() - lo) / (hi - lo)).to(dtype=dtype, device=device)
        n = self.n_values
        return ((torch.arange(n, dtype=torch.float64) + 0.5) / n).to(dtype=dtype, device=device)

    # ------------------------------------------------------------------ codec
    def encode_value(self, value: Any) -> float:
        if not _is_number(value):
            kind = "an integer" if self.integral else "a number"
            raise ValueError(f"must be {kind}, got {type(value).__name__} {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"must be finite, got {value!r}")
        if self.integral and not number.is_integer():
            raise ValueError(f"must be an integer, got {value!r}")
        if not (self.low <= number <= self.high):
            raise ValueError(f"{value!r} is out of bounds [{self.low}, {self.high}]")
        if self._log_int() or (self.log and not self.is_grid):
            lo, hi = self._log_scale()
            return min(max((math.log(number) - lo) / (hi - lo), 0.0), 1.0)
        if not self.is_grid:
            return (number - self.low) / (self.high - self.low)
        k = (number - self.low) / self.grid_step
        if abs(k - round(k)) > GRID_TOLERANCE * max(1.0, abs(k)):
            raise ValueError(f"{value!r} is not on the grid {self.low} + k * {self.grid_step:g}")
        return (round(k) + 0.5) / self.n_values

    def canonical_value(self, value: Any) -> Any:
        return int(round(value)) if self.integral else value

    def decode_value(self, u: float) -> Any:
        if math.isnan(u):
            raise ValueError("cannot decode NaN")
        u = min(max(u, 0.0), 1.0)
        if self._log_int() or (self.log and not self.is_grid):
            lo, hi = self._log_scale()
            x = math.exp(lo + u * (hi - lo))
            if self.integral:
                return int(min(max(math.floor(x + 0.5), self.low), self.high))
            return float(min(max(tidy(x), self.low), self.high))
        if not self.is_grid:
            return float(min(max(tidy(self.low + u * (self.high - self.low)), self.low), self.high))
        k = min(int(math.floor(u * self.n_values)), self.n_values - 1)
        return self.grid_value(k)

    def snap(self, column: Tensor) -> Tensor:
        col = column.to(torch.float64).clamp(0.0, 1.0)
        if not self.is_grid:
            return col.to(column.dtype)
        if self._log_int():
            lo, hi = self._log_scale()
            value = (lo + col * (hi - lo)).exp()
            n = torch.floor(value + 0.5).clamp(float(self.low), float(self.high))
            return ((n.log() - lo) / (hi - lo)).clamp(0.0, 1.0).to(column.dtype)
        n = float(self.n_values)  # a float: an int range may exceed what a tensor int holds
        k = torch.floor(col * n).clamp(0.0, n - 1.0)
        return ((k + 0.5) / n).to(column.dtype)
